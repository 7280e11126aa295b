//! IAM bites: the stack deploys the template's own policies, so a permission taken out of
//! a copy of the template fails the run with AccessDenied, as AWS would.

use leganto_shared::error::error_chain;
use leganto_tests::stack::{Stack, StackOptions};
use leganto_tests::support::RUN_DATE;
use leganto_tests::template::template_path;
use serde_json::json;

use super::support::{run, write_template};

/// `template.yaml` with `action` taken out of `function`'s policies (the text between the
/// function's logical id and the next resource), written into `dir` beside a copy of the
/// state machine definition it names.
fn template_without(dir: &std::path::Path, function: &str, action: &str) -> std::path::PathBuf {
    template_changed(dir, function, |block| {
        // A list keeps its other actions; a lone action becomes one that grants nothing here.
        block
            .replace(&format!("{action}, "), "")
            .replace(&format!(", {action}"), "")
            .replace(
                &format!("Action: {action}\n"),
                "Action: s3:GetObjectTagging\n",
            )
    })
}

/// `template.yaml` with `change` applied to `function`'s block, written into `dir`.
fn template_changed(
    dir: &std::path::Path,
    function: &str,
    change: impl Fn(&str) -> String,
) -> std::path::PathBuf {
    let text = std::fs::read_to_string(template_path()).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let is_resource = |line: &str| {
        line.starts_with("  ") && line[2..].starts_with(|c: char| c.is_ascii_uppercase())
    };
    let start = lines
        .iter()
        .position(|l| l.trim_end() == format!("  {function}:"))
        .unwrap_or_else(|| panic!("{function} is not in the template"));
    let end = lines[start + 1..]
        .iter()
        .position(|l| is_resource(l))
        .map_or(lines.len(), |i| start + 1 + i);
    let block = lines[start..end].concat();
    let changed = change(&block);
    assert_ne!(changed, block, "{function}: nothing changed");
    let copy = format!(
        "{}{changed}{}",
        lines[..start].concat(),
        lines[end..].concat()
    );
    write_template(dir, &copy)
}

async fn start(template: std::path::PathBuf) -> Stack {
    match Stack::start(StackOptions {
        template,
        ..StackOptions::default()
    })
    .await
    {
        Ok(stack) => stack,
        Err(e) => panic!("the local stack did not start: {}", error_chain(&e)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_permission_taken_from_the_template_fails_the_run_with_access_denied() {
    let dir = tempfile::tempdir().unwrap();
    let template = template_without(dir.path(), "TransformFunction", "s3:GetObject");
    let stack = start(template).await;
    stack.put_sample_export(RUN_DATE.parse().unwrap()).unwrap();

    let (execution, visits) = run(
        &stack,
        &format!("day-{RUN_DATE}-no-get-object"),
        json!({"run_date": RUN_DATE}),
    )
    .await;

    assert_eq!(execution.status, "FAILED");
    let transform = visits
        .iter()
        .find(|v| v.name == "Transform the export")
        .expect("the transform ran");
    let failure = transform.failure.clone().unwrap_or_default();
    assert!(failure.contains("AccessDenied"), "{failure}");
    assert!(failure.contains("s3:GetObject"), "{failure}");
    assert!(
        stack.alma_files().unwrap().is_empty(),
        "nothing reached Alma"
    );
}

/// Transform may list config/ only so that S3 tells it "no rules object" (404) rather than
/// AccessDenied (403): without that grant a stack with no pushed rules cannot run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_listing_config_a_missing_rules_object_is_access_denied_not_the_shipped_rules() {
    let dir = tempfile::tempdir().unwrap();
    let template = template_changed(dir.path(), "TransformFunction", |block| {
        block.replace(", config/*]", "]")
    });
    let stack = start(template).await;
    stack.put_sample_export(RUN_DATE.parse().unwrap()).unwrap();

    let (execution, visits) = run(
        &stack,
        &format!("day-{RUN_DATE}-no-config-listing"),
        json!({"run_date": RUN_DATE}),
    )
    .await;

    assert_eq!(execution.status, "FAILED");
    let transform = visits
        .iter()
        .find(|v| v.name == "Transform the export")
        .expect("the transform ran");
    let failure = transform.failure.clone().unwrap_or_default();
    assert!(failure.contains("AccessDenied"), "{failure}");
    assert!(failure.contains("config/rules.toml"), "{failure}");
    assert!(
        stack.alma_files().unwrap().is_empty(),
        "nothing reached Alma"
    );
}
