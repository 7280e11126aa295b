//! One execution per day at a time, and one load per day: a second execution started while
//! the first runs stops with `RunInProgress` and leaves the first alone; reruns of the push
//! leave one file on Alma's server.

use std::time::Duration;

use chrono::NaiveDate;
use leganto_tests::stack::StackOptions;
use leganto_tests::support::RUN_DATE;
use serde_json::json;

use super::support::{assert_succeeded, entered, post_text, run, s3_keys, EXECUTION_LIMIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_executions_for_one_day_run_one_and_reruns_of_the_push_load_nothing_twice() {
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
    assert_eq!(second.status, "FAILED");
    assert_eq!(second.error.as_deref(), Some("RunInProgress"));
    let cause = second.cause.unwrap_or_default();
    assert!(cause.contains(&format!("day-{RUN_DATE}")), "{cause}");
    let names = entered(&visits);
    assert!(!names.contains("Pull the CEM export"));
    assert!(names.contains("Release the run date after the failure"));
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
    let loader = out["transform"]["loader_file_name"].as_str().unwrap();
    assert_eq!(stack.alma_files().unwrap(), vec![loader.to_string()]);
    let keys = s3_keys(&stack).await;
    assert!(!keys.contains("locks/2026/11/28/run.json"), "{keys:?}");
    assert!(keys.contains("alma/2026/11/28/pushed.json"), "{keys:?}");

    // Slack heard once of the duplicate, saying what happened, and once of the day.
    let posts: Vec<String> = stack.slack.posts().iter().map(post_text).collect();
    assert_eq!(posts.len(), 2, "{posts:#?}");
    let duplicate: Vec<&String> = posts
        .iter()
        .filter(|p| p.contains("another execution is running this day"))
        .collect();
    assert_eq!(duplicate.len(), 1, "{posts:#?}");

    // Reruns from the push, twice: the same bytes, nothing sent again.
    for n in 1..=2 {
        let (rerun, _) = run(
            &stack,
            &format!("rerun-{RUN_DATE}-push-{n}"),
            json!({"run_date": RUN_DATE, "start_at": "push"}),
        )
        .await;
        assert_succeeded(&rerun);
        let out = rerun.output.unwrap();
        assert_eq!(out["push"]["already_there"], true, "{}", out["push"]);
        assert_eq!(out["push"]["file_name"], loader);
        let last = post_text(stack.slack.posts().last().unwrap());
        assert!(
            last.contains("Already loaded, nothing new pushed"),
            "{last}"
        );
    }
    assert_eq!(stack.alma_files().unwrap(), vec![loader.to_string()]);

    // A rerun from the transform after Alma loaded the day makes a different file (the
    // courses it deleted are gone now): refused, nothing sent.
    let (rerun, _) = run(
        &stack,
        &format!("rerun-{RUN_DATE}-transform"),
        json!({"run_date": RUN_DATE, "start_at": "transform"}),
    )
    .await;
    assert_eq!(rerun.status, "FAILED");
    assert_eq!(rerun.error.as_deref(), Some("AlreadyPushed"));
    assert!(rerun.cause.unwrap_or_default().contains("--force"));
    let last = post_text(stack.slack.posts().last().unwrap());
    assert!(last.contains("already loaded; nothing pushed"), "{last}");
    assert_eq!(stack.alma_files().unwrap(), vec![loader.to_string()]);
    assert_eq!(
        stack.alma.job_instances().len(),
        1,
        "Alma loaded a second file"
    );
    assert!(!s3_keys(&stack).await.contains("locks/2026/11/28/run.json"));
}
