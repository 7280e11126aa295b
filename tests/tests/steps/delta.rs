//! Delta loads (course-loading.md §8): after a loaded day, the next day's file holds only
//! the courses new or changed since, with far fewer Alma calls; a full file when asked, on
//! the weekly day, or without a usable baseline; only a day Alma loaded becomes the
//! baseline.

use std::collections::BTreeSet;
use std::path::PathBuf;

use leganto_shared::domain::ExportProfile;
use leganto_shared::store::{BASELINE, BASELINE_ROWS};
use leganto_tests::alma_sim::{CallRecord, SimCourse};
use leganto_tests::cem_edit;
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};

use super::{Options, World, EXPORT_NAME};
use crate::read_sample;

const DAY_TWO: &str = "2026-11-29";
const DAY_TWO_EXPORT: &str = "leganto_export_20261129.csv";

/// A world whose full loads come on `weekday` (the sample day is a Saturday, the day after
/// it a Sunday), Alma holding `alma_courses` [default: the sample day's].
async fn world(name: &str, weekday: &str, alma_courses: Option<PathBuf>) -> World {
    World::start_with(
        name,
        Options {
            settings: vec![("FULL_LOAD_WEEKDAY", weekday.to_string())],
            alma_courses,
            ..Options::default()
        },
    )
    .await
}

/// A generated day of `rows` rows: (export, Alma's courses) in a temporary directory.
fn generated_day(rows: u32) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("python3")
        .arg(leganto_tests::support::repo_root().join("tests/fixtures/gen-cem"))
        .args([
            "--rows",
            &rows.to_string(),
            "--seed",
            "13",
            "--year",
            "2026",
            "--out",
        ])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "gen-cem: {status}");
    let cem = dir.path().join("cem.csv");
    let courses = dir.path().join("alma_courses.json");
    (dir, cem, courses)
}

/// Plan, pull and transform for `input`; the state and the transform's Alma calls.
async fn transform(world: &World, input: Value) -> (Value, Vec<CallRecord>) {
    let mut state = world.plan(input).await.unwrap();
    world.step("pull", &mut state, "pull").await;
    world.sim.clear_calls();
    world.step("transform", &mut state, "transform").await;
    (state, world.sim.calls())
}

/// Course searches by code (`q=code~…`).
fn by_code(calls: &[CallRecord]) -> usize {
    calls
        .iter()
        .filter(|c| {
            c.path.ends_with("/courses")
                && (c.query.contains("q=code%7E") || c.query.contains("q=code~"))
        })
        .count()
}

/// Pushes the transform's file and waits for Alma's job.
async fn load(world: &World, state: &mut Value) -> Value {
    world.step("push", state, "push").await;
    world.sim.run_loader_now().await.unwrap();
    world.check_until_done(state).await
}

