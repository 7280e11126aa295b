//! A day that cannot run: the export is missing. Its page says so.

use leganto_tests::support::RUN_DATE;
use serde_json::json;

use super::support::{assert_succeeded, entered, post_text, run, s3_keys, start_stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_export_fails_the_run_and_slack_names_the_pull() {
    let stack = start_stack().await;
    // Another day's export is there; the run date's is not.
    stack
        .put_export("leganto_export_20261127.csv", b"not today's\r\n")
        .unwrap();

    let (execution, visits) = run(
        &stack,
        &format!("day-{RUN_DATE}-missing"),
        json!({"run_date": RUN_DATE}),
    )
    .await;

    assert_eq!(execution.status, "FAILED");
    assert_eq!(execution.error.as_deref(), Some("SourceFileMissing"));
    let cause = execution.cause.unwrap_or_default();
    assert!(cause.contains("leganto_export_20261128"), "{cause}");
    let names = entered(&visits);
    assert!(names.contains("Failed: Pull the CEM export"));
    assert!(names.contains("Notify Slack of the failure"));
    // The day's lease, taken by the plan, is given back on the way to the Fail.
    assert!(names.contains("Release the run date after the failure"));
    for never in [
        "Transform the export",
        "Push to Alma SFTP",
        "E-mail the report",
    ] {
        assert!(!names.contains(never), "{never} ran");
    }
    let pull = visits
        .iter()
        .find(|v| v.name == "Pull the CEM export")
        .unwrap();
    assert!(
        pull.failure
            .as_deref()
            .unwrap_or_default()
            .starts_with("SourceFileMissing"),
        "{pull:?}"
    );

    let posts = stack.slack.posts();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let text = post_text(&posts[0]);
    assert!(text.contains("Pull the CEM export"), "{text}");
    assert!(text.contains("SourceFileMissing"), "{text}");

    assert!(stack.alma_files().unwrap().is_empty());
    assert!(stack.moto.sent_emails().await.unwrap().is_empty());
    // Slack links to the day page, which the release wrote for the failed run too.
    assert!(
        text.contains("prefix=reports/2026/11/28/index.html|The day page>"),
        "{text}"
    );
    let keys: Vec<String> = s3_keys(&stack).await.into_iter().collect();
    assert_eq!(
        keys,
        [
            "reports/2026/11/28/figures.json",
            "reports/2026/11/28/index.html"
        ],
        "no lease or anything else is left"
    );
    let page =
        String::from_utf8(stack.s3_get("reports/2026/11/28/index.html").await.unwrap()).unwrap();
    assert!(page.contains("id=\"status\">Failed<"), "{page}");
    assert!(page.contains("<strong>SourceFileMissing</strong> in “Pull the CEM export”"));
}

/// S3 fails the push receipt's write on every try of one Push invocation (the SDK's three
/// attempts), once: the state machine retries Push, which finds its own recorded name and
/// the file already up, so Alma gets one file and loads it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_receipt_write_retried_by_the_state_machine_leaves_one_file() {
    let stack = start_stack().await;
    let date = chrono::NaiveDate::parse_from_str(RUN_DATE, "%Y-%m-%d").unwrap();
    stack.put_sample_export(date).unwrap();
    stack.host.faults.fail_next(
        axum::http::Method::PUT,
        "/alma/2026/11/28/pushed.json",
        SDK_ATTEMPTS,
    );

    let (execution, visits) = run(
        &stack,
        &format!("day-{RUN_DATE}-receipt"),
        json!({"run_date": RUN_DATE}),
    )
    .await;

    assert_succeeded(&execution);
    assert_eq!(
        stack.host.faults.pending(),
        0,
        "every planted failure was met"
    );
    let push = visits
        .iter()
        .find(|v| v.name == "Push to Alma SFTP")
        .unwrap();
    assert!(
        push.failure
            .as_deref()
            .unwrap_or_default()
            .starts_with("StoreUnavailable"),
        "the first Push failed on its receipt: {push:?}"
    );
    let files = stack.alma_files().unwrap();
    assert_eq!(files.len(), 1, "one file, not two: {files:?}");
    let out = execution.output.unwrap();
    assert_eq!(out["push"]["file_name"], files[0].as_str());
    assert_eq!(out["push"]["already_there"], true, "{}", out["push"]);
    let runs = stack.alma.job_instances();
    assert_eq!(runs.len(), 1, "Alma ran once: {runs:#?}");
    assert_eq!(runs[0].file_name, files[0]);
    assert_eq!(out["alma_job"]["done"], true, "{}", out["alma_job"]);
}

/// The AWS SDK's attempts per call in its standard retry mode.
const SDK_ATTEMPTS: u32 = 3;
