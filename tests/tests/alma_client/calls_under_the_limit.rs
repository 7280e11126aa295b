//! Under Alma's per-second limit and a slow Alma, the client makes only the calls it needs
//! (every 429 retried, nothing asked twice). It prints how close it came to calls ÷ rate,
//! for people; the rate itself is measured by `make bench` (bench-alma), not asserted here,
//! since timing assertions flake on a shared machine.

use std::time::{Duration, Instant};

use leganto_shared::alma::{AlmaClient, CourseCache};
use leganto_tests::alma_sim::SimOptions;

use super::support::*;

#[tokio::test]
async fn three_years_and_reading_lists_take_only_the_calls_needed_at_25_per_second_and_150ms() {
    const RATE: u32 = 25;
    let sim = start(SimOptions {
        per_second_limit: Some(25),
        latency: Duration::from_millis(150),
        ..sample_options()
    })
    .await;
    let mut cfg = config(&sim);
    cfg.rate_per_second = RATE;
    let cache = CourseCache::new(AlmaClient::new(cfg).unwrap());
    let ids: Vec<String> = ids_of_year("2026").into_iter().take(120).collect();

    let started = Instant::now();
    let years: Vec<String> = ["2025", "2026", "2023"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    cache.load_years(&years).await.unwrap();
    let lists = cache.reading_lists(&ids).await.unwrap();
    let wall = started.elapsed().as_secs_f64();

    assert_eq!(lists.len(), 120);
    assert_eq!(cache.courses_of_year("2026").unwrap().len(), 609);
    let calls = cache.client().calls_made();
    let throttled = count_status(&sim.calls(), 429);
    let ideal = calls as f64 / f64::from(RATE);
    println!(
        "alma throughput: {calls} calls ({} pages + {} reading lists, {throttled} answered 429) in \
         {wall:.2} s; calls/rate = {ideal:.2} s; ratio {:.2}",
        5 + 7 + 1,
        ids.len(),
        wall / ideal
    );
    assert_eq!(
        calls as usize - throttled,
        13 + 120,
        "the minimum number of served calls"
    );
}
