//! One execution per day at a time, and one load per day: a second execution started while
//! the first runs stops with `RunInProgress` and leaves the first alone; reruns that would
//! push the day again stop at their plan and change nothing of it.

use std::time::Duration;

use chrono::NaiveDate;
use leganto_tests::stack::StackOptions;
use leganto_tests::support::RUN_DATE;
use serde_json::json;

use super::support::{assert_succeeded, entered, post_text, run, s3_keys, EXECUTION_LIMIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_executions_for_one_day_run_one_and_reruns_of_a_loaded_day_change_nothing() {
    // A slow loader keeps the first execution in its wait while the second starts.
    let stack = match leganto_tests::stack::Stack::start(StackOptions {
        loader_delay: Duration::from_secs(6),
        ..StackOptions::default()
    })
    .await
    {
        Ok(stack) => stack,
        Err(e) => panic!(
            "the local stack did not start: {}",
            leganto_shared::error::error_chain(&e)
        ),
    };
    let date = NaiveDate::parse_from_str(RUN_DATE, "%Y-%m-%d").unwrap();
    stack.put_sample_export(date).unwrap();

    let first = stack
        .start_execution(&format!("day-{RUN_DATE}"), &json!({"run_date": RUN_DATE}))
        .await
        .unwrap();
    // Wait until the first holds the day (its plan has run).
    for _ in 0..200 {
        if s3_keys(&stack).await.contains("locks/2026/11/28/run.json") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (second, visits) = run(
        &stack,
        &format!("day-{RUN_DATE}-duplicate"),
        json!({"run_date": RUN_DATE}),
    )
    .await;
    // It ends at once without failing (no alarm, no Slack post), and leaves the first alone.
    assert_eq!(second.status, "SUCCEEDED");
    let names = entered(&visits);
    assert!(names.contains("Another execution is running the day"));
    assert!(!names.contains("Pull the CEM export"));
    assert!(!names.contains("Notify Slack of the failure"));
    assert!(
        s3_keys(&stack).await.contains("locks/2026/11/28/run.json"),
        "the second execution gave back the first one's lease"
    );

    let first = stack
        .wait_for_execution(&first, EXECUTION_LIMIT)
        .await
        .unwrap();
    assert_succeeded(&first);
    let out = first.output.unwrap();
    let loader = out["push"]["file_name"].as_str().unwrap();
    assert_eq!(stack.alma_files().unwrap(), vec![loader.to_string()]);
    let keys = s3_keys(&stack).await;
    assert!(!keys.contains("locks/2026/11/28/run.json"), "{keys:?}");
    assert!(keys.contains("alma/2026/11/28/pushed.json"), "{keys:?}");

    // Slack heard of the day once, and nothing of the duplicate.
    let posts: Vec<String> = stack.slack.posts().iter().map(post_text).collect();
    assert_eq!(posts.len(), 1, "{posts:#?}");

    // Reruns that would push the day again stop at their plan: nothing of the day changes,
    // its page included, and Alma gets nothing.
    let page = stack.s3_get("reports/2026/11/28/index.html").await.unwrap();
    let summary = stack
        .s3_get("reports/2026/11/28/run-summary.json")
        .await
        .unwrap();
    let rows = stack
        .s3_get("reports/2026/11/28/course-rows.tsv.gz")
        .await
        .unwrap();
    // The baseline of delta loads is the rows of the file Alma loaded.
    let baseline = "state/baseline-course-rows.tsv.gz";
    assert_eq!(stack.s3_get(baseline).await.unwrap(), rows);
    for start_at in ["push", "transform"] {
        let (rerun, visits) = run(
            &stack,
            &format!("rerun-{RUN_DATE}-{start_at}"),
            json!({"run_date": RUN_DATE, "start_at": start_at}),
        )
        .await;
        assert_eq!(rerun.status, "FAILED");
        assert_eq!(rerun.error.as_deref(), Some("AlreadyPushed"));
        assert!(rerun.cause.unwrap_or_default().contains("--force"));
        assert!(!entered(&visits).contains("Transform the export"));
        let last = post_text(stack.slack.posts().last().unwrap());
        assert!(last.contains("already loaded; nothing pushed"), "{last}");
    }
    assert_eq!(
        stack.s3_get("reports/2026/11/28/index.html").await.unwrap(),
        page
    );
    assert_eq!(
        stack
            .s3_get("reports/2026/11/28/run-summary.json")
            .await
            .unwrap(),
        summary
    );
    let rows_now = stack.s3_get("reports/2026/11/28/course-rows.tsv.gz");
    assert_eq!(rows_now.await.unwrap(), rows);
    assert_eq!(stack.s3_get(baseline).await.unwrap(), rows);
    assert_eq!(stack.alma_files().unwrap(), vec![loader.to_string()]);
    assert_eq!(
        stack.alma.job_instances().len(),
        1,
        "Alma loaded a second file"
    );
    assert!(!s3_keys(&stack).await.contains("locks/2026/11/28/run.json"));
}
