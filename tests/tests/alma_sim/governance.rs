//! Limits and faults: per-second threshold, daily quota, injected 5xx, latency, call log.

use std::time::Duration;

use futures::future::join_all;
use leganto_tests::alma_sim::{AlmaSim, Fault, NOMINAL_DAILY_QUOTA};
use reqwest::StatusCode;

use super::common::*;

async fn burst(sim: &AlmaSim, n: usize) -> Vec<Reply> {
    let client = client();
    join_all((0..n).map(|_| {
        send(
            client
                .get(format!("{}/almaws/v1/courses?limit=1", sim.base_url()))
                .header("Authorization", format!("apikey {}", sim.api_key()))
                .header("Accept", "application/json"),
        )
    }))
    .await
}

#[tokio::test]
async fn a_concurrent_burst_over_the_per_second_limit_gets_429_and_is_not_counted() {
    let sim = start(small_store(), |o| o.per_second_limit = Some(5)).await;
    let replies = burst(&sim, 40).await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let limited: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(ok + limited.len(), 40);
    assert!(ok >= 1);
    assert!(!limited.is_empty(), "40 calls at once against a limit of 5");
    for r in &limited {
        assert_eq!(r.error_code(), "PER_SECOND_THRESHOLD");
    }
    // Once the window has moved on, the next call is served and only served calls counted.
    let mut next = get(&sim, "/almaws/v1/courses?limit=1").await;
    for _ in 0..100 {
        if next.status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        next = get(&sim, "/almaws/v1/courses?limit=1").await;
    }
    assert_eq!(next.status, StatusCode::OK);
    let served = sim.calls().iter().filter(|c| c.status == 200).count() as u64;
    assert_eq!(next.remaining(), NOMINAL_DAILY_QUOTA - served);
    assert!(sim.calls().iter().any(|c| c.status == 429));
}

#[tokio::test]
async fn without_a_per_second_limit_a_burst_is_all_served() {
    let sim = start(small_store(), |o| o.per_second_limit = None).await;
    let replies = burst(&sim, 40).await;
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
}

#[tokio::test]
async fn a_spent_daily_quota_gives_429_daily_threshold() {
    let sim = start(small_store(), |o| o.daily_quota = Some(3)).await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = get(&sim, "/almaws/v1/courses").await;
        assert_eq!(r.status, StatusCode::OK);
        remaining.push(r.remaining());
    }
    assert_eq!(remaining, [2, 1, 0]);
    for _ in 0..2 {
        let r = get(&sim, "/almaws/v1/courses").await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.error_code(), "DAILY_THRESHOLD");
        assert_eq!(r.remaining(), 0);
    }
}

#[tokio::test]
async fn every_nth_fault_answers_500_on_exactly_those_calls() {
    let sim = start(small_store(), |o| o.fault = Some(Fault::EveryNth(3))).await;
    let mut statuses = Vec::new();
    for _ in 0..9 {
        let r = get(&sim, "/almaws/v1/courses/6100000000003").await;
        if r.status == StatusCode::INTERNAL_SERVER_ERROR {
            assert_eq!(r.error_code(), "402119");
        }
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 500, 200, 200, 500, 200, 200, 500]);
}

#[tokio::test]
async fn a_faulted_delete_deletes_nothing() {
    let sim = start(small_store(), |o| o.fault = Some(Fault::EveryNth(1))).await;
    let r = send(
        client()
            .delete(format!(
                "{}/almaws/v1/courses/6100000000001",
                sim.base_url()
            ))
            .header("Authorization", format!("apikey {}", sim.api_key())),
    )
    .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    // No format asked for: Alma's XML.
    assert!(r.is_xml(), "{}", r.text);
    assert_eq!(r.error_code(), "402119");
    assert_eq!(sim.courses().len(), 4);
}

#[tokio::test]
async fn fault_rate_fails_that_share_of_calls() {
    for (rate, expect_all, expect_none) in
        [(1.0, true, false), (0.0, false, true), (0.5, false, false)]
    {
        let sim = start(small_store(), |o| {
            o.fault = Some(Fault::Rate(rate));
            o.per_second_limit = None;
        })
        .await;
        let replies = burst(&sim, 120).await;
        let failed = replies
            .iter()
            .filter(|r| r.status == StatusCode::INTERNAL_SERVER_ERROR)
            .count();
        let ok = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        assert_eq!(failed + ok, 120);
        if expect_all {
            assert_eq!(failed, 120, "rate {rate}");
        } else if expect_none {
            assert_eq!(failed, 0, "rate {rate}");
        } else {
            // Chance of either bound failing at p = 0.5 over 120 calls is about 1e-9.
            assert!(
                (20..=100).contains(&failed),
                "rate {rate}: {failed} of 120 failed"
            );
        }
    }
}

#[tokio::test]
async fn with_latency_concurrent_clients_are_all_answered() {
    let sim = start(small_store(), |o| {
        o.latency = Duration::from_millis(150);
        o.per_second_limit = Some(25);
    })
    .await;
    let replies = burst(&sim, 25).await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(sim.calls().len(), 25);
}

#[tokio::test]
async fn the_call_log_records_each_call_in_order_with_its_status() {
    let sim = start(small_store(), |_| {}).await;
    get(&sim, "/almaws/v1/courses?q=year~2026&limit=100&offset=0").await;
    get(&sim, "/almaws/v1/courses/6100000000003?view=full").await;
    send(client().get(format!("{}/almaws/v1/conf/jobs", sim.base_url()))).await;
    let calls = sim.calls();
    let summary: Vec<(&str, &str, &str, u16)> = calls
        .iter()
        .map(|c| {
            (
                c.method.as_str(),
                c.path.as_str(),
                c.query.as_str(),
                c.status,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "GET",
                "/almaws/v1/courses",
                "q=year~2026&limit=100&offset=0",
                200
            ),
            ("GET", "/almaws/v1/courses/6100000000003", "view=full", 200),
            ("GET", "/almaws/v1/conf/jobs", "", 403),
        ]
    );
    sim.clear_calls();
    assert!(sim.calls().is_empty());
}
