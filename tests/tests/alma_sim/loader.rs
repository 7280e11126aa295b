//! The course loader, rule by rule, through the drop directory.

use std::time::Duration;

use chrono::{NaiveDate, TimeDelta, Utc};
use leganto_tests::alma_sim::{AlmaSim, JobInstance, JobStatus, SimCourse, SimOptions};

use super::common::*;
use crate::{read_sample, sample_courses};

async fn load(sim: &AlmaSim, dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> JobInstance {
    drop_file(dir.path(), name, bytes);
    let mut runs = sim.run_loader_now().await.expect("loader runs");
    assert_eq!(runs.len(), 1, "one new file, one run");
    runs.remove(0)
}

fn find<'a>(courses: &'a [SimCourse], code: &str, section: &str) -> Option<&'a SimCourse> {
    courses
        .iter()
        .find(|c| c.code == code && c.section == section)
}

fn store_with_lists() -> Vec<leganto_tests::alma_sim::FixtureCourse> {
    vec![
        fixture(
            "6100000000010",
            "2025Fall-X-ENG101-11111",
            "11111",
            "ENG 101 Old",
            &["ENG 101"],
            true,
        ),
        fixture(
            "6100000000011",
            "2025Fall-X-ENG102-22222",
            "22222",
            "ENG 102 Old",
            &[],
            false,
        ),
    ]
}

#[tokio::test]
async fn a_file_without_crlf_fails_the_whole_run() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    let lf = String::from_utf8(loader_file(&[Row::new("2026Fall-X-LAW100-11111", "11111")]))
        .unwrap()
        .replace("\r\n", "\n");
    let run = load(&sim, &dir, "20261128010000.txt", lf.as_bytes()).await;
    assert_eq!(run.status, JobStatus::CompletedFailed);
    assert!(
        run.failure.as_deref().unwrap().contains("CRLF"),
        "{:?}",
        run.failure
    );
    assert!(sim.courses().is_empty());
}

#[tokio::test]
async fn a_row_with_the_wrong_column_count_fails_the_whole_run() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    let good = Row::new("2026Fall-X-LAW100-11111", "11111");
    let mut short = Row::new("2026Fall-X-LAW200-22222", "22222");
    short.0.truncate(31);
    let run = load(
        &sim,
        &dir,
        "20261128010000.txt",
        &loader_file(&[good, short]),
    )
    .await;
    assert_eq!(run.status, JobStatus::CompletedFailed);
    assert!(
        run.failure.as_deref().unwrap().contains("31 columns"),
        "{:?}",
        run.failure
    );
    assert!(sim.courses().is_empty(), "nothing of a failed file loads");
}

#[tokio::test]
async fn a_file_that_is_not_utf8_fails_the_whole_run() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    let mut bytes = loader_file(&[Row::new("2026Fall-X-LAW100-11111", "11111").title("Caf")]);
    // "Café" in Windows-1252.
    let at = bytes.windows(3).position(|w| w == b"Caf").unwrap() + 3;
    bytes.insert(at, 0xE9);
    let run = load(&sim, &dir, "20261128010000.txt", &bytes).await;
    assert_eq!(run.status, JobStatus::CompletedFailed);
    assert!(run.failure.as_deref().unwrap().contains("UTF-8"));
    assert!(sim.courses().is_empty());
}

