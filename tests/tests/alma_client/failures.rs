//! Failures: bad key, faults, limits, quota, an unreachable or slow Alma.

use std::time::{Duration, Instant};

use leganto_shared::alma::{AlmaClient, AlmaClientConfig, AlmaError, CourseCache};
use leganto_shared::error::ErrorName;
use leganto_tests::alma_sim::{BrokenAnswer, Fault, SimOptions};
use secrecy::SecretString;

use super::support::*;

#[tokio::test]
async fn a_wrong_key_is_unauthorized_at_once_and_never_shown() {
    // Alma answers a bad key 403 or 400, UNAUTHORIZED, in XML though JSON was asked for.
    for status in [403, 400] {
        let sim = start(SimOptions {
            bad_key_status: status,
            ..sample_options()
        })
        .await;
        let mut cfg = config(&sim);
        cfg.api_key = SecretString::from("wrong-key-123".to_string());
        let client = AlmaClient::new(cfg).unwrap();
        let err = client.courses_of_year("2026").await.unwrap_err();
        assert_eq!(err.error_name(), "AlmaUnauthorized", "{status}: {err}");
        let text = err.to_string();
        assert!(text.contains("check the API key"), "{text}");
        assert!(text.contains(&format!("HTTP {status}")), "{text}");
        assert!(!text.contains("wrong-key-123") && !format!("{err:?}").contains("wrong-key-123"));
        assert_eq!(client.calls_made(), 1, "a bad key is not retried");
        let err = client.delete_course("6100000000009").await.unwrap_err();
        assert_eq!(err.error_name(), "AlmaUnauthorized", "{status}: {err}");
        assert_eq!(client.calls_made(), 2, "a bad key is not retried");
        let statuses: Vec<u16> = sim.calls().iter().map(|c| c.status).collect();
        assert_eq!(statuses, [status, status]);
    }
}

#[tokio::test]
async fn server_errors_are_retried_transparently() {
    let sim = start(SimOptions {
        fault: Some(Fault::EveryNth(3)),
        ..sample_options()
    })
    .await;
    let cache = CourseCache::new(client(&sim));
    cache
        .load_years(&["2026".to_string(), "2025".to_string()])
        .await
        .unwrap();
    let ids: Vec<String> = ids_of_year("2025").into_iter().take(30).collect();
    let got = cache.reading_lists(&ids).await.unwrap();

    assert_eq!(cache.courses_of_year("2026").unwrap().len(), 609);
    assert_eq!(cache.courses_of_year("2025").unwrap().len(), 500);
    let truth = reading_list_truth();
    assert!(ids.iter().all(|id| got[id] == truth[id]));

    let calls = sim.calls();
    let failed = count_status(&calls, 500);
    assert!(failed >= 10, "every third call failed: {failed}");
    assert_eq!(count_status(&calls, 200), 12 + 30);
    assert_eq!(cache.client().calls_made() as usize, calls.len());
}

#[tokio::test]
async fn per_second_limit_answers_are_retried_until_served() {
    let sim = start(SimOptions {
        per_second_limit: Some(10),
        ..sample_options()
    })
    .await;
    let mut cfg = config(&sim);
    cfg.rate_per_second = 200; // deliberately over Alma's limit
    cfg.max_retries = 8;
    let cache = CourseCache::new(AlmaClient::new(cfg).unwrap());
    cache
        .load_years(&["2026".to_string(), "2025".to_string()])
        .await
        .unwrap();
    assert_eq!(cache.courses_of_year("2026").unwrap().len(), 609);
    assert_eq!(cache.courses_of_year("2025").unwrap().len(), 500);

    let calls = sim.calls();
    let throttled = count_status(&calls, 429);
    assert!(throttled > 0, "the limit was hit");
    assert_eq!(count_status(&calls, 200), 12);
    assert_eq!(cache.client().calls_made() as usize, 12 + throttled);
}