/// The data rows of a loader file.
fn rows(file: &[u8]) -> Vec<String> {
    String::from_utf8(file.to_vec())
        .unwrap()
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn code(row: &str) -> &str {
    row.split('\t').next().unwrap()
}

/// Alma's courses in a comparable order.
fn courses(world: &World) -> Vec<SimCourse> {
    let mut all = world.sim.courses();
    all.sort_by(|a, b| (&a.code, &a.section, &a.id).cmp(&(&b.code, &b.section, &b.id)));
    all
}

#[tokio::test]
async fn the_day_after_a_loaded_day_sends_only_its_changes_with_a_tenth_of_the_calls() {
    // A day of realistic size: 20,000 rows, about 12,000 courses.
    let (_dir, cem, alma_courses) = generated_day(20_000);
    let world = world("delta-day", "None", Some(alma_courses)).await;
    let day_one = std::fs::read(cem).unwrap();
    world.put_export(EXPORT_NAME, &day_one);
    let (mut state, _) = transform(&world, json!({"run_date": RUN_DATE})).await;
    let load_one = &state["transform"]["load"];
    assert_eq!(load_one["kind"], "full");
    assert_eq!(load_one["reason"], "no baseline: no loaded day yet");
    let file_one = rows(
        &world
            .s3_get(state["transform"]["loader_key"].as_str().unwrap())
            .await,
    );
    let codes_one: BTreeSet<String> = file_one.iter().map(|r| code(r).to_string()).collect();
    let job = load(&world, &mut state).await;
    assert_eq!(job["status"], "COMPLETED_SUCCESS", "{job}");
    assert_eq!(job["baseline_saved"], true);
    let record: Value = serde_json::from_slice(&world.s3_get(BASELINE).await).unwrap();
    assert_eq!(record["run_date"], RUN_DATE);
    assert!(
        world.s3_get(BASELINE_ROWS).await.starts_with(&[0x1f, 0x8b]),
        "gzip"
    );

    // Day two: one course code in 50 edited (titles, instructors, newly DENIED, new).
    let edited = cem_edit::next_day(&day_one, 50, &ExportProfile::default()).unwrap();
    world.put_export(DAY_TWO_EXPORT, &edited.export);

    // The same day as a full file, in a dry run (nothing loaded, state/ untouched): what
    // the delta must be a part of, and the calls a full day makes.
    let (full, full_calls_log) = transform(
        &world,
        json!({"run_date": DAY_TWO, "dry_run": true, "full": true}),
    )
    .await;
    assert_eq!(full["transform"]["load"]["kind"], "full");
    assert_eq!(full["transform"]["load"]["reason"], "asked for");
    let full_key = full["transform"]["loader_key"].as_str().unwrap();
    let full_rows = rows(&world.s3_get(full_key).await);

    let (mut state, delta_calls_log) = transform(&world, json!({"run_date": DAY_TWO})).await;
    let t = &state["transform"];
    let delta_rows = rows(&world.s3_get(t["loader_key"].as_str().unwrap()).await);
    let expected: Vec<String> = full_rows
        .iter()
        .filter(|r| edited.changed_codes.contains(code(r)))
        .cloned()
        .collect();
    assert_eq!(delta_rows, expected, "exactly §8's rows, in today's order");
    let courses_today = t["load"]["courses"].as_u64().unwrap();
    assert_eq!(t["load"]["kind"], "delta");
    assert_eq!(t["load"]["changed"], delta_rows.len());
    assert_eq!(t["load"]["reason"], Value::Null);
    assert!(
        delta_rows.len() as u64 * 100 <= courses_today * 3,
        "{} of {courses_today}",
        delta_rows.len()
    );
    // Each kind of edit is there: a title, an instructor, a new course, a DELETE.
    let delta_codes: BTreeSet<&str> = delta_rows.iter().map(|r| code(r)).collect();
    assert!(delta_rows.iter().any(|r| r.contains(" II\t")));
    assert!(delta_rows.iter().any(|r| r.contains("\tnx")));
    assert!(delta_rows.iter().any(|r| r.contains("\tDELETE\t")));
    assert!(
        delta_codes.iter().any(|c| !codes_one.contains(*c)),
        "a new course"
    );
    // The brake still sees the whole day.
    assert_eq!(
        t["counts"]["rows_written"],
        full["transform"]["counts"]["rows_written"]
    );
    assert_eq!(t["counts"]["rows_in_file"], delta_rows.len());
    let (delta_calls, full_calls) = (delta_calls_log.len(), full_calls_log.len());
    assert!(
        delta_calls * 10 <= full_calls,
        "the delta's transform made {delta_calls} Alma calls, the full file's {full_calls}"
    );
    // The few DELETE codes were looked up one by one, not by paging their years.
    assert!(by_code(&delta_calls_log) > 0);
    assert_eq!(by_code(&full_calls_log), 0);

    // Alma ends up holding what the full file would have given it: loading the full file
    // over the delta changes nothing.
    let job = load(&world, &mut state).await;
    assert_eq!(job["status"], "COMPLETED_SUCCESS", "{job}");
    let after_delta = courses(&world);
    // Alma takes only a file stamped later than its last.
    world
        .sshd
        .put_file(
            super::ALMA,
            "20301231235959.txt",
            &world.s3_get(full_key).await,
        )
        .unwrap();
    let runs = world.sim.run_loader_now().await.unwrap();
    assert_eq!(runs.len(), 1, "Alma took the full file");
    assert_eq!(courses(&world), after_delta);
    let record: Value = serde_json::from_slice(&world.s3_get(BASELINE).await).unwrap();
    assert_eq!(record["run_date"], DAY_TWO);

    // The report is whole-export and counts its rows whose course changed since day one,
    // though the baseline is day two's by now.
    let report = world.step("rollover-report", &mut state, "report").await;
    let report_rows = rows(&world.s3_get(report["report_key"].as_str().unwrap()).await);
    assert_eq!(report["rollovers"], report_rows.len());
    let new_rows = report_rows
        .iter()
        .filter(|r| edited.changed_codes.contains(code(r)))
        .count();
    assert!(new_rows > 0, "some changed courses are rollovers");
    assert_eq!(report["new_since_baseline"], new_rows);
}

#[tokio::test]
async fn a_sunday_a_full_request_and_a_missing_or_old_baseline_each_give_a_full_file() {
    let world = world("delta-full", "Sunday", None).await;
    let day_one = read_sample("cem.csv");
    world.put_export(EXPORT_NAME, &day_one);
    let (mut state, _) = transform(&world, json!({"run_date": RUN_DATE})).await;
    assert_eq!(state["transform"]["load"]["kind"], "full");
    load(&world, &mut state).await;

    // The day after is a Sunday: the weekly full file.
    world.put_export(DAY_TWO_EXPORT, &day_one);
    let (sunday, _) = transform(&world, json!({"run_date": DAY_TWO, "dry_run": true})).await;
    let load = &sunday["transform"]["load"];
    assert_eq!(load["kind"], "full");
    assert_eq!(load["reason"], "Sunday is the weekly full load");
    assert_eq!(
        load["changed"],
        sunday["transform"]["counts"]["rows_written"]
    );

    // Nine days after the loaded day: too old. Seven: a delta (nothing changed).
    for (date, export, kind) in [
        ("2026-12-07", "leganto_export_20261207.csv", "full"),
        ("2026-12-05", "leganto_export_20261205.csv", "delta"),
    ] {
        world.put_export(export, &day_one);
        let (s, _) = transform(&world, json!({"run_date": date, "dry_run": true})).await;
        assert_eq!(s["transform"]["load"]["kind"], kind, "{date}");
        if date == "2026-12-07" {
            assert_eq!(
                s["transform"]["load"]["reason"],
                "the baseline, loaded 2026-11-28, is 9 days old (most 8)"
            );
        }
        if kind == "delta" {
            assert_eq!(s["transform"]["load"]["changed"], 0);
        }
    }

    // Asked for a full file on a weekday.
    let (asked, _) = transform(
        &world,
        json!({"run_date": "2026-12-05", "dry_run": true, "full": true}),
    )
    .await;
    assert_eq!(asked["transform"]["load"]["reason"], "asked for");

    // Without a baseline.
    world
        .ctx
        .store
        .client()
        .delete_object()
        .bucket(world.ctx.store.bucket())
        .key(BASELINE_ROWS)
        .send()
        .await
        .unwrap();
    let (missing, _) = transform(&world, json!({"run_date": "2026-12-05", "dry_run": true})).await;
    assert_eq!(missing["transform"]["load"]["kind"], "full");
    assert_eq!(
        missing["transform"]["load"]["reason"],
        "no baseline: its course rows are missing"
    );
}

#[tokio::test]
async fn a_job_that_ended_completed_failed_leaves_the_baseline_where_it_was() {
    let world = world("delta-failed", "None", None).await;
    // The day before was loaded (its job long done, so today's check cannot take it for
    // today's).
    let day_one = read_sample("cem.csv");
    let mut rows = Vec::new();
    leganto_shared::domain::run::write_course_rows(
        &mut std::io::Cursor::new(&day_one),
        &leganto_shared::domain::Rules::asu().unwrap(),
        &mut rows,
    )
    .unwrap();
    let baseline = leganto_shared::domain::delta::gzip(&rows).unwrap();
    let store = &world.ctx.store;
    store
        .put(BASELINE_ROWS, baseline.clone(), "application/gzip")
        .await
        .unwrap();
    store
        .put_json(
            BASELINE,
            &json!({"run_date": RUN_DATE, "job_status": "COMPLETED_SUCCESS",
                                    "promoted_at": "2026-11-28T18:00:00Z"}),
        )
        .await
        .unwrap();

    // Day two's delta reaches Alma, whose job fails on the file.
    world.put_export(
        DAY_TWO_EXPORT,
        &cem_edit::next_day(&day_one, 50, &ExportProfile::default())
            .unwrap()
            .export,
    );
    let (mut state, _) = transform(&world, json!({"run_date": DAY_TWO})).await;
    assert_eq!(state["transform"]["load"]["kind"], "delta");
    world.step("push", &mut state, "push").await;
    let pushed = state["push"]["file_name"].as_str().unwrap().to_string();
    world
        .sshd
        .put_file(super::ALMA, &pushed, b"not a course loader file")
        .unwrap();
    world.sim.run_loader_now().await.unwrap();
    let job = world.check_until_done(&mut state).await;
    assert_eq!(job["status"], "COMPLETED_FAILED", "{job}");
    assert!(job.get("baseline_saved").is_none());
    let record: Value = serde_json::from_slice(&world.s3_get(BASELINE).await).unwrap();
    assert_eq!(record["run_date"], RUN_DATE);
    assert!(world.s3_get(BASELINE_ROWS).await == baseline);
}
