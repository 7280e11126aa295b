//! A dry run transforms and reports but pushes and mails nothing.

use leganto_shared::error::ErrorName as _;
use leganto_tests::support::RUN_DATE;
use serde_json::json;

use super::{expect_error, World, EXPORT_NAME};
use crate::read_sample;

#[tokio::test]
async fn a_dry_run_pushes_and_mails_nothing_and_slack_says_so() {
    let world = World::start("dry-run").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = world
        .plan(json!({"run_date": RUN_DATE, "dry_run": true}))
        .await
        .unwrap();
    assert_eq!(state["run"]["dry_run"], true);
    world.step("pull", &mut state, "pull").await;
    let transform = world.step("transform", &mut state, "transform").await;
    assert!(
        world.s3_keys("alma/2026/11/28/").await.len() == 1,
        "the loader file is kept for review"
    );

    // The state machine skips the push; called anyway, it refuses.
    let err = expect_error(world.call("push", state.clone()).await);
    assert_eq!(err.error_name(), "InvalidInput");
    assert!(
        world.alma_files().is_empty(),
        "a file reached Alma: {:?}",
        world.alma_files()
    );

    // The wait branch writes this in a dry run (a Pass state); caches and report still run.
    state["alma_job"] =
        json!({"done": true, "timed_out": false, "status": "SKIPPED", "checks": 0, "counters": {}});
    let mut caches = Vec::new();
    for year in transform["years_needed"].as_array().unwrap() {
        caches.push(
            world
                .call("cache-courses", json!({"run": state["run"], "year": year}))
                .await
                .unwrap(),
        );
    }
    state["caches"] = json!(caches);
    world.step("rollover-report", &mut state, "report").await;

    let err = expect_error(world.call("email-report", state.clone()).await);
    assert_eq!(err.error_name(), "InvalidInput");
    assert!(world.sent_emails().await.is_empty());

    let slack = world
        .call("notify-slack", json!({"kind": "summary", "state": state}))
        .await
        .unwrap();
    assert_eq!(slack["posted"], true);
    let text = world.slack.posts()[0].to_string();
    assert!(text.contains("(dry run)"), "{text}");
    assert!(text.contains("nothing pushed or mailed"), "{text}");
    assert!(world.sim.job_instances().is_empty());
}