#[tokio::test]
async fn a_blank_operation_creates_the_course_with_every_field() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    let row = Row::new("2026FallA-X-ENG439-88146", "88146")
        .title("ENG 439 Théorie")
        .dept("ASU_ONLINE")
        .set(5, "TERM1")
        .set(9, "20-08-2026")
        .set(10, "11-12-2026")
        .set(11, "30")
        .set(14, "ENG 439")
        .set(16, "ENG 439,88146,5555")
        .instructor(1, "gs22")
        .instructor(3, "xy11")
        .all_instructors("fg29, kh78,gs22");
    let run = load(&sim, &dir, "20261128010000.txt", &loader_file(&[row])).await;
    assert_eq!(
        run.status,
        JobStatus::CompletedSuccess,
        "{:?}",
        run.row_errors
    );
    assert_eq!((run.counters.rows_read, run.counters.created), (1, 1));

    let courses = sim.courses();
    let c = find(&courses, "2026FallA-X-ENG439-88146", "88146").unwrap();
    assert_eq!(c.name, "ENG 439 Théorie");
    assert_eq!(c.year, "2026");
    assert_eq!(c.processing_department.as_deref(), Some("ASU_ONLINE"));
    assert_eq!(c.academic_department.as_deref(), Some("LW"));
    assert_eq!(c.terms, ["TERM1"]);
    assert_eq!(c.start_date, NaiveDate::from_ymd_opt(2026, 8, 20));
    assert_eq!(c.end_date, NaiveDate::from_ymd_opt(2026, 12, 11));
    assert_eq!(c.participants, Some(30));
    assert_eq!(c.searchable_ids, ["ENG 439", "88146", "5555"]);
    assert_eq!(c.instructors, ["gs22", "xy11", "fg29", "kh78"]);

    // And Alma's API shows it.
    let v = get_json(&sim, &format!("/almaws/v1/courses/{}", c.id)).await;
    assert_eq!(v["start_date"], "2026-08-20Z");
    assert_eq!(v["processing_department"]["value"], "ASU_ONLINE");
    assert_eq!(v["term"][0]["value"], "TERM1");
    assert_eq!(v["instructor"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_blank_operation_on_an_existing_course_changes_only_instructors_and_participants() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    let code = "2026Fall-X-LAW100-11111";
    let first = Row::new(code, "11111")
        .instructor(1, "aa11")
        .participants("10")
        .set(14, "LAW 100");
    load(&sim, &dir, "20261128010000.txt", &loader_file(&[first])).await;
    let before = find(&sim.courses(), code, "11111").unwrap().clone();

    let second = Row::new(code, "11111")
        .title("A new title Alma will not take")
        .dept("MUSIC")
        .set(14, "LAW 999")
        .instructor(1, "bb22")
        .all_instructors("cc33")
        .participants("25");
    let name = stamp_after_the_runs_so_far().await;
    let run = load(&sim, &dir, &name, &loader_file(&[second])).await;
    assert_eq!((run.counters.updated, run.counters.created), (1, 0));

    let after = find(&sim.courses(), code, "11111").unwrap().clone();
    assert_eq!(after.instructors, ["bb22", "cc33"]);
    assert_eq!(after.participants, Some(25));
    assert_eq!(after.name, before.name);
    assert_eq!(after.processing_department, before.processing_department);
    assert_eq!(after.searchable_ids, before.searchable_ids);
    assert_eq!(after.id, before.id);
}

#[tokio::test]
async fn delete_removes_only_the_course_with_that_code_and_section() {
    let (sim, dir) = with_drop_dir(vec![
        fixture(
            "6100000000020",
            "2026Fall-X-BIO100-30000",
            "30000",
            "BIO 100",
            &[],
            false,
        ),
        fixture(
            "6100000000021",
            "2026Fall-X-BIO100-30000",
            "30001",
            "BIO 100 b",
            &[],
            false,
        ),
    ])
    .await;
    let row = Row::new("2026Fall-X-BIO100-30000", "30000").op("DELETE");
    let run = load(&sim, &dir, "20261128010000.txt", &loader_file(&[row])).await;
    assert_eq!(run.status, JobStatus::CompletedSuccess);
    assert_eq!(run.counters.deleted, 1);
    let courses = sim.courses();
    assert_eq!(courses.len(), 1);
    assert_eq!(courses[0].section, "30001");
}

#[tokio::test]
async fn deleting_a_missing_course_is_an_error_row_and_the_rest_loads() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    let rows = [
        Row::new("2026Fall-X-GHOST1-99999", "99999").op("DELETE"),
        Row::new("2026Fall-X-LAW100-11111", "11111"),
    ];
    let run = load(&sim, &dir, "20261128010000.txt", &loader_file(&rows)).await;
    assert_eq!(run.status, JobStatus::CompletedWarning);
    assert_eq!(
        (
            run.counters.rows_read,
            run.counters.errors,
            run.counters.created
        ),
        (2, 1, 1)
    );
    assert_eq!(run.row_errors[0].line, 2);
    assert_eq!(run.row_errors[0].code, "2026Fall-X-GHOST1-99999");
    assert!(run.row_errors[0].reason.contains("does not exist"));
    assert_eq!(sim.courses().len(), 1);
}

