//! Alma-bound steps that run out of time save what Alma told them, answer `"more": true`
//! and resume from the saved answers: no question is asked twice, and a retried step asks
//! nothing again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use leganto_shared::steps::{within_deadline, StepContext};
use leganto_tests::alma_sim::CallRecord;
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};

use super::{Options, World, EXPORT_NAME};
use crate::read_sample;

/// Alma calls a second: slow enough that the sample day's questions outlast a short
/// invocation.
const SLOW_RATE: u32 = 5;

/// An invocation this long stops asking after about 3.2 s (two margins of a tenth).
const SHORT_INVOCATION: Duration = Duration::from_secs(4);

async fn slow_world(name: &str) -> World {
    World::start_with(
        name,
        Options {
            settings: vec![("ALMA_RATE", SLOW_RATE.to_string())],
            ..Options::default()
        },
    )
    .await
}

/// Runs `function` in invocations of [`SHORT_INVOCATION`] until it is done: its final
/// output and the outputs that said more.
async fn until_done(
    world: &World,
    ctx: &StepContext,
    function: &str,
    state: &Value,
) -> (Value, Vec<Value>) {
    let mut more = Vec::new();
    for _ in 0..100 {
        let deadline = Instant::now() + SHORT_INVOCATION;
        let output = within_deadline(
            deadline,
            leganto_tests::dispatch::invoke(ctx, function, state.clone()),
        )
        .await
        .unwrap_or_else(|e| panic!("{function} failed: {e}"));
        assert!(
            Instant::now() < deadline,
            "{function} outran its invocation"
        );
        if output["more"] != json!(true) {
            return (output, more);
        }
        more.push(output);
    }
    panic!("{function} never finished; the world: {}", world.name);
}

/// Reading-list counts and course pages Alma answered, with how often each was asked.
fn answered_questions(calls: &[CallRecord]) -> BTreeMap<String, usize> {
    let mut asked = BTreeMap::new();
    for call in calls {
        let question = call.path.ends_with("/reading-lists")
            || (call.path.ends_with("/courses") && call.query.contains("q="));
        if call.method == "GET" && question && call.status == 200 {
            *asked
                .entry(format!("{}?{}", call.path, call.query))
                .or_default() += 1;
        }
    }
    asked
}

fn asked_twice(calls: &[CallRecord]) -> Vec<String> {
    answered_questions(calls)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(q, _)| q)
        .collect()
}

async fn the_days_loader_file(world: &World) -> Vec<u8> {
    let keys = world.s3_keys("alma/2026/11/28/").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    world.s3_get(&keys[0]).await
}

#[tokio::test]
async fn a_transform_stopped_at_its_deadline_resumes_and_asks_alma_nothing_twice() {
    let world = slow_world("resume-transform").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("pull", &mut state, "pull").await;

    let (transform, more) = until_done(&world, &world.ctx, "transform", &state).await;
    assert!(!more.is_empty(), "the transform never ran out of time");
    for stop in &more {
        assert!(stop["answers_learned"].as_u64().unwrap() > 0, "{stop}");
        assert!(stop.to_string().len() < 200, "{stop}");
    }
    // The finished output is the usual one, and the loader file is the day's exact one.
    assert!(transform["loader_key"].is_string(), "{transform}");
    assert!(the_days_loader_file(&world).await == read_sample("expected_alma.txt"));

    let calls = world.sim.calls();
    assert!(!answered_questions(&calls).is_empty());
    assert_eq!(asked_twice(&calls), Vec::<String>::new());
    assert!(!world
        .s3_keys("cache/2026/11/28/answers/before-push/reading-lists.json")
        .await
        .is_empty());
}

#[tokio::test]
async fn the_rollover_report_and_a_years_cache_stopped_at_their_deadline_resume_and_ask_nothing_twice(
) {
    let world = slow_world("resume-report").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("pull", &mut state, "pull").await;
    // Without a transform first, the report asks for every year and reading list itself.
    let (cache, cache_more) = until_done(
        &world,
        &world.ctx,
        "cache-courses",
        &json!({"run": state["run"], "year": 2026}),
    )
    .await;
    assert!(
        !cache_more.is_empty(),
        "the year's cache never ran out of time"
    );
    assert_eq!(cache["year"], 2026, "{cache}");
    state["caches"] = json!([cache]);

    let (report, more) = until_done(&world, &world.ctx, "rollover-report", &state).await;
    assert!(!more.is_empty(), "the report never ran out of time");
    assert!(report["report_key"].is_string(), "{report}");
    let report_text = world.s3_get(report["report_key"].as_str().unwrap()).await;
    assert!(report_text == read_sample("expected_rollover.txt"));
    assert_eq!(asked_twice(&world.sim.calls()), Vec::<String>::new());
}

#[tokio::test]
async fn a_retried_step_reuses_the_saved_answers_and_calls_alma_no_more() {
    let world = World::start("resume-retry").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("pull", &mut state, "pull").await;

    let first = world.call("transform", state.clone()).await.unwrap();
    let calls = world.sim.calls().len();
    assert!(calls > 0);
    let loader = the_days_loader_file(&world).await;
    // As Step Functions retries it, with the same input.
    let again = world.call("transform", state.clone()).await.unwrap();
    assert_eq!(world.sim.calls().len(), calls, "the retry called Alma");
    assert_eq!(again["counts"], first["counts"]);
    assert!(world.s3_get(again["loader_key"].as_str().unwrap()).await == loader);

    state["transform"] = again;
    let report = world.call("rollover-report", state.clone()).await.unwrap();
    let calls = world.sim.calls().len();
    let again = world.call("rollover-report", state.clone()).await.unwrap();
    assert_eq!(world.sim.calls().len(), calls, "the retry called Alma");
    assert_eq!(again["api_calls"], 0, "{again}");
    assert_eq!(again["rollovers"], report["rollovers"]);
}

#[tokio::test]
async fn saved_answers_older_than_the_guards_age_are_asked_again_and_date_the_delete_checks() {
    let world = World::start("resume-stale").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("pull", &mut state, "pull").await;
    world.call("transform", state.clone()).await.unwrap();
    let calls = world.sim.calls().len();

    // Five hours on (GUARD_MAX_AGE_HOURS is 6): the answers are reused, and the summary
    // dates the delete checks by them, not by now.
    let later = |hours: i64| {
        let shift = chrono::Duration::hours(hours);
        StepContext::new(world.config.clone(), &world.sdk)
            .with_clock(Arc::new(move || Utc::now() + shift))
    };
    let ctx = later(5);
    leganto_tests::dispatch::invoke(&ctx, "transform", state.clone())
        .await
        .unwrap();
    assert_eq!(world.sim.calls().len(), calls);
    let summary: Value =
        serde_json::from_slice(&world.s3_get("reports/2026/11/28/run-summary.json").await).unwrap();
    let made_at: chrono::DateTime<Utc> =
        serde_json::from_value(summary["made_at"].clone()).unwrap();
    assert!(
        made_at < Utc::now() + chrono::Duration::hours(1),
        "{made_at}"
    );

    // Seven hours on, they are too old: every question is asked again, once.
    let ctx = later(7);
    leganto_tests::dispatch::invoke(&ctx, "transform", state)
        .await
        .unwrap();
    assert_eq!(world.sim.calls().len(), 2 * calls);
}
