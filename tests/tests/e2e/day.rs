//! A normal day from the CEM export to Alma, the report e-mail and Slack; then a rerun from
//! the rollover report for the same day.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use leganto_tests::stack::{Stack, EMAIL_FROM, EMAIL_TO};
use leganto_tests::support::RUN_DATE;
use mail_parser::MimeHeaders as _;
use serde_json::json;

use super::support::{assert_succeeded, entered, post_text, run, s3_keys, start_stack};
use crate::read_sample;

/// `(code, section, operation)` of each row of the sample's expected loader file.
fn expected_rows() -> Vec<(String, String, String)> {
    let text = String::from_utf8(read_sample("expected_alma.txt")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .trim_end_matches('\r')
        .split('\t')
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (code, section, op) = (col("Course Code"), col("Section ID"), col("Operation"));
    lines
        .map(|l| l.trim_end_matches('\r').split('\t').collect::<Vec<_>>())
        .map(|f| {
            (
                f[code].to_string(),
                f[section].to_string(),
                f[op].to_string(),
            )
        })
        .collect()
}

fn course_keys(stack: &Stack) -> BTreeSet<(String, String)> {
    stack
        .alma
        .courses()
        .into_iter()
        .map(|c| (c.code, c.section))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_normal_day_loads_alma_mails_the_report_and_a_rerun_of_the_report_pushes_nothing() {
    let stack = start_stack().await;
    let before = course_keys(&stack);
    let date = NaiveDate::parse_from_str(RUN_DATE, "%Y-%m-%d").unwrap();
    let export = stack.put_sample_export(date).unwrap();

    let (execution, visits) = run(
        &stack,
        &format!("day-{RUN_DATE}"),
        json!({"run_date": RUN_DATE}),
    )
    .await;
    assert_succeeded(&execution);
    let out = execution.output.clone().unwrap();
    for state in [
        "Plan the run",
        "Pull the CEM export",
        "Transform the export",
        "Push to Alma SFTP",
        "Check the course loader job",
        "Cache Alma courses for the year",
        "Build the rollover report",
        "E-mail the report",
        "Post the summary to Slack",
    ] {
        assert!(entered(&visits).contains(state), "{state} never ran");
    }
    assert!(visits.iter().all(|v| v.failure.is_none()), "{visits:#?}");

    // The loader file: made by Transform, in S3, pushed to Alma's SFTP byte for byte under
    // the time of its upload (never before the transform's own stamp).
    let loader = out["push"]["file_name"].as_str().unwrap().to_string();
    let made = out["transform"]["loader_file_name"].as_str().unwrap();
    assert!(loader.as_str() >= made, "{loader} is stamped before {made}");
    assert_eq!(loader.len(), "20261128092514.txt".len(), "{loader}");
    let loader_key = out["transform"]["loader_key"].as_str().unwrap().to_string();
    assert_eq!(out["push"]["loader_key"], loader_key.as_str());
    assert_eq!(out["push"]["already_there"], false);
    assert_eq!(stack.alma_files().unwrap(), vec![loader.clone()]);
    let pushed = std::fs::read(stack.alma_dir().join(&loader)).unwrap();
    assert_eq!(pushed, stack.s3_get(&loader_key).await.unwrap());
    let expected = read_sample("expected_alma.txt");
    assert!(
        pushed == expected,
        "the pushed loader file differs from expected_alma.txt"
    );

    // Alma loaded exactly that file, and now holds what it says.
    let runs = stack.alma.job_instances();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].file_name, loader);
    assert_eq!(out["alma_job"]["done"], true, "{}", out["alma_job"]);
    assert_eq!(out["alma_job"]["job_instance_id"], runs[0].id.as_str());
    assert!(
        out["alma_job"]["status"]
            .as_str()
            .unwrap()
            .starts_with("COMPLETED"),
        "{}",
        out["alma_job"]
    );
    let after = course_keys(&stack);
    let rows = expected_rows();
    let created: Vec<_> = rows
        .iter()
        .filter(|(c, s, op)| op.is_empty() && !before.contains(&(c.clone(), s.clone())))
        .collect();
    let deleted: Vec<_> = rows
        .iter()
        .filter(|(c, s, op)| op == "DELETE" && before.contains(&(c.clone(), s.clone())))
        .collect();
    assert!(!created.is_empty() && !deleted.is_empty());
    for (code, section, _) in &created {
        assert!(
            after.contains(&(code.clone(), section.clone())),
            "{code} {section} not created"
        );
    }
    for (code, section, _) in &deleted {
        assert!(
            !after.contains(&(code.clone(), section.clone())),
            "{code} {section} not deleted"
        );
    }
    assert_eq!(runs[0].counters.created, created.len() as u64);
    assert_eq!(runs[0].counters.deleted, deleted.len() as u64);
    // Every DELETE names the section Alma holds (course-loading §4), the cross-listed
    // 2026FallC-X-CHM441-39917 included: Alma's job reports no row in error.
    assert!(deleted
        .iter()
        .any(|(code, _, _)| code == "2026FallC-X-CHM441-39917"));
    assert_eq!(runs[0].counters.errors, 0, "{:#?}", runs[0].row_errors);
    assert!(runs[0].row_errors.is_empty(), "{:#?}", runs[0].row_errors);

    // Every key of the day's S3 layout.
    let keys = s3_keys(&stack).await;
    let report_key = out["report"]["report_key"].as_str().unwrap().to_string();
    let mut wanted = vec![
        format!("cem/2026/11/28/{export}"),
        loader_key.clone(),
        "reports/2026/11/28/run-summary.json".to_string(),
        "reports/2026/11/28/rejects.csv".to_string(),
        report_key.clone(),
        // The push receipt, and the name and bytes the push chose before its upload; the
        // day's lease was given back when the run ended.
        "alma/2026/11/28/pushed.json".to_string(),
        "alma/2026/11/28/pushing.json".to_string(),
        // The day page and the figures it was drawn from, written as the run ended.
        "reports/2026/11/28/index.html".to_string(),
        "reports/2026/11/28/figures.json".to_string(),
        // The day's course rows, which became the baseline of delta loads once Alma
        // loaded the day.
        "reports/2026/11/28/course-rows.tsv.gz".to_string(),
        "state/baseline.json".to_string(),
        "state/baseline-course-rows.tsv.gz".to_string(),
    ];
    let years = out["transform"]["years_needed"].as_array().unwrap().clone();
    assert!(!years.is_empty());
    assert_eq!(out["caches"].as_array().unwrap().len(), years.len());
    for year in &years {
        wanted.push(format!("cache/2026/11/28/courses-{year}.json"));
        // What Alma answered, saved as learned: each year's pages after the push.
        wanted.push(format!(
            "cache/2026/11/28/answers/after-push/pages-{year}.json"
        ));
    }
    // The delete checks before the push, the report's checks after it.
    wanted.push("cache/2026/11/28/answers/before-push/reading-lists.json".to_string());
    wanted.push("cache/2026/11/28/answers/after-push/reading-lists.json".to_string());
    // The transform's pages (of the years its delete guard needs) are not counted here.
    let keys: BTreeSet<String> = keys
        .into_iter()
        .filter(|k| !k.starts_with("cache/2026/11/28/answers/before-push/pages-"))
        .collect();
    assert!(
        report_key.starts_with("reports/2026/11/28/rollover_"),
        "{report_key}"
    );
    assert!(loader_key.starts_with("alma/2026/11/28/"), "{loader_key}");
    for key in &wanted {
        assert!(keys.contains(key), "{key} missing from {keys:#?}");
    }
    assert_eq!(keys.len(), wanted.len(), "unexpected keys: {keys:#?}");

    // The report e-mail, with the report attached.
    let emails = stack.moto.sent_emails().await.unwrap();
    assert_eq!(emails.len(), 1);
    let report_name = out["report"]["report_file_name"].as_str().unwrap();
    check_report_email(&emails[0], report_name);

    // The Slack summary.
    let posts = stack.slack.posts();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let text = post_text(&posts[0]);
    assert!(text.contains(&loader), "{text}");
    assert!(!text.contains("failed"), "{text}");

    // A rerun of the report for the same day: no pull, transform or push; a new report,
    // mailed and posted again.
    let (rerun, visits) = run(
        &stack,
        &format!("rerun-{RUN_DATE}-rollover_report"),
        json!({"run_date": RUN_DATE, "start_at": "rollover_report"}),
    )
    .await;
    assert_succeeded(&rerun);
    let names = entered(&visits);
    for skipped in [
        "Pull the CEM export",
        "Transform the export",
        "Push to Alma SFTP",
    ] {
        assert!(!names.contains(skipped), "{skipped} ran in the rerun");
    }
    assert!(names.contains("Build the rollover report"));
    assert_eq!(stack.alma_files().unwrap(), vec![loader.clone()]);
    assert_eq!(
        stack.alma.job_instances().len(),
        1,
        "Alma loaded a second file"
    );
    let rerun_out = rerun.output.unwrap();
    assert_eq!(
        rerun_out["push"]["file_name"],
        loader.as_str(),
        "recalled push"
    );
    assert_eq!(stack.moto.sent_emails().await.unwrap().len(), 2);
    assert_eq!(stack.slack.posts().len(), 2);
}

fn check_report_email(email: &leganto_tests::moto::RawMessage, report_name: &str) {
    // moto appends the MIME To/Cc addresses to the API's destinations: each comes twice.
    let mut to: Vec<&str> = email.destinations.iter().map(String::as_str).collect();
    to.sort();
    to.dedup();
    assert_eq!(to, EMAIL_TO.to_vec());
    let message = mail_parser::MessageParser::default()
        .parse(email.raw_data.as_bytes())
        .unwrap();
    let from = message
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address());
    assert_eq!(from, Some(EMAIL_FROM));
    let attachments: Vec<(String, usize)> = message
        .attachments()
        .map(|a| {
            (
                a.attachment_name().unwrap_or_default().to_string(),
                a.contents().len(),
            )
        })
        .collect();
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    assert_eq!(attachments[0].0, report_name);
    assert!(attachments[0].1 > 0);
    let subject = message.subject().unwrap_or_default();
    assert!(subject.contains("2026"), "{subject}");
}
