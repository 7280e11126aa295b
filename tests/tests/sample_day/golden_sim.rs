//! The sample day through the pipeline against the Alma simulator: exact output, and
//! exactly the minimum number of calls.

use std::io::Cursor;
use std::time::Duration;

use leganto_shared::alma::{AlmaClient, AlmaClientConfig, CourseCache};
use leganto_shared::domain::Rules;
use leganto_shared::pipeline::{rollover_report, transform_with_alma};
use leganto_tests::alma_sim::{AlmaSim, Fault, SimOptions};

use super::minimum::{rollover_calls, transform_calls};
use crate::{read_sample, sample_courses};

async fn sim(fault: Option<Fault>) -> AlmaSim {
    AlmaSim::start(SimOptions {
        courses: sample_courses(),
        per_second_limit: Some(25),
        fault,
        ..SimOptions::default()
    })
    .await
    .unwrap()
}

fn cache(sim: &AlmaSim, rate: u32) -> CourseCache {
    let mut cfg = AlmaClientConfig::new(
        sim.base_url(),
        secrecy::SecretString::from(sim.api_key().to_string()),
    );
    cfg.rate_per_second = rate;
    cfg.timeout = Duration::from_secs(10);
    CourseCache::new(AlmaClient::new(cfg).unwrap())
}

async fn transform_out(cache: &CourseCache) -> (Vec<u8>, u64) {
    let rules = Rules::asu().unwrap();
    let mut out = Vec::new();
    let s = transform_with_alma(
        &mut Cursor::new(read_sample("cem.csv")),
        &rules,
        cache,
        &mut out,
    )
    .await
    .unwrap();
    (out, s.alma_calls)
}

async fn rollover_out(cache: &CourseCache) -> (Vec<u8>, u64) {
    let rules = Rules::asu().unwrap();
    let mut out = Vec::new();
    let s = rollover_report(
        &mut Cursor::new(read_sample("cem.csv")),
        &rules,
        cache,
        &mut out,
    )
    .await
    .unwrap();
    (out, s.alma_calls)
}

fn ok_calls(sim: &AlmaSim) -> u64 {
    sim.calls().iter().filter(|c| c.status == 200).count() as u64
}

#[tokio::test]
async fn transform_against_simulator_is_exact_with_minimum_calls() {
    let sim = sim(None).await;
    let (out, calls) = transform_out(&cache(&sim, 20)).await;
    assert!(
        out == read_sample("expected_alma.txt"),
        "loader file differs"
    );
    assert_eq!(calls, transform_calls());
    assert_eq!(sim.calls().len() as u64, transform_calls());
}

#[tokio::test]
async fn rollover_report_against_simulator_is_exact_with_minimum_calls() {
    let sim = sim(None).await;
    let (out, calls) = rollover_out(&cache(&sim, 20)).await;
    assert!(
        out == read_sample("expected_rollover.txt"),
        "rollover report differs"
    );
    assert_eq!(calls, rollover_calls());
    assert_eq!(sim.calls().len() as u64, rollover_calls());
}

#[tokio::test]
async fn transform_then_rollover_over_one_cache_asks_nothing_twice() {
    let sim = sim(None).await;
    let cache = cache(&sim, 20);
    let (alma, _) = transform_out(&cache).await;
    let (rollover, _) = rollover_out(&cache).await;
    assert!(alma == read_sample("expected_alma.txt"));
    assert!(rollover == read_sample("expected_rollover.txt"));
    let calls = sim.calls();
    let mut distinct: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c.path.as_str(), c.query.as_str()))
        .collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), calls.len(), "a call was repeated");
    assert!(calls.len() as u64 <= transform_calls() + rollover_calls());
}

#[tokio::test]
async fn at_the_per_second_limit_with_injected_5xx_output_stays_exact() {
    let sim = sim(Some(Fault::EveryNth(7))).await;
    let (out, calls) = transform_out(&cache(&sim, 25)).await;
    assert!(
        out == read_sample("expected_alma.txt"),
        "loader file differs"
    );
    assert_eq!(ok_calls(&sim), transform_calls());
    assert_eq!(calls, sim.calls().len() as u64);
    assert!(
        sim.calls().iter().any(|c| c.status >= 500),
        "no fault was injected"
    );

    let sim = self::sim(Some(Fault::EveryNth(7))).await;
    let (out, calls) = rollover_out(&cache(&sim, 25)).await;
    assert!(
        out == read_sample("expected_rollover.txt"),
        "rollover report differs"
    );
    assert_eq!(ok_calls(&sim), rollover_calls());
    assert_eq!(calls, sim.calls().len() as u64);
}
