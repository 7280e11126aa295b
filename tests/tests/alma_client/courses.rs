//! Paging, year filtering, reading lists, delete and the cache, against the simulator.

use std::collections::HashSet;

use leganto_shared::alma::{AlmaError, CourseCache};
use leganto_shared::error::ErrorName;
use leganto_tests::alma_sim::{FixtureCourse, ListingChange, SimOptions};

use super::support::*;
use crate::sample_courses;

#[tokio::test]
async fn paging_a_year_takes_one_call_per_hundred_courses_in_alma_order() {
    let sim = start(sample_options()).await;
    let client = client(&sim);

    let courses = client.courses_of_year("2026").await.unwrap();
    let ids: Vec<String> = courses.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, ids_of_year("2026"));
    assert_eq!(courses.len(), 609);
    assert_eq!(client.calls_made(), 7, "ceil(609 / 100) pages");

    let calls = sim.calls();
    assert_eq!(calls.len(), 7);
    let offsets: HashSet<String> = calls
        .iter()
        .map(|c| {
            assert_eq!(c.path, "/almaws/v1/courses");
            assert!(c.query.contains("limit=100"), "{}", c.query);
            c.query
                .split('&')
                .find_map(|p| p.strip_prefix("offset="))
                .unwrap()
                .to_string()
        })
        .collect();
    let expected: HashSet<String> = (0..7).map(|p| (p * 100).to_string()).collect();
    assert_eq!(offsets, expected);
}

#[tokio::test]
async fn a_year_of_exactly_one_page_takes_one_call() {
    let sim = start(sample_options()).await;
    let client = client(&sim);
    let courses = client.courses_of_year("2023").await.unwrap();
    assert_eq!(courses.len(), 100);
    assert_eq!(client.calls_made(), 1);
    let none = client.courses_of_year("1999").await.unwrap();
    assert!(none.is_empty());
    assert_eq!(client.calls_made(), 2);
}

fn course(id: &str, year: &str) -> FixtureCourse {
    FixtureCourse {
        id: id.into(),
        code: format!("{year}Fall-X-TST{id}-{id}"),
        name: format!("TST {id}"),
        section: id.into(),
        year: year.into(),
        searchable_id: vec![format!("TST {id}")],
        reading_lists: false,
    }
}

#[tokio::test]
async fn courses_of_a_year_that_only_starts_with_the_year_are_dropped() {
    let courses = vec![
        course("1", "2025"),
        course("2", "20251"),
        course("3", "2025"),
        course("4", "2025-26"),
        course("5", "2026"),
    ];
    let sim = start(SimOptions {
        courses,
        per_second_limit: None,
        ..SimOptions::default()
    })
    .await;
    let client = client(&sim);

    // Alma's `~` is a word-prefix match: it finds 20251 and 2025-26 too.
    let page = client.search_courses("year~2025", 100, 0).await.unwrap();
    assert_eq!(page.total_record_count, 4);

    let got: Vec<String> = client
        .courses_of_year("2025")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(got, vec!["1", "3"]);
}

#[tokio::test]
async fn search_reads_the_fuller_course_record() {
    let sim = start(sample_options()).await;
    let client = client(&sim);
    let page = client
        .search_courses("code~2025FallB-X-MAT507-95463", 10, 0)
        .await
        .unwrap();
    assert_eq!(page.total_record_count, 1);
    let c = &page.courses[0];
    assert_eq!(c.id, "6100000000009");
    assert_eq!(c.section, "95463");
    assert_eq!(c.year, "2025");
    assert_eq!(c.name, "MAT 507 Research Übung");
    assert_eq!(c.searchable_id, vec!["MAT 507"]);

    let empty = client
        .search_courses("code~NOSUCHCOURSE", 10, 0)
        .await
        .unwrap();
    assert_eq!(empty.total_record_count, 0);
    assert!(empty.courses.is_empty());
}

#[tokio::test]
async fn a_limit_over_100_is_an_api_error_not_retried() {
    let sim = start(sample_options()).await;
    let client = client(&sim);
    let err = client
        .search_courses("year~2026", 101, 0)
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "AlmaApiError", "{err}");
    assert!(
        matches!(
            err,
            leganto_shared::alma::AlmaError::Api { status: 400, .. }
        ),
        "{err:?}"
    );
    assert_eq!(client.calls_made(), 1);
}

