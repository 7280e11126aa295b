//! A day whose Transform and rollover report run out of time: each answers `"more": true`,
//! the state machine runs it again, and the day ends with the files a single invocation
//! makes, no Alma question asked twice before the push nor twice after it (Alma changes when
//! it loads the day, so the report does not take the transform's answers).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use leganto_shared::error::error_chain;
use leganto_tests::stack::{Stack, StackOptions};
use leganto_tests::support::RUN_DATE;
use leganto_tests::template::template_path;
use serde_json::json;

use super::support::{assert_succeeded, run, write_template};
use crate::read_sample;

/// An invocation this long stops asking after about 4 s.
const SHORT_TIMEOUT_SECONDS: u32 = 5;

/// `template.yaml` with `functions`' Timeout cut to [`SHORT_TIMEOUT_SECONDS`], written into
/// `dir` beside a copy of the state machine definition it names.
fn template_with_short_timeouts(dir: &std::path::Path, functions: &[&str]) -> std::path::PathBuf {
    let text = std::fs::read_to_string(template_path()).unwrap();
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    for function in functions {
        let start = lines
            .iter()
            .position(|l| l.trim_end() == format!("  {function}:"))
            .unwrap_or_else(|| panic!("{function} is not in the template"));
        let timeout = lines[start..]
            .iter()
            .position(|l| l.trim_start().starts_with("Timeout: "))
            .map(|i| start + i)
            .unwrap_or_else(|| panic!("{function} has no Timeout"));
        lines[timeout] = format!("      Timeout: {SHORT_TIMEOUT_SECONDS}\n");
    }
    write_template(dir, &lines.concat())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_day_whose_alma_bound_steps_run_out_of_time_resumes_them_and_makes_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let template =
        template_with_short_timeouts(dir.path(), &["TransformFunction", "RolloverReportFunction"]);
    let stack = match Stack::start(StackOptions {
        template,
        // Slow enough that the sample day's questions outlast a short invocation.
        alma_rate: 3,
        ..StackOptions::default()
    })
    .await
    {
        Ok(stack) => stack,
        Err(e) => panic!("the local stack did not start: {}", error_chain(&e)),
    };
    let date = NaiveDate::parse_from_str(RUN_DATE, "%Y-%m-%d").unwrap();
    stack.put_sample_export(date).unwrap();

    // The simulator's clock against the wall's, to place its calls in the history.
    let (wall, sim_ms) = (chrono::Utc::now(), stack.alma.now_ms());
    let (execution, visits) = run(&stack, "resume-day", json!({"run_date": RUN_DATE})).await;
    assert_succeeded(&execution);
    let runs = |state: &str| visits.iter().filter(|v| v.name == state).count();
    assert!(runs("Transform the export") >= 2, "{visits:#?}");
    assert!(runs("Build the rollover report") >= 2, "{visits:#?}");
    assert!(visits.iter().all(|v| v.failure.is_none()), "{visits:#?}");

    // The day's files are the sample day's exact ones.
    let out = execution.output.clone().unwrap();
    let loader = out["push"]["file_name"].as_str().unwrap();
    assert_eq!(stack.alma_files().unwrap(), vec![loader.to_string()]);
    let pushed = std::fs::read(stack.alma_dir().join(loader)).unwrap();
    assert!(pushed == read_sample("expected_alma.txt"));
    let report_key = out["report"]["report_key"].as_str().unwrap();
    let report = stack.s3_get(report_key).await.unwrap();
    assert!(report == read_sample("expected_rollover.txt"));
    assert!(
        out["transform"].get("more").is_none(),
        "{}",
        out["transform"]
    );
    assert!(out["report"].get("more").is_none(), "{}", out["report"]);

    // Every reading-list count and course page Alma answered was asked for once before the
    // push, and once after it.
    let push = visits
        .iter()
        .find(|v| v.name == "Push to Alma SFTP")
        .expect("the day was pushed");
    let push_ms = sim_ms + (push.entered - wall).num_milliseconds() as u64;
    let mut asked: BTreeMap<(bool, String), usize> = BTreeMap::new();
    for call in stack.alma.calls() {
        let question = call.path.ends_with("/reading-lists")
            || (call.path.ends_with("/courses") && call.query.contains("q="));
        if call.method == "GET" && question && call.status == 200 {
            *asked
                .entry((
                    call.at_ms >= push_ms,
                    format!("{}?{}", call.path, call.query),
                ))
                .or_default() += 1;
        }
    }
    assert!(asked.keys().any(|(after, _)| !after));
    assert!(asked.keys().any(|(after, _)| *after));
    let twice: Vec<_> = asked
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(q, _)| q)
        .collect();
    assert!(twice.is_empty(), "asked twice: {twice:?}");
}
