//! `leganto delete-empty-courses` against the Alma simulator.

use std::collections::BTreeSet;
use std::path::Path;

use leganto_tests::alma_sim::{AlmaSim, FixtureCourse, SimCourse, SimOptions};

use super::*;

/// One course loader row (34 columns): code, title, section, processing department, terms,
/// year and, when given, the name of a reading list to create.
fn row(code: &str, section: &str, year: &str, terms: &[&str], list: Option<&str>) -> String {
    let mut cols = vec![String::new(); 34];
    cols[0] = code.into();
    cols[1] = format!("{code} title");
    cols[2] = section.into();
    cols[4] = "HAYDEN".into();
    for (i, t) in terms.iter().enumerate() {
        cols[5 + i] = t.to_string();
    }
    cols[13] = year.into();
    cols[33] = list.unwrap_or_default().into();
    cols.join("\t")
}

/// The simulator holding: 2026 SPRING courses with and without reading lists (more than
/// one page of them), and 2026 FALL, 2025 SPRING, year 20261 and term-less 2026 courses
/// that the tool must leave alone.
async fn sim(drop_dir: &Path) -> AlmaSim {
    let sim = AlmaSim::start(SimOptions {
        courses: vec![FixtureCourse {
            id: "6100000000001".into(),
            code: "2026Spring-X-NOTERM-1".into(),
            name: "No term".into(),
            section: "1".into(),
            year: "2026".into(),
            searchable_id: Vec::new(),
            reading_lists: false,
        }],
        drop_dir: Some(drop_dir.to_path_buf()),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let mut lines = vec![row("Course Code", "Section", "Year", &[], None)];
    for i in 0..110 {
        lines.push(row(
            &format!("2026Spring-X-EMPTY-{i:03}"),
            "1",
            "2026",
            &["SPRING"],
            None,
        ));
    }
    for i in 0..4 {
        lines.push(row(
            &format!("2026Spring-X-LISTS-{i}"),
            "1",
            "2026",
            &["SPRING"],
            Some("Readings"),
        ));
    }
    lines.push(row(
        "2026SpringFall-X-BOTH",
        "1",
        "2026",
        &["FALL", "SPRING"],
        None,
    ));
    lines.push(row("2026Fall-X-FALL", "1", "2026", &["FALL"], None));
    lines.push(row("2025Spring-X-OLD", "1", "2025", &["SPRING"], None));
    lines.push(row("2026Spring-X-Y20261", "1", "20261", &["SPRING"], None));
    let file = lines.join("\r\n") + "\r\n";
    std::fs::write(drop_dir.join("20260101000000.txt"), file).unwrap();
    let runs = sim.run_loader_now().await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(sim.courses().len(), 1 + 110 + 4 + 4);
    sim.clear_calls();
    sim
}

fn spring_2026(c: &SimCourse) -> bool {
    c.year == "2026" && c.terms.iter().any(|t| t == "SPRING")
}

async fn delete_empty(sim: &AlmaSim, plan: &Path, execute: bool) -> Output {
    let mut args: Vec<String> = [
        "delete-empty-courses",
        "--year",
        "2026",
        "--term",
        "SPRING",
        "--alma-url",
        sim.base_url(),
        "--alma-rate",
        "20",
        "--plan",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(plan.to_str().unwrap().to_string());
    if execute {
        args.push("--execute".into());
    }
    let key = sim.api_key().to_string();
    tokio::task::spawn_blocking(move || {
        let out = base_command()
            .args(&args)
            .env("ALMA_API_KEY", key)
            .output()
            .unwrap();
        show(&args, &out);
        out
    })
    .await
    .unwrap()
}

fn plan_rows(path: &Path) -> Vec<(String, String, u64, String)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap(),
        vec!["id", "code", "section", "reading_lists", "action"]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[0].to_string(),
                rec[1].to_string(),
                rec[3].parse().unwrap(),
                rec[4].to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_marks_exactly_the_term_courses_without_reading_lists_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path()).await;
    let before = sim.courses();
    let plan = dir.path().join("plan.csv");

    let o = delete_empty(&sim, &plan, false).await;
    assert!(o.status.success(), "{}", stderr(&o));

    let rows = plan_rows(&plan);
    let expected: BTreeSet<(String, String)> = before
        .iter()
        .filter(|c| spring_2026(c))
        .map(|c| {
            let action = if c.reading_lists.is_empty() {
                "delete"
            } else {
                "keep"
            };
            (c.id.clone(), action.to_string())
        })
        .collect();
    let got: BTreeSet<(String, String)> = rows.iter().map(|r| (r.0.clone(), r.3.clone())).collect();
    assert_eq!(got, expected);
    assert_eq!(rows.len(), 115);
    assert_eq!(rows.iter().filter(|r| r.3 == "delete").count(), 111);
    assert!(rows.iter().all(|r| (r.2 == 0) == (r.3 == "delete")));
    assert!(rows
        .iter()
        .any(|r| r.1 == "2026SpringFall-X-BOTH" && r.3 == "delete"));

    // Nothing deleted; each course checked once; two pages listed.
    assert_eq!(sim.courses(), before);
    let calls = sim.calls();
    assert!(calls.iter().all(|c| c.method == "GET"), "{calls:?}");
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.path == "/almaws/v1/courses")
            .count(),
        2
    );
    let checked: Vec<&str> = calls
        .iter()
        .filter(|c| c.path.ends_with("/reading-lists"))
        .map(|c| c.path.as_str())
        .collect();
    assert_eq!(checked.len(), 115);
    assert_eq!(checked.iter().collect::<BTreeSet<_>>().len(), 115);
    let out = stdout(&o);
    assert!(out.contains("2026 SPRING: 115 courses, 111 without reading lists (delete), 4 with reading lists (keep)"), "{out}");
    assert!(
        out.contains(
            "Nothing deleted. Run again with --execute to delete the 111 courses marked delete."
        ),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn execute_deletes_exactly_the_empty_courses_of_the_year_and_term() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path()).await;
    let before = sim.courses();
    let plan = dir.path().join("plan.csv");

    let o = delete_empty(&sim, &plan, true).await;
    assert!(o.status.success(), "{}", stderr(&o));

    let expected_left: Vec<SimCourse> = before
        .iter()
        .filter(|c| !(spring_2026(c) && c.reading_lists.is_empty()))
        .cloned()
        .collect();
    assert_eq!(sim.courses(), expected_left);
    assert_eq!(expected_left.len(), 1 + 4 + 3);
    let deletes = sim
        .calls()
        .into_iter()
        .filter(|c| c.method == "DELETE")
        .count();
    assert_eq!(deletes, 111);
    let out = stdout(&o);
    assert!(
        out.contains("Deleting 111 courses of 2026 SPRING without reading lists"),
        "{out}"
    );
    assert!(out.contains("Deleted 111 of 111; 0 failed."), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("deleted  ")).count(),
        111
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_api_key_nothing_is_called() {
    let o = tokio::task::spawn_blocking(|| {
        base_command()
            .args([
                "delete-empty-courses",
                "--year",
                "2026",
                "--term",
                "SPRING",
                "--alma-url",
                "http://127.0.0.1:9",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stderr(&o).contains("ALMA_API_KEY is not set"),
        "{}",
        stderr(&o)
    );
}