#[tokio::test]
async fn reading_lists_are_checked_once_per_distinct_course() {
    let sim = start(sample_options()).await;
    let client = client(&sim);
    let truth = reading_list_truth();
    let with: Vec<String> = truth
        .iter()
        .filter(|(_, v)| **v)
        .map(|(k, _)| k.clone())
        .take(20)
        .collect();
    let without: Vec<String> = truth
        .iter()
        .filter(|(_, v)| !**v)
        .map(|(k, _)| k.clone())
        .take(20)
        .collect();

    assert_eq!(client.reading_list_count(&with[0]).await.unwrap(), 1);
    assert!(!client.has_reading_lists(&without[0]).await.unwrap());
    assert_eq!(client.calls_made(), 2);

    let cache = CourseCache::new(client.clone());
    let mut asked: Vec<String> = with.iter().chain(&without).cloned().collect();
    asked.extend(with.iter().take(5).cloned()); // duplicates cost nothing
    let got = cache.reading_lists(&asked).await.unwrap();
    assert_eq!(got.len(), 40);
    for (id, has) in &got {
        assert_eq!(*has, truth[id], "course {id}");
    }
    assert_eq!(client.calls_made(), 2 + 40);

    // Overlapping request later in the run: only the new course is asked.
    let more = vec![with[3].clone(), without[7].clone(), with[20 - 1].clone()];
    let extra: Vec<String> = truth
        .keys()
        .filter(|k| !asked.contains(k))
        .take(1)
        .cloned()
        .collect();
    let got = cache
        .reading_lists(&[more, extra.clone()].concat())
        .await
        .unwrap();
    assert_eq!(got.len(), 4);
    assert_eq!(got[&extra[0]], truth[&extra[0]]);
    assert_eq!(client.calls_made(), 2 + 40 + 1);
    assert!(sim
        .calls()
        .iter()
        .skip(2)
        .all(|c| c.path.ends_with("/reading-lists")));
}

