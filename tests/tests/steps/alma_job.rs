//! Checking Alma's course loader job: still running, done with warnings, failed, not watched.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use leganto_shared::steps::StepContext;
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};

use super::{Options, World};
use crate::read_sample;

const LOADER_NAME: &str = "20261128092514.txt";

/// The sample's header and first course, then that course again as a DELETE of a course
/// Alma does not have: the loader applies one row and reports the other as an error.
fn file_with_a_bad_delete() -> Vec<u8> {
    let sample = String::from_utf8(read_sample("expected_alma.txt")).unwrap();
    let mut lines = sample.split("\r\n");
    let header = lines.next().unwrap();
    let first = lines.next().unwrap();
    let mut cols: Vec<&str> = first.split('\t').collect();
    cols[0] = "2026FallA-X-NOPE000-00000";
    cols[2] = "00000";
    cols[28] = "DELETE";
    format!("{header}\r\n{first}\r\n{}\r\n", cols.join("\t")).into_bytes()
}

/// Puts a loader file in S3 as the transform would and pushes it (no transform in the
/// state: the push takes the loader file the run summary names).
async fn push(world: &World, bytes: Vec<u8>) -> Value {
    world.put_loader_file(LOADER_NAME, bytes, Utc::now()).await;
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("push", &mut state, "push").await;
    state
}

#[tokio::test]
async fn a_job_still_running_is_not_done_until_the_wait_runs_out() {
    let world = World::start_with(
        "job-running",
        Options {
            loader_delay: Duration::from_secs(120),
            watch_drop_dir: true,
            ..Options::default()
        },
    )
    .await;
    let mut state = push(&world, file_with_a_bad_delete()).await;

    let mut job = Value::Null;
    for _ in 0..100 {
        job = world.step("check-job", &mut state, "alma_job").await;
        if job["status"] != "NOT_STARTED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        matches!(job["status"].as_str(), Some("QUEUED" | "RUNNING")),
        "{job}"
    );
    assert_eq!(job["done"], false);
    assert_eq!(job["timed_out"], false);
    assert_eq!(job["ended_at"], Value::Null);
    assert_eq!(
        job["job_instance_id"],
        world.sim.job_instances()[0].id.as_str()
    );
    let checks = job["checks"].as_u64().unwrap();

    // Five hours later (the wait limit is one), the branch gives up and the run goes on.
    let later = StepContext::new(world.config.clone(), &world.sdk)
        .with_clock(Arc::new(|| Utc::now() + chrono::Duration::hours(5)));
    let job = leganto_tests::dispatch::invoke(&later, "check-job", state.clone())
        .await
        .unwrap();
    assert_eq!(job["done"], false);
    assert_eq!(job["timed_out"], true);
    assert_eq!(job["checks"], checks + 1);
    assert!(job["waited_seconds"].as_u64().unwrap() >= 5 * 3600 - 5);

    state["alma_job"] = job;
    world
        .call("notify-slack", json!({"kind": "summary", "state": state}))
        .await
        .unwrap();
    let text = world.slack.posts()[0].to_string();
    assert!(text.contains("the run went on"), "{text}");
}

#[tokio::test]
async fn a_job_that_finished_with_warnings_is_done_with_its_counters() {
    let world = World::start("job-warnings").await;
    let mut state = push(&world, file_with_a_bad_delete()).await;
    let runs = world.sim.run_loader_now().await.unwrap();
    assert_eq!(runs.len(), 1);

    let job = world.check_until_done(&mut state).await;
    assert_eq!(job["status"], "COMPLETED_WARNING");
    assert_eq!(job["timed_out"], false);
    assert_eq!(job["counters"]["rows_read"], 2);
    assert_eq!(job["counters"]["courses_created"], 1);
    assert_eq!(job["counters"]["rows_with_errors"], 1);
    assert!(job["ended_at"].is_string(), "{job}");
}

#[tokio::test]
async fn a_failed_job_is_done_and_reported_not_raised() {
    let world = World::start("job-failed").await;
    // LF line ends: Alma's loader refuses the whole file.
    let mut state = push(&world, b"Course Code\tCourse Title\nX\tY\n".to_vec()).await;
    world.sim.run_loader_now().await.unwrap();

    let job = world.check_until_done(&mut state).await;
    assert_eq!(job["status"], "COMPLETED_FAILED");
    assert_eq!(job["done"], true);
    assert_eq!(job["counters"], json!({}));
}

