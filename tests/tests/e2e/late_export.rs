//! A late export: the scheduled run (`{"wait_for_export": true}`) looks for it again every
//! `ExportPollSeconds` until `ExportWaitMinutes` after its start, tells Slack once, and
//! loads the day when the export comes; one that never comes fails `SourceFileMissing`
//! after the deadline. Here a look is a second apart, so "ten minutes late" is a few looks.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use leganto_tests::stack::{Stack, StackOptions, StateVisit};
use leganto_tests::support::RUN_DATE;
use serde_json::json;

use super::support::{assert_succeeded, post_text, run, EXECUTION_LIMIT};

const LOOK: &str = "Look for the CEM export";
const NOTICE: &str = "Tell Slack the export is late";
const WAITING: &str =
    "The CEM export for 2026-11-28 is not there yet; looking again every 1 second until";

async fn start(opts: StackOptions) -> Stack {
    match Stack::start(opts).await {
        Ok(stack) => stack,
        Err(e) => panic!(
            "the local stack did not start: {}",
            leganto_shared::error::error_chain(&e)
        ),
    }
}

fn visits_of(visits: &[StateVisit], name: &str) -> usize {
    visits.iter().filter(|v| v.name == name).count()
}

/// The Slack posts' texts that say the run is waiting for the export.
fn waiting_posts(stack: &Stack) -> Vec<String> {
    stack
        .slack
        .posts()
        .iter()
        .map(post_text)
        .filter(|t| t.contains("is not there yet"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_export_that_lands_after_the_start_is_loaded_that_day_with_one_slack_line() {
    let stack = start(StackOptions::default()).await;
    let arn = stack
        .start_execution(
            &format!("day-{RUN_DATE}-late"),
            &json!({"run_date": RUN_DATE, "wait_for_export": true}),
        )
        .await
        .unwrap();

    // The first look finds nothing and Slack hears of it; a look or two later, it lands.
    let asked = Instant::now();
    while waiting_posts(&stack).is_empty() {
        assert!(
            asked.elapsed() < Duration::from_secs(120),
            "no waiting line in Slack: {:#?}",
            stack.slack.posts()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let date = NaiveDate::parse_from_str(RUN_DATE, "%Y-%m-%d").unwrap();
    stack.put_sample_export(date).unwrap();

    let execution = stack
        .wait_for_execution(&arn, EXECUTION_LIMIT)
        .await
        .unwrap();
    let visits = stack.history(&arn).await.unwrap();
    assert_succeeded(&execution);
    let output = execution.output.unwrap();
    let loader = output["push"]["file_name"].as_str().unwrap();
    assert_eq!(stack.alma_files().unwrap(), vec![loader.to_string()]);
    assert!(visits_of(&visits, LOOK) >= 3, "looked again until it came");
    assert_eq!(visits_of(&visits, NOTICE), 1);
    assert_eq!(visits_of(&visits, "Pull the CEM export"), 1);
    assert_eq!(output["export_look"]["there"], true);

    // One line about the wait, in the library's time, and the day's summary.
    let waiting = waiting_posts(&stack);
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    assert!(waiting[0].contains(WAITING), "{}", waiting[0]);
    assert!(waiting[0].contains("MST"), "{}", waiting[0]);
    assert_eq!(stack.slack.posts().len(), 2, "{:#?}", stack.slack.posts());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_export_that_never_comes_fails_the_day_after_the_deadline_with_one_waiting_line() {
    // Six seconds of looks, a second apart.
    let stack = start(StackOptions {
        export_wait_minutes: 0.1,
        ..StackOptions::default()
    })
    .await;
    let started = Instant::now();
    let (execution, visits) = run(
        &stack,
        &format!("day-{RUN_DATE}-never"),
        json!({"run_date": RUN_DATE, "wait_for_export": true}),
    )
    .await;

    assert_eq!(execution.status, "FAILED");
    assert_eq!(execution.error.as_deref(), Some("SourceFileMissing"));
    let cause = execution.cause.clone().unwrap_or_default();
    assert!(
        cause.contains("looked for it from the start until") && cause.contains("MST"),
        "{cause}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "failed after {:?}, before the deadline",
        started.elapsed()
    );
    assert!(
        visits_of(&visits, LOOK) >= 2,
        "looked again before giving up"
    );
    assert_eq!(visits_of(&visits, NOTICE), 1);
    let pull = visits
        .iter()
        .find(|v| v.name == "Pull the CEM export")
        .expect("the pull ran after the deadline");
    assert!(
        pull.failure
            .as_deref()
            .unwrap_or_default()
            .starts_with("SourceFileMissing"),
        "{pull:?}"
    );

    let waiting = waiting_posts(&stack);
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    let posts: Vec<String> = stack.slack.posts().iter().map(post_text).collect();
    assert_eq!(
        posts.len(),
        2,
        "the waiting line and the failure: {posts:#?}"
    );
    assert!(
        posts
            .iter()
            .any(|p| p.contains("Pull the CEM export") && p.contains("SourceFileMissing")),
        "{posts:#?}"
    );
    assert!(stack.alma_files().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rerun_by_hand_does_not_wait_for_a_missing_export() {
    let stack = start(StackOptions::default()).await;
    let started = Instant::now();
    let (execution, visits) = run(
        &stack,
        &format!("rerun-{RUN_DATE}-pull"),
        json!({"run_date": RUN_DATE, "start_at": "pull"}),
    )
    .await;
    assert_eq!(execution.error.as_deref(), Some("SourceFileMissing"));
    let cause = execution.cause.clone().unwrap_or_default();
    assert!(!cause.contains("looked for it"), "{cause}");
    assert_eq!(visits_of(&visits, LOOK), 0);
    assert!(waiting_posts(&stack).is_empty());
    // Well under the six minutes the stack would wait for a scheduled run.
    assert!(started.elapsed() < Duration::from_secs(120));
}