#[tokio::test]
async fn an_unknown_course_is_an_api_error_and_gone_only_once_a_search_confirms_it() {
    let sim = start(sample_options()).await;
    let client = client(&sim);
    let err = client.reading_list_count("999").await.unwrap_err();
    match &err {
        AlmaError::Api { status, code, .. } => {
            assert_eq!(*status, 400);
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
        other => panic!("{other:?}"),
    }
    let again = client.has_reading_lists("999").await.unwrap_err();
    assert_eq!(again.error_name(), "AlmaApiError", "no code means gone");
    assert_eq!(client.calls_made(), 2, "not retried");

    // No course 999 under that code: gone, on one search.
    assert!(client
        .confirms_gone(&err, "999", "2026Fall-X-NOPE-1")
        .await
        .unwrap());
    assert_eq!(client.calls_made(), 3);
    let search = sim.calls().pop().unwrap();
    assert_eq!(search.path, "/almaws/v1/courses");
    assert!(
        search.query.contains("q=code%7E2026Fall-X-NOPE-1"),
        "{search:?}"
    );
    // A course the search still lists is not gone, whatever the 400 said.
    let held = sample_courses().into_iter().next().unwrap();
    assert!(!client
        .confirms_gone(&err, &held.id, &held.code)
        .await
        .unwrap());
    // Other failures never mean gone, and ask nothing more.
    let calls = client.calls_made();
    for other in [
        AlmaError::Api {
            status: 404,
            code: "401006".into(),
            message: "m".into(),
        },
        AlmaError::QuotaExhausted { detail: "d".into() },
    ] {
        assert!(!client.confirms_gone(&other, "999", "C").await.unwrap());
    }
    assert_eq!(client.calls_made(), calls);
}

#[tokio::test]
async fn a_cached_course_deleted_since_has_no_reading_lists() {
    let sim = start(sample_options()).await;
    let cache = CourseCache::new(client(&sim));
    cache.load_years(&["2025".to_string()]).await.unwrap();
    let course = cache.courses_of_year("2025").unwrap()[0].clone();
    assert!(sim.remove_course(&course.id));
    sim.clear_calls();
    let got = cache
        .reading_lists(std::slice::from_ref(&course.id))
        .await
        .unwrap();
    assert_eq!(got.get(&course.id), Some(&false));
    let calls = sim.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(
        calls[0].path,
        format!("/almaws/v1/courses/{}/reading-lists", course.id)
    );
    assert_eq!(calls[0].status, 400);
    assert_eq!(calls[1].path, "/almaws/v1/courses");
    assert!(calls[1].query.contains(&course.code), "{:?}", calls[1]);
}

#[tokio::test]
async fn load_years_fetches_each_year_once_concurrently() {
    let sim = start(sample_options()).await;
    let cache = CourseCache::new(client(&sim));
    let years: Vec<String> = ["2025", "2026", "2025", "2023"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    cache.load_years(&years).await.unwrap();
    assert_eq!(cache.client().calls_made(), 5 + 7 + 1);
    assert_eq!(cache.courses_of_year("2025").unwrap().len(), 500);
    assert_eq!(cache.courses_of_year("2026").unwrap().len(), 609);
    assert_eq!(cache.courses_of_year("2023").unwrap().len(), 100);
    assert!(cache.courses_of_year("2024").is_none());

    cache.load_years(&years).await.unwrap();
    assert_eq!(cache.client().calls_made(), 13, "already loaded: no calls");

    // Two callers asking for the same new year at once share one fetch.
    let y = vec!["1999".to_string()];
    let (a, b) = tokio::join!(cache.load_years(&y), cache.load_years(&y));
    a.unwrap();
    b.unwrap();
    assert_eq!(cache.client().calls_made(), 14);
    assert_eq!(cache.courses_of_year("1999").unwrap().len(), 0);
}

#[tokio::test]
async fn delete_removes_the_course_and_a_second_delete_is_an_error() {
    let sim = start(sample_options()).await;
    let client = client(&sim);
    let id = "6100000000009";
    client.delete_course(id).await.unwrap();
    assert!(sim.courses().iter().all(|c| c.id != id));
    assert_eq!(sim.calls()[0].method, "DELETE");
    assert_eq!(sim.calls()[0].status, 204);

    let err = client.delete_course(id).await.unwrap_err();
    assert_eq!(err.error_name(), "AlmaApiError", "{err}");
    assert_eq!(client.calls_made(), 2);
}

#[tokio::test]
async fn the_key_travels_only_in_the_header() {
    let sim = start(sample_options()).await;
    let client = client(&sim);
    client.courses_of_year("2025").await.unwrap();
    client.has_reading_lists("6100000000009").await.unwrap();
    client.find_scheduled_job("7200000000001").await.unwrap();
    client.delete_course("6100000000016").await.unwrap();
    let calls = sim.calls();
    assert_eq!(calls.len(), 8);
    for c in &calls {
        assert!(c.key_in_header, "{c:?}");
        assert!(!c.key_in_query, "{c:?}");
        assert!(!c.query.contains(sim.api_key()), "{c:?}");
        assert!(!c.path.contains(sim.api_key()), "{c:?}");
    }
}

/// A 2026 course Alma does not hold at the start.
fn new_course() -> FixtureCourse {
    FixtureCourse {
        id: "6100000099999".into(),
        code: "2026Fall-X-NEW100-99999".into(),
        name: "NEW 100".into(),
        section: "99999".into(),
        year: "2026".into(),
        searchable_id: vec![],
        reading_lists: false,
    }
}

/// A 2026 course Alma does not hold at the start, numbered `n`.
fn another_course(n: u32) -> FixtureCourse {
    FixtureCourse {
        id: format!("61000000{n:05}"),
        code: format!("2026Fall-X-NEW{n}-{n}"),
        section: n.to_string(),
        ..new_course()
    }
}

#[tokio::test]
async fn a_year_whose_listing_changes_between_pages_is_listed_again() {
    let first_of_2026 = ids_of_year("2026")[0].clone();
    for (change, now_held) in [
        (ListingChange::Add(new_course()), 610),
        (ListingChange::Remove(first_of_2026), 608),
    ] {
        let sim = start(sample_options()).await;
        let cache = CourseCache::new(client(&sim));
        sim.change_listing_after_first_page(change.clone());
        cache.load_years(&["2026".to_string()]).await.unwrap();
        assert_eq!(cache.courses_of_year("2026").unwrap().len(), now_held);
        // The broken listing's 7 pages, then 7 pages of a listing that holds together.
        assert_eq!(cache.client().calls_made(), 7 + 7, "{change:?}");
        let first_pages = sim
            .calls()
            .iter()
            .filter(|c| c.query.contains("offset=0&") || c.query.ends_with("offset=0"))
            .count();
        assert_eq!(first_pages, 2, "{change:?}");
    }
}

#[tokio::test]
async fn a_year_whose_listing_keeps_changing_fails_and_is_listed_afresh_next_time() {
    let sim = start(sample_options()).await;
    let mut cfg = config(&sim);
    cfg.max_retries = 2;
    cfg.backoff_base = std::time::Duration::from_millis(5);
    let cache = CourseCache::new(leganto_shared::alma::AlmaClient::new(cfg).unwrap());
    for n in 1..=3 {
        sim.change_listing_after_first_page(ListingChange::Add(another_course(n)));
    }
    let err = cache.load_years(&["2026".to_string()]).await.unwrap_err();
    assert_eq!(err.error_name(), "AlmaInvalidResponse", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("the listing changed while it was read"),
        "{text}"
    );
    assert!(text.contains("GET /almaws/v1/courses"), "{text}");
    assert!(cache.courses_of_year("2026").is_none());
    assert_eq!(cache.client().calls_made(), 3 * 7, "three listings");
    // Forgotten, saved pages too: the next try lists the year afresh.
    let unsaved = cache.unsaved();
    assert_eq!(unsaved.years.len(), 1);
    assert!(unsaved.years[0].pages.is_empty());
    cache.load_years(&["2026".to_string()]).await.unwrap();
    assert_eq!(cache.client().calls_made(), 3 * 7 + 7);
    assert_eq!(cache.courses_of_year("2026").unwrap().len(), 612);
}

#[tokio::test]
async fn a_search_whose_listing_changes_between_pages_is_an_invalid_response() {
    let sim = start(sample_options()).await;
    let client = client(&sim);
    sim.change_listing_after_first_page(ListingChange::Remove(ids_of_year("2025")[3].clone()));
    let err = client.courses_of_year("2025").await.unwrap_err();
    assert_eq!(err.error_name(), "AlmaInvalidResponse", "{err}");
    // A listing that holds still passes.
    assert_eq!(client.courses_of_year("2025").await.unwrap().len(), 499);
    assert_eq!(client.courses_of_year("2026").await.unwrap().len(), 609);
}