#[tokio::test]
async fn without_a_job_to_watch_the_check_waits_the_fixed_time() {
    let world = World::start("job-unwatched").await;
    let mut state = push(&world, file_with_a_bad_delete()).await;
    let mut config = world.config.clone();
    config.alma.loader_job_id = None;
    config.alma.loader_profile_id = None;
    let now = StepContext::new(config.clone(), &world.sdk);
    let job = leganto_tests::dispatch::invoke(&now, "check-job", state.clone())
        .await
        .unwrap();
    assert_eq!(job["status"], "NOT_MONITORED");
    assert_eq!(job["done"], false);

    let later = StepContext::new(config, &world.sdk)
        .with_clock(Arc::new(|| Utc::now() + chrono::Duration::hours(2)));
    let job = leganto_tests::dispatch::invoke(&later, "check-job", state.clone())
        .await
        .unwrap();
    assert_eq!(job["done"], true);
    assert_eq!(job["timed_out"], false);

    // Found through the profile's scheduled job instead of a configured id.
    let mut config = world.config.clone();
    config.alma.loader_job_id = None;
    config.alma.loader_profile_id = Some("7200000000001".into());
    world.sim.run_loader_now().await.unwrap();
    let by_profile = StepContext::new(config, &world.sdk);
    let job = leganto_tests::dispatch::invoke(&by_profile, "check-job", state.clone())
        .await
        .unwrap();
    assert_eq!(job["status"], "COMPLETED_WARNING", "{job}");

    // Nothing pushed: nothing to wait for.
    state.as_object_mut().unwrap().remove("push");
    let job = world.step("check-job", &mut state, "alma_job").await;
    assert_eq!(job["status"], "NOT_PUSHED");
    assert_eq!(job["done"], true);
}

#[tokio::test]
async fn our_run_is_found_behind_a_busy_jobs_later_runs() {
    let world = World::start("job-busy").await;
    let mut state = push(&world, file_with_a_bad_delete()).await;
    let ours = world.sim.run_loader_now().await.unwrap();
    assert_eq!(ours.len(), 1);
    // Runs of other files before the push and, 250 of them, after ours: more than a page.
    let now = Utc::now();
    let before: Vec<_> = (1..=5).map(|h| now - chrono::Duration::hours(h)).collect();
    world.sim.add_job_runs(&before);
    let after: Vec<_> = (1..=250)
        .map(|s| now + chrono::Duration::seconds(s))
        .collect();
    world.sim.add_job_runs(&after);
    world.sim.clear_calls();

    let job = world.step("check-job", &mut state, "alma_job").await;
    assert_eq!(job["job_instance_id"], ours[0].id.as_str(), "{job}");
    assert_eq!(job["status"], "COMPLETED_WARNING");
    assert_eq!(job["done"], true);
    let pages = world
        .sim
        .calls()
        .iter()
        .filter(|c| c.path.ends_with("/instances"))
        .count();
    assert_eq!(
        pages, 3,
        "pages of 100 back to the first run before the push"
    );
}

#[tokio::test]
async fn our_run_is_found_when_alma_lists_runs_oldest_first() {
    let world = World::start_with(
        "job-oldest-first",
        Options {
            instances_oldest_first: true,
            ..Options::default()
        },
    )
    .await;
    let mut state = push(&world, file_with_a_bad_delete()).await;
    let ours = world.sim.run_loader_now().await.unwrap();
    assert_eq!(ours.len(), 1);
    // A page and a half of runs before the push, listed first, then ours, then later runs.
    let now = Utc::now();
    let before: Vec<_> = (0..150)
        .map(|s| now - chrono::Duration::minutes(5) - chrono::Duration::seconds(s))
        .collect();
    world.sim.add_job_runs(&before);
    let after: Vec<_> = (1..=30)
        .map(|s| now + chrono::Duration::seconds(s))
        .collect();
    world.sim.add_job_runs(&after);
    world.sim.clear_calls();

    let job = world.step("check-job", &mut state, "alma_job").await;
    assert_eq!(job["job_instance_id"], ours[0].id.as_str(), "{job}");
    assert_eq!(job["status"], "COMPLETED_WARNING");
    assert_eq!(job["done"], true);
    let pages = world
        .sim
        .calls()
        .iter()
        .filter(|c| c.path.ends_with("/instances"))
        .count();
    assert_eq!(pages, 2, "181 runs: every page, whatever the order");
}