#[tokio::test]
async fn rollover_creates_the_course_and_copies_the_old_courses_lists() {
    let (sim, dir) = with_drop_dir(store_with_lists()).await;
    let row = Row::new("2026Fall-X-ENG101-33333", "33333")
        .instructor(1, "ab12")
        .op("ROLLOVER")
        .old("2025Fall-X-ENG101-11111", "11111");
    let run = load(&sim, &dir, "20261128010000.txt", &loader_file(&[row])).await;
    assert_eq!(
        run.status,
        JobStatus::CompletedSuccess,
        "{:?}",
        run.row_errors
    );
    assert_eq!(run.counters.rolled_over, 1);
    let courses = sim.courses();
    let old = find(&courses, "2025Fall-X-ENG101-11111", "11111").unwrap();
    let new = find(&courses, "2026Fall-X-ENG101-33333", "33333").unwrap();
    assert_eq!(new.reading_lists.len(), 1);
    assert_eq!(new.reading_lists[0].name, old.reading_lists[0].name);
    assert_ne!(new.reading_lists[0].id, old.reading_lists[0].id);
    assert_eq!(old.reading_lists.len(), 1, "the old course keeps its lists");
    let v = get_json(
        &sim,
        &format!("/almaws/v1/courses/{}/reading-lists", new.id),
    )
    .await;
    assert_eq!(v["total_record_count"], 1);
}

#[tokio::test]
async fn rolling_over_twice_duplicates_the_lists() {
    let (sim, dir) = with_drop_dir(store_with_lists()).await;
    let row = Row::new("2026Fall-X-ENG101-33333", "33333")
        .op("ROLLOVER")
        .old("2025Fall-X-ENG101-11111", "11111");
    load(
        &sim,
        &dir,
        "20261128010000.txt",
        &loader_file(std::slice::from_ref(&row)),
    )
    .await;
    let name = stamp_after_the_runs_so_far().await;
    let run = load(&sim, &dir, &name, &loader_file(&[row])).await;
    assert_eq!(run.status, JobStatus::CompletedSuccess);
    let courses = sim.courses();
    let new = find(&courses, "2026Fall-X-ENG101-33333", "33333").unwrap();
    assert_eq!(new.reading_lists.len(), 2);
    assert_eq!(
        courses.len(),
        3,
        "the second run updated, it did not create"
    );
}

#[tokio::test]
async fn rollover_from_a_missing_old_course_is_an_error_row() {
    let (sim, dir) = with_drop_dir(store_with_lists()).await;
    let rows = [
        Row::new("2026Fall-X-ENG101-33333", "33333")
            .op("ROLLOVER")
            .old("2024Fall-X-NOPE-1", "1"),
        Row::new("2026Fall-X-ENG102-44444", "44444"),
    ];
    let run = load(&sim, &dir, "20261128010000.txt", &loader_file(&rows)).await;
    assert_eq!(run.status, JobStatus::CompletedWarning);
    assert_eq!(run.counters.errors, 1);
    assert!(run.row_errors[0].reason.contains("old course"));
    let courses = sim.courses();
    assert!(find(&courses, "2026Fall-X-ENG101-33333", "33333").is_none());
    assert!(find(&courses, "2026Fall-X-ENG102-44444", "44444").is_some());
}

