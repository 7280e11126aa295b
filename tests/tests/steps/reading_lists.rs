//! An answer about a course's reading lists that cannot be read stops the transform: no
//! answer is not "no lists", so no DELETE goes out on it.

use leganto_shared::error::ErrorName as _;
use leganto_tests::alma_sim::BrokenAnswer;
use leganto_tests::support::RUN_DATE;
use serde_json::json;

use super::{expect_error, World, EXPORT_NAME};
use crate::{read_sample, sample_courses};

/// The Alma id of the first course the sample day's expected loader file deletes.
fn a_course_the_day_deletes() -> String {
    let expected = String::from_utf8(read_sample("expected_alma.txt")).unwrap();
    let (code, section) = expected
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|cols| cols.get(28) == Some(&"DELETE"))
        .map(|cols| (cols[0].to_string(), cols[2].to_string()))
        .expect("the sample day deletes a course");
    sample_courses()
        .into_iter()
        .find(|c| c.code == code && c.section == section)
        .map(|c| c.id)
        .unwrap_or_else(|| panic!("{code} section {section} is not in the sample courses"))
}

#[tokio::test]
async fn an_unreadable_reading_list_answer_fails_the_transform_and_writes_nothing() {
    let world = World::start("unreadable-lists").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("pull", &mut state, "pull").await;
    let course = a_course_the_day_deletes();

    for answer in [BrokenAnswer::Empty, BrokenAnswer::NoCount] {
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
