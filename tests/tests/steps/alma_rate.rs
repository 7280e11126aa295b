//! One Alma rate for the whole run, and the invocation's deadline bounding Alma retries.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use leganto_shared::run::alma_rate::CACHE_MAP_CONCURRENCY;
use leganto_shared::steps::StepContext;
use leganto_tests::dispatch::Step;
use leganto_tests::iam::Scope;
use leganto_tests::lambda_host::{BoundHost, Function, Functions, LambdaHost};
use leganto_tests::moto::REGION;
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};

use super::{Options, World};

/// Years of the sample's Alma courses: 5, 7 and 1 pages of courses.
const YEARS: [&str; 3] = ["2025", "2026", "2023"];

/// Calls sent a full interval apart can arrive a little closer over loopback on a busy
/// machine; a window this much shorter than a second absorbs that.
const DELIVERY_JITTER: Duration = Duration::from_millis(50);

#[tokio::test]
async fn the_cache_branches_and_the_job_check_together_stay_within_the_alma_rate() {
    const RATE: u32 = 4;
    let world = World::start_with(
        "alma-rate",
        Options {
            settings: vec![("ALMA_RATE", RATE.to_string())],
            ..Options::default()
        },
    )
    .await;
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    state["push"] = json!({
        "file_name": "20261128092514.txt",
        "bytes": 1,
        "pushed_at": Utc::now(),
    });
    assert_eq!(YEARS.len() as u32, CACHE_MAP_CONCURRENCY);

    // The Map's branches at once, and the other Parallel branch's looks a second apart
    // (its Wait) while they run.
    let caches = futures::future::join_all(YEARS.iter().map(|year| {
        world.call(
            "leganto-cache-courses",
            json!({"run": state["run"], "year": year.parse::<i32>().unwrap()}),
        )
    }));
    let looks = async {
        let mut looks = 0;
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let job = world
                .call("leganto-check-job", state.clone())
                .await
                .unwrap();
            assert_eq!(job["done"], false, "{job}");
            looks += 1;
        }
        looks
    };
    let (caches, looks) = tokio::join!(caches, looks);

    let mut cache_calls = 0;
    for cache in caches {
        let cache = cache.unwrap();
        assert!(cache["courses"].as_u64().unwrap() > 0, "{cache}");
        cache_calls += cache["api_calls"].as_u64().unwrap();
    }
    assert_eq!(cache_calls, 5 + 7 + 1);
    let calls = world.sim.calls();
    assert_eq!(calls.len() as u64, cache_calls + looks, "one call per look");
    assert!(calls.iter().all(|c| c.status == 200));
    let busiest = world
        .sim
        .most_calls_within(Duration::from_secs(1) - DELIVERY_JITTER);
    assert!(
        busiest <= RATE as usize,
        "{busiest} calls within one second at AlmaRate {RATE}"
    );
}

/// A host running the cache step as its function with `timeout`.
async fn cache_function(world: &World, timeout: Duration) -> LambdaHost {
    let function = Function {
        ctx: Arc::new(StepContext::new(world.config.clone(), &world.sdk)),
        timeout: Some(timeout),
    };
    let scope = Scope {
        region: REGION.into(),
        account: "123456789012".into(),
        secrets: Vec::new(),
    };
    BoundHost::bind().await.unwrap().serve(
        Functions::deployed(HashMap::from([(Step::CacheCourses, function)]), scope),
        world.moto.endpoint(),
    )
}

/// Invokes the cache step for 2023 as Step Functions does: the function error's type, if
/// any, and the answer.
async fn invoke_cache(world: &World, host: &LambdaHost) -> (Option<String>, Value) {
    let state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    let response = reqwest::Client::new()
        .post(format!(
            "{}/2015-03-31/functions/leganto-cache-courses/invocations",
            host.endpoint()
        ))
        .body(json!({"run": state["run"], "year": 2023}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let error = response
        .headers()
        .get("x-amz-function-error")
        .map(|v| v.to_str().unwrap().to_string());
    (error, response.json().await.unwrap())
}

/// The cache function's timeout in these tests: its Alma deadline is 2 s (a tenth) before.
const TIMEOUT: Duration = Duration::from_secs(20);

/// Without a deadline the client gives a burst at most 5 retries, backing off at most
/// 0.2 + 0.4 + 0.8 + 1.6 + 3.2 s: a burst longer than this outlasts them.
const MAX_RETRIES_LAST: Duration = Duration::from_millis(6_200);

#[tokio::test]
async fn a_throttle_burst_shorter_than_the_function_timeout_is_ridden_out() {
    let world = World::start("deadline-ridden-out").await;
    let host = cache_function(&world, TIMEOUT).await;
    // Longer than max_retries rides out; backoff waits at most 10 s between tries, so the
    // first try after it is within the Alma deadline whatever the jitter.
    world
        .sim
        .throttle_for(MAX_RETRIES_LAST + Duration::from_secs(1));
    let (error, out) = invoke_cache(&world, &host).await;
    assert_eq!(error, None, "{out}");
    assert!(out["courses"].as_u64().unwrap() > 0, "{out}");
    let calls = world.sim.calls();
    assert!(calls.iter().filter(|c| c.status == 429).count() > 1);
    assert_eq!(calls.iter().filter(|c| c.status == 200).count(), 1);
}

#[tokio::test]
async fn a_throttle_burst_longer_than_the_function_timeout_is_alma_unavailable_before_it() {
    let world = World::start("deadline-unavailable").await;
    let host = cache_function(&world, TIMEOUT).await;
    world.sim.throttle_for(Duration::from_secs(120));
    let started = Instant::now();
    let (error, out) = invoke_cache(&world, &host).await;
    let took = started.elapsed();

    assert_eq!(error.as_deref(), Some("Unhandled"), "{out}");
    assert_eq!(out["errorType"], "AlmaUnavailable", "{out}");
    assert!(
        out["errorMessage"]
            .as_str()
            .unwrap()
            .contains("PER_SECOND_THRESHOLD"),
        "{out}"
    );
    assert!(took < TIMEOUT, "{took:?}");
    // Tries went on towards the Alma deadline (18 s; no backoff wait exceeds 10 s), past
    // where max_retries would have stopped.
    assert!(took >= Duration::from_secs(8), "{took:?}");
    assert!(took > MAX_RETRIES_LAST, "{took:?}");
    assert!(world.sim.calls().iter().all(|c| c.status == 429));
}