#[tokio::test]
async fn a_repeated_code_and_section_is_an_error_row_and_the_first_wins() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    let rows = [
        Row::new("2026Fall-X-LAW100-11111", "11111").instructor(1, "first"),
        Row::new("2026Fall-X-LAW100-11111", "11111").instructor(1, "second"),
        Row::new("2026Fall-X-LAW100-11111", "11112").instructor(1, "other section"),
    ];
    let run = load(&sim, &dir, "20261128010000.txt", &loader_file(&rows)).await;
    assert_eq!(run.status, JobStatus::CompletedWarning);
    assert_eq!((run.counters.created, run.counters.errors), (2, 1));
    assert_eq!(run.row_errors[0].line, 3);
    let courses = sim.courses();
    assert_eq!(
        find(&courses, "2026Fall-X-LAW100-11111", "11111")
            .unwrap()
            .instructors,
        ["first"]
    );
}

#[tokio::test]
async fn an_invalid_or_missing_processing_department_is_an_error_row() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    let rows = [
        Row::new("2026Fall-X-LAW100-11111", "11111").dept("BASKET_WEAVING"),
        Row::new("2026Fall-X-LAW200-22222", "22222").dept(""),
        Row::new("2026Fall-X-LAW300-33333", "33333").dept("THUNDERBIRD"),
    ];
    let run = load(&sim, &dir, "20261128010000.txt", &loader_file(&rows)).await;
    assert_eq!(run.status, JobStatus::CompletedWarning);
    assert_eq!((run.counters.created, run.counters.errors), (1, 2));
    assert!(run.row_errors[0].reason.contains("BASKET_WEAVING"));
    assert!(run.row_errors[1].reason.contains("missing"));
    assert_eq!(sim.courses()[0].code, "2026Fall-X-LAW300-33333");
}

#[tokio::test]
async fn processing_departments_are_the_configured_set() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(Vec::new(), |o| {
        o.drop_dir = Some(dir.path().to_path_buf());
        o.watch_interval = Duration::from_secs(3600);
        o.processing_departments = vec!["MAIN".into()];
    })
    .await;
    let rows = [
        Row::new("2026Fall-X-LAW100-11111", "11111").dept("MAIN"),
        Row::new("2026Fall-X-LAW200-22222", "22222").dept("LAW"),
    ];
    let run = load(&sim, &dir, "20261128010000.txt", &loader_file(&rows)).await;
    assert_eq!((run.counters.created, run.counters.errors), (1, 1));
}

#[tokio::test]
async fn a_file_stamped_before_the_last_run_is_ignored_even_when_later_than_the_last_file() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    let now = Utc::now();
    let taken = stamped(now - TimeDelta::hours(2));
    let a = loader_file(&[Row::new("2026Fall-X-A-1", "1")]);
    load(&sim, &dir, &taken, &a).await;
    // Made after the file the run took, but before the run itself: never loaded.
    let b = loader_file(&[Row::new("2026Fall-X-B-2", "2")]);
    drop_file(dir.path(), &stamped(now - TimeDelta::hours(1)), &b);
    assert!(sim.run_loader_now().await.unwrap().is_empty());
    // The taken file again (overwritten) is not later either.
    let c = loader_file(&[Row::new("2026Fall-X-C-3", "3")]);
    drop_file(dir.path(), &taken, &c);
    assert!(sim.run_loader_now().await.unwrap().is_empty());
    assert_eq!(sim.job_instances().len(), 1);
    let codes: Vec<String> = sim.courses().into_iter().map(|c| c.code).collect();
    assert_eq!(codes, ["2026Fall-X-A-1"]);
}

#[tokio::test]
async fn temporary_names_and_other_files_are_never_taken() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    let bytes = loader_file(&[Row::new("2026Fall-X-A-1", "1")]);
    for name in [
        "20261128100000.txt.part",
        ".20261128100000.txt",
        "20261128100000.tmp",
        "courses.txt",
        "2026112810000.txt",
    ] {
        drop_file(dir.path(), name, &bytes);
    }
    assert!(sim.run_loader_now().await.unwrap().is_empty());
    assert!(sim.courses().is_empty());
    // The product's upload: temp name, then rename.
    std::fs::rename(
        dir.path().join("20261128100000.txt.part"),
        dir.path().join("20261128100000.txt"),
    )
    .unwrap();
    assert_eq!(sim.run_loader_now().await.unwrap().len(), 1);
    assert_eq!(sim.courses().len(), 1);
}