#[tokio::test]
async fn the_daily_quota_ends_the_run_without_retries() {
    let sim = start(SimOptions {
        daily_quota: Some(3),
        ..sample_options()
    })
    .await;
    let mut cfg = config(&sim);
    cfg.remaining_floor = 0;
    cfg.max_concurrency = 1;
    let client = AlmaClient::new(cfg).unwrap();
    let err = client.courses_of_year("2026").await.unwrap_err();
    assert_eq!(err.error_name(), "AlmaQuotaExhausted", "{err}");
    assert!(err.to_string().contains("DAILY_THRESHOLD"), "{err}");
    assert_eq!(client.calls_made(), 4, "3 served, 1 refused, none retried");

    // Later calls are refused without asking Alma.
    let again = client.has_reading_lists("6100000000009").await.unwrap_err();
    assert_eq!(again.error_name(), "AlmaQuotaExhausted");
    assert_eq!(client.calls_made(), 4);
    let calls = sim.calls();
    assert_eq!(
        (count_status(&calls, 200), count_status(&calls, 429)),
        (3, 1)
    );
}

#[tokio::test]
async fn remaining_calls_below_the_floor_stop_the_client() {
    let sim = start(SimOptions {
        daily_quota: Some(1000),
        ..sample_options()
    })
    .await;
    let mut cfg = config(&sim);
    cfg.remaining_floor = 995;
    cfg.max_concurrency = 1;
    let client = AlmaClient::new(cfg).unwrap();
    let cache = CourseCache::new(client.clone());
    let ids: Vec<String> = ids_of_year("2025").into_iter().take(20).collect();
    let err = cache.reading_lists(&ids).await.unwrap_err();
    assert_eq!(err.error_name(), "AlmaQuotaExhausted", "{err}");
    let text = err.to_string();
    assert!(text.contains("994") && text.contains("995"), "{text}");
    // Remaining 999, 998, …, 994: the sixth answer is under the floor, the seventh is not sent.
    assert_eq!(client.calls_made(), 6);
    assert_eq!(sim.calls().len(), 6);
    assert_eq!(client.last_remaining(), Some(994));
}

