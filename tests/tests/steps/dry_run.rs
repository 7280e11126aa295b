//! A dry run transforms and reports but pushes and mails nothing, and writes only under
//! `dry-run/`: the live loader files, summary and receipt stay as they were.

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
    let pull = world.step("pull", &mut state, "pull").await;
    assert!(
        pull["export_key"]
            .as_str()
            .unwrap()
            .starts_with("dry-run/2026/11/28/cem/"),
        "{pull}"
    );
    let transform = world.step("transform", &mut state, "transform").await;
    assert_eq!(
        world.s3_keys("dry-run/2026/11/28/alma/").await.len(),
        1,
        "the loader file is kept for review under dry-run/"
    );
    assert_eq!(
        transform["summary_key"],
        "dry-run/2026/11/28/reports/run-summary.json"
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

    // Nothing live was written: no export, loader file, receipt, summary or report.
    for prefix in ["cem/", "alma/", "reports/", "cache/", "locks/"] {
        assert!(
            world.s3_keys(prefix).await.is_empty(),
            "{prefix}: {:?}",
            world.s3_keys(prefix).await
        );
    }
    let released = world.release(&state).await;
    assert_eq!(released["released"], true, "the dry run's own lease");
    assert!(world.s3_keys("dry-run/2026/11/28/locks/").await.is_empty());
    // The dry run's day page is its own, under dry-run/.
    assert_eq!(
        released["page_key"],
        "dry-run/2026/11/28/reports/index.html"
    );
    let page =
        String::from_utf8(world.s3_get("dry-run/2026/11/28/reports/index.html").await).unwrap();
    assert!(page.contains("Dry run: nothing pushed or mailed"));
    assert!(world.s3_keys("reports/").await.is_empty());
}

#[tokio::test]
async fn a_dry_run_from_the_transform_reads_the_live_export_and_leaves_the_live_day_alone() {
    let world = World::start("dry-rerun").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    // A live day, pulled, transformed and pushed.
    let mut live = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("pull", &mut live, "pull").await;
    world.step("transform", &mut live, "transform").await;
    world.step("push", &mut live, "push").await;
    world.release(&live).await;
    let before = live_objects(&world).await;
    assert!(before.iter().any(|(k, _)| k.ends_with("/pushed.json")));

    let mut state = world
        .plan(json!({"run_date": RUN_DATE, "start_at": "transform", "dry_run": true}))
        .await
        .unwrap();
    let transform = world.step("transform", &mut state, "transform").await;
    assert!(
        transform["loader_key"]
            .as_str()
            .unwrap()
            .starts_with("dry-run/2026/11/28/alma/"),
        "{transform}"
    );
    assert_eq!(live_objects(&world).await, before, "the live day changed");
    assert_eq!(world.alma_files().len(), 1, "{:?}", world.alma_files());

    // A live rerun recalls the live push, never the dry run's file.
    let rerun = world
        .plan(json!({"run_date": RUN_DATE, "start_at": "wait_for_alma"}))
        .await
        .unwrap();
    assert_eq!(rerun["push"]["recalled"], true);
    assert_eq!(rerun["push"]["file_name"], live["push"]["file_name"]);
    assert!(rerun["transform"]["loader_key"]
        .as_str()
        .unwrap()
        .starts_with("alma/"));
}

/// Every live object with its bytes.
async fn live_objects(world: &World) -> Vec<(String, Vec<u8>)> {
    let mut objects = Vec::new();
    for prefix in ["cem/", "alma/", "reports/", "locks/"] {
        for key in world.s3_keys(prefix).await {
            let bytes = world.s3_get(&key).await;
            objects.push((key, bytes));
        }
    }
    objects
}

#[tokio::test]
async fn a_misspelt_dry_run_is_refused_at_the_plan_naming_the_key_and_touches_nothing() {
    let world = World::start("dry-run-misspelt").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let keys_before = world.s3_keys("").await;
    let err = expect_error(
        world
            .plan(json!({"run_date": RUN_DATE, "dryrun": true}))
            .await,
    );
    assert_eq!(err.error_name(), "InvalidInput");
    assert_eq!(
        err.message(),
        "the execution input is not valid: unknown field \"dryrun\", expected one of \
         \"run_date\", \"start_at\", \"dry_run\", \"force\", \"full\", \"preflight\", \
         \"wait_for_export\""
    );
    assert_eq!(
        world.s3_keys("").await,
        keys_before,
        "a refused input takes no lease and writes nothing"
    );
    assert!(world.alma_files().is_empty());
}