#[tokio::test]
async fn several_new_files_run_in_stamp_order() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    drop_file(
        dir.path(),
        "20261128020000.txt",
        &loader_file(&[Row::new("2026Fall-X-A-1", "1").op("DELETE")]),
    );
    drop_file(
        dir.path(),
        "20261128010000.txt",
        &loader_file(&[Row::new("2026Fall-X-A-1", "1")]),
    );
    let runs = sim.run_loader_now().await.unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r.file_name.as_str()).collect();
    assert_eq!(names, ["20261128010000.txt", "20261128020000.txt"]);
    assert!(sim.courses().is_empty(), "created, then deleted");
}

#[tokio::test]
async fn a_reading_list_name_gives_a_new_course_a_list() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    let row = Row::new("2026Fall-X-A-1", "1").set(33, "Week one");
    load(&sim, &dir, "20261128010000.txt", &loader_file(&[row])).await;
    let lists = &sim.courses()[0].reading_lists;
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0].name, "Week one");
}

#[tokio::test]
async fn the_watcher_takes_a_file_dropped_into_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(Vec::new(), |o| {
        o.drop_dir = Some(dir.path().to_path_buf());
        o.watch_interval = Duration::from_millis(20);
    })
    .await;
    let part = dir.path().join("20261128010000.txt.part");
    std::fs::write(&part, loader_file(&[Row::new("2026Fall-X-A-1", "1")])).unwrap();
    std::fs::rename(&part, dir.path().join("20261128010000.txt")).unwrap();
    let mut done = false;
    for _ in 0..500 {
        if sim.job_instances().iter().any(|i| i.status.is_final()) {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(done, "the watcher never ran the file");
    assert_eq!(sim.courses().len(), 1);
    let body = sim_post(sim.base_url(), "/sim/loader/run").await;
    assert_eq!(body, serde_json::json!([]), "already taken");
}

#[tokio::test]
async fn the_sim_endpoint_runs_the_loader_and_lists_instances() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    drop_file(
        dir.path(),
        "20261128010000.txt",
        &loader_file(&[Row::new("2026Fall-X-A-1", "1")]),
    );
    let body = sim_post(sim.base_url(), "/sim/loader/run").await;
    assert_eq!(body[0]["status"], "COMPLETED_SUCCESS");
    assert_eq!(body[0]["counters"]["created"], 1);
    let all = sim_get(sim.base_url(), "/sim/job-instances").await;
    assert_eq!(all.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_sample_loader_files_are_well_formed_for_alma() {
    for name in ["expected_alma.txt", "expected_rollover.txt"] {
        let bytes = read_sample(name);
        let data_rows = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count() as u64
            - 1;
        let dir = tempfile::tempdir().unwrap();
        let sim = AlmaSim::start(SimOptions {
            drop_dir: Some(dir.path().to_path_buf()),
            watch_interval: Duration::from_secs(3600),
            courses: sample_courses(),
            ..SimOptions::default()
        })
        .await
        .unwrap();
        let run = load(&sim, &dir, "20261128050000.txt", &bytes).await;
        assert!(run.failure.is_none(), "{name}: {:?}", run.failure);
        let c = run.counters;
        assert_eq!(c.rows_read, data_rows, "{name}");
        assert_eq!(
            c.created + c.updated + c.deleted + c.rolled_over + c.errors,
            c.rows_read,
            "{name}"
        );
        for e in &run.row_errors {
            assert!(!e.reason.contains("processing department"), "{name}: {e:?}");
            assert!(!e.reason.contains("already appeared"), "{name}: {e:?}");
        }
    }
}