#[tokio::test]
async fn an_unreachable_alma_is_unavailable_after_the_retries() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // dropped: nothing listens there now
    let mut cfg = leganto_shared::alma::AlmaClientConfig::new(
        format!("http://127.0.0.1:{port}"),
        SecretString::from("k".to_string()),
    );
    cfg.max_retries = 2;
    let client = AlmaClient::new(cfg).unwrap();
    let err = client.courses_of_year("2026").await.unwrap_err();
    assert_eq!(err.error_name(), "AlmaUnavailable");
    let text = err.to_string();
    assert!(
        text.contains("GET /almaws/v1/courses failed after 3 tries"),
        "{text}"
    );
    assert!(text.contains("could not connect"), "{text}");
    assert!(std::error::Error::source(&err).is_some(), "keeps the cause");
    assert_eq!(client.calls_made(), 3);
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_retried_then_unavailable() {
    let sim = start(SimOptions {
        latency: Duration::from_millis(800),
        ..sample_options()
    })
    .await;
    let mut cfg = config(&sim);
    cfg.timeout = Duration::from_millis(150);
    cfg.max_retries = 1;
    let client = AlmaClient::new(cfg).unwrap();
    let err = client.has_reading_lists("6100000000009").await.unwrap_err();
    assert!(
        matches!(err, AlmaError::Unavailable { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(client.calls_made(), 2);
}

#[tokio::test]
async fn a_failed_delete_is_never_retried() {
    let sim = start(SimOptions {
        fault: Some(Fault::EveryNth(1)),
        ..sample_options()
    })
    .await;
    let client = client(&sim);
    let err = client.delete_course("6100000000009").await.unwrap_err();
    assert!(
        matches!(err, AlmaError::Unavailable { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(client.calls_made(), 1);
    assert!(sim.courses().iter().any(|c| c.id == "6100000000009"));
}

#[tokio::test]
async fn gets_give_up_after_max_retries_of_server_errors() {
    let sim = start(SimOptions {
        fault: Some(Fault::EveryNth(1)),
        ..sample_options()
    })
    .await;
    let mut cfg = config(&sim);
    cfg.max_retries = 3;
    let client = AlmaClient::new(cfg).unwrap();
    let err = client.courses_of_year("2023").await.unwrap_err();
    assert!(
        matches!(err, AlmaError::Unavailable { attempts: 4, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    assert_eq!(count_status(&sim.calls(), 500), 4);
}

#[tokio::test]
async fn a_reading_list_answer_empty_unreadable_or_saying_nothing_is_never_no_lists() {
    let sim = start(sample_options()).await;
    let truth = reading_list_truth();
    let empty = ids_of_year("2025")
        .into_iter()
        .find(|id| !truth[id])
        .unwrap();
    let client = client(&sim);
    assert!(!client.has_reading_lists(&empty).await.unwrap());

    for (answer, why) in [
        (BrokenAnswer::Empty, "the body is empty"),
        (
            BrokenAnswer::Silent,
            "it has no total_record_count and no reading_list",
        ),
        (
            BrokenAnswer::NotParseable,
            "does not have the expected shape",
        ),
    ] {
        sim.break_reading_lists(&empty, Some(answer));
        let calls = client.calls_made();
        for err in [
            client.reading_list_count(&empty).await.unwrap_err(),
            client.has_reading_lists(&empty).await.unwrap_err(),
        ] {
            assert_eq!(err.error_name(), "AlmaInvalidResponse", "{answer:?}: {err}");
            let text = err.to_string();
            assert!(
                text.contains(&format!("/courses/{empty}/reading-lists")),
                "{text}"
            );
            assert!(text.contains(why), "{answer:?}: {text}");
            assert!(text.contains("re-run"), "{text}");
        }
        assert_eq!(client.calls_made(), calls + 2, "{answer:?}: not retried");
    }

    // The cache passes an unreadable one on and keeps nothing: mended, the course is asked
    // again.
    sim.break_reading_lists(&empty, Some(BrokenAnswer::Empty));
    let cache = CourseCache::new(client.clone());
    let err = cache
        .reading_lists(std::slice::from_ref(&empty))
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "AlmaInvalidResponse");
    sim.break_reading_lists(&empty, None);
    let got = cache
        .reading_lists(std::slice::from_ref(&empty))
        .await
        .unwrap();
    assert!(!got[&empty]);
}

#[tokio::test]
async fn the_daily_quota_answered_in_xml_ends_the_run_without_retries() {
    let sim = start(SimOptions {
        daily_quota: Some(1),
        governance_in_xml: true,
        ..sample_options()
    })
    .await;
    let mut cfg = config(&sim);
    cfg.remaining_floor = 0;
    let client = AlmaClient::new(cfg).unwrap();
    assert!(client.has_reading_lists("6100000000009").await.is_ok());
    let err = client.has_reading_lists("6100000000009").await.unwrap_err();
    assert_eq!(err.error_name(), "AlmaQuotaExhausted", "{err}");
    assert!(err.to_string().contains("DAILY_THRESHOLD"), "{err}");
    assert_eq!(client.calls_made(), 2, "1 served, 1 refused, none retried");
    let calls = sim.calls();
    assert_eq!(count_status(&calls, 429), 1);
}

/// A client backing off from 20 ms up to 250 ms, so a long burst takes real time only once.
fn quick_backoff(sim: &leganto_tests::alma_sim::AlmaSim) -> AlmaClientConfig {
    let mut cfg = config(sim);
    cfg.backoff_base = Duration::from_millis(20);
    cfg.backoff_cap = Duration::from_millis(250);
    cfg
}

#[tokio::test]
async fn a_per_second_burst_longer_than_six_seconds_is_ridden_out_before_the_deadline() {
    let sim = start(sample_options()).await;
    let client = AlmaClient::new(quick_backoff(&sim)).unwrap();
    let started = Instant::now();
    sim.throttle_for(Duration::from_millis(6_500));
    let bounded = client.until(started + Duration::from_secs(30));
    assert!(bounded.has_reading_lists("6100000000009").await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(6_500));
    let calls = sim.calls();
    assert_eq!(count_status(&calls, 200), 1);
    let throttled = count_status(&calls, 429);
    assert!(
        throttled > 6,
        "far more tries than max_retries: {throttled}"
    );
    assert_eq!(client.calls_made() as usize, throttled + 1);
}

#[tokio::test]
async fn a_per_second_burst_past_the_deadline_is_unavailable_at_the_deadline() {
    let sim = start(sample_options()).await;
    let client = AlmaClient::new(quick_backoff(&sim)).unwrap();
    sim.throttle_for(Duration::from_secs(60));
    let started = Instant::now();
    let deadline = started + Duration::from_millis(1_500);
    let err = client
        .until(deadline)
        .has_reading_lists("6100000000009")
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "AlmaUnavailable", "{err}");
    assert!(err.to_string().contains("PER_SECOND_THRESHOLD"), "{err}");
    assert!(Instant::now() <= deadline + Duration::from_millis(200));
    assert!(client.calls_made() > 6, "{}", client.calls_made());
}

#[tokio::test]
async fn without_a_deadline_a_per_second_burst_gets_max_retries() {
    let sim = start(sample_options()).await;
    let mut cfg = quick_backoff(&sim);
    cfg.max_retries = 3;
    let client = AlmaClient::new(cfg).unwrap();
    sim.throttle_for(Duration::from_secs(60));
    let err = client.has_reading_lists("6100000000009").await.unwrap_err();
    assert_eq!(err.error_name(), "AlmaUnavailable", "{err}");
    assert!(err.to_string().contains("after 4 tries"), "{err}");
    assert_eq!(client.calls_made(), 4);

    // A deadline does not stretch the retries of other failures.
    let sim = start(SimOptions {
        fault: Some(Fault::Rate(1.0)),
        ..sample_options()
    })
    .await;
    let mut cfg = quick_backoff(&sim);
    cfg.max_retries = 3;
    let client = AlmaClient::new(cfg).unwrap();
    let err = client
        .until(Instant::now() + Duration::from_secs(30))
        .has_reading_lists("6100000000009")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("after 4 tries"), "{err}");
}

#[tokio::test]
async fn the_cache_leaves_out_an_answer_that_says_nothing_and_reads_an_explicit_list() {
    let sim = start(sample_options()).await;
    let truth = reading_list_truth();
    let ids = ids_of_year("2025");
    let without: Vec<String> = ids
        .iter()
        .filter(|id| !truth[*id])
        .take(3)
        .cloned()
        .collect();
    let with = ids.iter().find(|id| truth[*id]).unwrap().clone();
    let (silent, empty_list, zero) = (&without[0], &without[1], &without[2]);
    sim.break_reading_lists(silent, Some(BrokenAnswer::Silent));
    sim.break_reading_lists(empty_list, Some(BrokenAnswer::EmptyList));
    // A list without its count: the course has lists.
    sim.break_reading_lists(&with, Some(BrokenAnswer::NoCount));

    let cache = CourseCache::new(client(&sim));
    let asked = vec![
        silent.clone(),
        empty_list.clone(),
        zero.clone(),
        with.clone(),
    ];
    let got = cache.reading_lists(&asked).await.unwrap();
    assert_eq!(
        got.get(silent),
        None,
        "an answer that says nothing is no answer"
    );
    assert_eq!(got.get(empty_list), Some(&false));
    assert_eq!(got.get(zero), Some(&false));
    assert_eq!(got.get(&with), Some(&true));
    assert_eq!(
        cache.unclear_reading_lists(&asked),
        std::collections::HashSet::from([silent.clone()])
    );
    assert_eq!(cache.client().calls_made(), 4);
    // Asked once per run; and never saved, so a later step asks again.
    cache.reading_lists(&asked).await.unwrap();
    assert_eq!(cache.client().calls_made(), 4);
    let saved = cache.unsaved().reading_lists.unwrap();
    assert!(!saved.answers.contains_key(silent));
    assert_eq!(saved.answers.len(), 3);
}
