//! An answer about a course's reading lists that cannot be read stops the transform: no
//! answer is not "no lists", so no DELETE goes out on it. One that reads but says neither a
//! count nor a list holds back that course's DELETE only: the day goes on.

use leganto_shared::error::ErrorName as _;
use leganto_tests::alma_sim::BrokenAnswer;
use leganto_tests::support::RUN_DATE;
use serde_json::json;

use super::{expect_error, World, ALMA, EXPORT_NAME};
use crate::{read_sample, sample_courses};

/// The code of the first course the sample day's expected loader file deletes, and the
/// Alma ids of the courses Alma holds under it.
fn a_code_the_day_deletes() -> (String, Vec<String>) {
    let expected = String::from_utf8(read_sample("expected_alma.txt")).unwrap();
    let code = expected
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|cols| cols.get(28) == Some(&"DELETE"))
        .map(|cols| cols[0].to_string())
        .expect("the sample day deletes a course");
    let ids: Vec<String> = sample_courses()
        .into_iter()
        .filter(|c| c.code == code)
        .map(|c| c.id)
        .collect();
    assert!(!ids.is_empty(), "{code} is not in the sample courses");
    (code, ids)
}

/// The Alma id of the first course the sample day's expected loader file deletes.
fn a_course_the_day_deletes() -> String {
    a_code_the_day_deletes().1.remove(0)
}

/// The sample day's expected loader file without the DELETE rows of `code`.
fn expected_without_deletes_of(code: &str) -> String {
    String::from_utf8(read_sample("expected_alma.txt"))
        .unwrap()
        .split("\r\n")
        .filter(|l| !(l.starts_with(&format!("{code}\t")) && l.contains("\tDELETE\t")))
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[tokio::test]
async fn an_unreadable_reading_list_answer_fails_the_transform_and_writes_nothing() {
    let world = World::start("unreadable-lists").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("pull", &mut state, "pull").await;
    let course = a_course_the_day_deletes();

    for answer in [BrokenAnswer::Empty, BrokenAnswer::NotParseable] {
        world.sim.break_reading_lists(&course, Some(answer));
        let err = expect_error(world.call("transform", state.clone()).await);
        assert_eq!(err.error_name(), "AlmaInvalidResponse", "{answer:?}: {err}");
        assert!(
            err.message()
                .contains(&format!("/courses/{course}/reading-lists")),
            "{}",
            err.message()
        );
        assert!(world.s3_keys("alma/").await.is_empty(), "{answer:?}");
        assert!(world.s3_keys("reports/").await.is_empty(), "{answer:?}");
    }

    // Answered properly again, the same day transforms and deletes the course.
    world.sim.break_reading_lists(&course, None);
    world.step("transform", &mut state, "transform").await;
    let loader = world.s3_keys("alma/2026/11/28/").await;
    assert_eq!(loader.len(), 1);
    assert!(world.s3_get(&loader[0]).await == read_sample("expected_alma.txt"));
}

#[tokio::test]
async fn an_answer_that_says_nothing_holds_back_that_delete_and_the_day_goes_on() {
    let world = World::start("unclear-lists").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("pull", &mut state, "pull").await;
    let (code, ids) = a_code_the_day_deletes();
    // `{}`: neither a count nor a list.
    world
        .sim
        .break_reading_lists(&ids[0], Some(BrokenAnswer::Silent));

    let transform = world.step("transform", &mut state, "transform").await;
    assert_eq!(transform["counts"]["deletes_unclear"], 1, "{transform}");
    let loader = world.s3_keys("alma/2026/11/28/").await;
    assert_eq!(loader.len(), 1);
    let written = String::from_utf8(world.s3_get(&loader[0]).await).unwrap();
    assert_eq!(written, expected_without_deletes_of(&code));
    let summary: serde_json::Value =
        serde_json::from_slice(&world.s3_get("reports/2026/11/28/run-summary.json").await).unwrap();
    let details = &summary["details"];
    assert_eq!(details["deletes"]["suppressed_unclear"], 1, "{details}");
    let unclear: Vec<&serde_json::Value> = details["suppressed_deletes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["reason"] == "Alma's answer did not say")
        .collect();
    assert_eq!(unclear.len(), 1, "{details}");
    assert_eq!(unclear[0]["course_code"], code.as_str());

    // The Slack summary says so.
    world
        .call("notify-slack", json!({"kind": "summary", "state": state}))
        .await
        .unwrap();
    let text = world.slack.posts()[0].to_string();
    assert!(
        text.contains("1 DELETE rows not sent: Alma's answer did not say"),
        "{text}"
    );
}

#[tokio::test]
async fn an_explicit_empty_list_or_a_count_of_zero_means_no_lists() {
    let world = World::start("empty-lists").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("pull", &mut state, "pull").await;
    // `{"reading_list": []}` for one course the day deletes; the others answer
    // `{"total_record_count": 0}`, as Alma's answer for a course without lists.
    world
        .sim
        .break_reading_lists(&a_course_the_day_deletes(), Some(BrokenAnswer::EmptyList));
    let transform = world.step("transform", &mut state, "transform").await;
    assert_eq!(transform["counts"]["deletes_unclear"], 0, "{transform}");
    let loader = world.s3_keys("alma/2026/11/28/").await;
    assert!(world.s3_get(&loader[0]).await == read_sample("expected_alma.txt"));
}

#[tokio::test]
async fn at_a_late_push_an_answer_that_says_nothing_drops_that_delete_only() {
    let world = World::start("unclear-at-push").await;
    let loader = String::from_utf8(read_sample("expected_alma.txt")).unwrap();
    world
        .put_loader_file(
            "20261128092514.txt",
            loader.clone().into_bytes(),
            chrono::Utc::now() - chrono::Duration::days(10),
        )
        .await;
    let (code, ids) = a_code_the_day_deletes();
    world
        .sim
        .break_reading_lists(&ids[0], Some(BrokenAnswer::Silent));
    let mut state = world
        .plan(json!({"run_date": RUN_DATE, "start_at": "push"}))
        .await
        .unwrap();
    let pushed = world.step("push", &mut state, "push").await;
    let dropped = loader
        .split("\r\n")
        .filter(|l| l.starts_with(&format!("{code}\t")) && l.contains("\tDELETE\t"))
        .count();
    assert!(dropped >= 1);
    assert_eq!(pushed["deletes_dropped_at_push"], dropped, "{pushed}");
    let name = pushed["file_name"].as_str().unwrap();
    let sent = std::fs::read_to_string(world.sshd.directory(ALMA).join(name)).unwrap();
    assert_eq!(sent, expected_without_deletes_of(&code));
}
