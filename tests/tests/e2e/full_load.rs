//! A full load asked for the next scheduled day (`leganto full-load next`): the schedule's
//! next run sends every course and says who asked; a day that fails before its push keeps
//! the request, and the push that goes through removes it.

use chrono::Utc;
use leganto_shared::ops::full_load::{self, Asked};
use leganto_shared::store::Store;
use leganto_tests::stack::{Stack, StackOptions, BUCKET, TIME_ZONE};
use serde_json::json;

use super::support::{assert_succeeded, run};

/// The schedule's input, as `template.yaml` gives it.
fn scheduled() -> serde_json::Value {
    json!({"wait_for_export": true})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_load_asked_for_makes_the_next_scheduled_day_full_and_is_done_once_pushed() {
    // No wait for a late export: the first scheduled run fails at once without one.
    let stack = Stack::start(StackOptions {
        parameters: vec![("ExportWaitMinutes".into(), "0".into())],
        ..StackOptions::default()
    })
    .await
    .expect("the local stack starts");
    let store = Store::from_sdk_config(&stack.sdk, BUCKET);
    let asked = full_load::ask(&store, "pat@example.edu", Utc::now())
        .await
        .unwrap();
    assert!(matches!(asked, Asked::Recorded(_)), "{asked:?}");

    // The schedule's run (no day given: today) fails at its pull, before any push: the
    // request stays for the next scheduled day.
    let (failed, _) = run(&stack, "scheduled-no-export", scheduled()).await;
    assert_eq!(failed.status, "FAILED");
    assert_eq!(failed.error.as_deref(), Some("SourceFileMissing"));
    let standing = full_load::show(&store).await.unwrap().expect("kept");
    assert_eq!(standing.by, "pat@example.edu");

    // The next scheduled run: every course, saying who asked; the request is done.
    let tz: chrono_tz::Tz = TIME_ZONE.parse().unwrap();
    let today = Utc::now().with_timezone(&tz).date_naive();
    stack.put_sample_export(today).unwrap();
    let (execution, _) = run(&stack, "scheduled-with-export", scheduled()).await;
    assert_succeeded(&execution);
    assert_eq!(stack.alma_files().unwrap().len(), 1, "the day was pushed");
    let summary_key = format!("reports/{}/run-summary.json", today.format("%Y/%m/%d"));
    let summary: serde_json::Value =
        serde_json::from_slice(&stack.s3_get(&summary_key).await.unwrap()).unwrap();
    let load = &summary["load"];
    assert_eq!(load["kind"], "full", "{summary}");
    let reason = load["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("a full load was asked for by pat@example.edu on "),
        "{reason}"
    );
    assert_eq!(
        full_load::show(&store).await.unwrap(),
        None,
        "done once pushed"
    );
}
