//! `leganto delete-empty-courses` against the Alma simulator.

use std::collections::BTreeSet;
use std::path::Path;

use leganto_tests::alma_sim::{AlmaSim, BrokenAnswer, FixtureCourse, SimCourse, SimOptions};

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
pub(super) async fn sim(drop_dir: &Path) -> AlmaSim {
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

/// `leganto delete-empty-courses ARGS --alma-url SIM --alma-rate 20` with the sim's key.
async fn leganto(sim: &AlmaSim, args: &[&str]) -> Output {
    let mut args: Vec<String> = std::iter::once("delete-empty-courses")
        .chain(args.iter().copied())
        .map(str::to_string)
        .collect();
    args.extend(["--alma-url".into(), sim.base_url().into()]);
    args.extend(["--alma-rate".into(), "20".into()]);
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

/// Plans 2026 SPRING into `plan`.
async fn make_plan(sim: &AlmaSim, plan: &Path) -> Output {
    let plan = plan.to_str().unwrap();
    leganto(sim, &["--year", "2026", "--term", "SPRING", "--plan", plan]).await
}

/// Deletes what `plan` lists.
async fn execute(sim: &AlmaSim, plan: &Path) -> Output {
    leganto(sim, &["--execute", "--plan", plan.to_str().unwrap()]).await
}

/// The plan file's lines after the header whose code is one of `codes`, in `codes`' order,
/// each changed by `edit` (as a person reviewing it would), written back with the header.
fn review(plan: &Path, codes: &[&str], edit: impl Fn(&str, Vec<String>) -> Vec<String>) {
    let text = std::fs::read_to_string(plan).unwrap();
    let mut lines = text.lines();
    let mut out = vec![lines.next().unwrap().to_string()];
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    for code in codes {
        let row = rows
            .iter()
            .find(|r| r[1] == *code)
            .unwrap_or_else(|| panic!("{code} is not in the plan"));
        out.push(edit(code, row.clone()).join(","));
    }
    std::fs::write(plan, out.join("\n") + "\n").unwrap();
}

fn id_of(sim: &AlmaSim, code: &str) -> String {
    sim.courses()
        .into_iter()
        .find(|c| c.code == code)
        .map(|c| c.id)
        .unwrap_or_else(|| panic!("{code} is not in Alma"))
}

fn empty(i: usize) -> String {
    format!("2026Spring-X-EMPTY-{i:03}")
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

    let o = make_plan(&sim, &plan).await;
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
        out.contains(&format!(
            "Nothing deleted. Review the plan (remove rows, or change delete to keep), then run \
             delete-empty-courses --execute --plan {} to delete the courses it marks delete \
             (111 now).",
            plan.display()
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn execute_deletes_only_what_the_reviewed_plan_lists_rechecking_each_course_first() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path()).await;
    let plan = dir.path().join("plan.csv");
    assert!(make_plan(&sim, &plan).await.status.success());

    // The reviewer keeps twelve of the empty courses, turns the last into keep, and mistypes
    // one code; a course with lists marked delete by hand stays undeletable.
    let mut codes: Vec<String> = (0..12).map(empty).collect();
    codes.push("2026Spring-X-LISTS-0".into());
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    review(&plan, &codes, |code, mut row| {
        if code == empty(11) {
            row[4] = "keep".into();
        }
        if code == empty(10) {
            row[1] = "2026Spring-X-EMPTY-999".into();
        }
        if code == "2026Spring-X-LISTS-0" {
            row[4] = "delete".into();
        }
        row
    });
    // Meanwhile in Alma: one course gains a list (a rollover), one is deleted, one is made.
    let mut lines = vec![row("Course Code", "Section", "Year", &[], None)];
    let mut rollover: Vec<String> = row(&empty(3), "1", "2026", &["SPRING"], None)
        .split('\t')
        .map(str::to_string)
        .collect();
    rollover[28] = "ROLLOVER".into();
    rollover[29] = "2026Spring-X-LISTS-0".into();
    rollover[30] = "1".into();
    lines.push(rollover.join("\t"));
    let mut delete: Vec<String> = row(&empty(4), "1", "2026", &["SPRING"], None)
        .split('\t')
        .map(str::to_string)
        .collect();
    delete[28] = "DELETE".into();
    lines.push(delete.join("\t"));
    lines.push(row(
        "2026Spring-X-EMPTY-NEW",
        "1",
        "2026",
        &["SPRING"],
        None,
    ));
    // Alma's loader takes only files stamped later than its last run (the library's
    // local time, Phoenix): this one is uploaded, and stamped, a second after it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let stamp = chrono::Utc::now().with_timezone(&chrono_tz::America::Phoenix);
    std::fs::write(
        dir.path()
            .join(stamp.format("%Y%m%d%H%M%S.txt").to_string()),
        lines.join("\r\n") + "\r\n",
    )
    .unwrap();
    let run = sim.run_loader_now().await.unwrap();
    assert_eq!(run[0].row_errors, vec![], "{run:?}");
    let gained = id_of(&sim, &empty(3));
    let mistyped = id_of(&sim, &empty(10));
    sim.clear_calls();
    let before = sim.courses();

    let o = execute(&sim, &plan).await;
    assert!(o.status.success(), "{}", stderr(&o));

    let deleted: BTreeSet<String> = [0, 1, 2, 5, 6, 7, 8, 9].into_iter().map(empty).collect();
    let left: Vec<SimCourse> = before
        .iter()
        .filter(|c| !deleted.contains(&c.code))
        .cloned()
        .collect();
    assert_eq!(sim.courses(), left);
    assert_eq!(before.len() - left.len(), 8);

    // Each delete right after its course's two checks; nothing else asked.
    let calls = sim.calls();
    let deletes: Vec<usize> = (0..calls.len())
        .filter(|&i| calls[i].method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 8);
    for &i in &deletes {
        let course = &calls[i].path;
        assert_eq!(calls[i - 2].path, *course, "{calls:#?}");
        assert_eq!(
            calls[i - 1].path,
            format!("{course}/reading-lists"),
            "{calls:#?}"
        );
    }
    let count = |f: &dyn Fn(&str) -> bool| calls.iter().filter(|c| f(&c.path)).count();
    assert_eq!(
        count(&|p| p.ends_with("/reading-lists")),
        9,
        "not for the gone or mistyped"
    );
    // The gone course's HTTP 400 is confirmed by one search for its code.
    assert_eq!(
        count(&|p| p == "/almaws/v1/courses"),
        1,
        "one search, for the gone course"
    );
    assert_eq!(calls.len(), 11 + 1 + 9 + 8, "{calls:#?}");

    let out = stdout(&o);
    assert!(out.contains("Plan "), "{out}");
    assert!(out.contains(": 13 courses, 11 to delete;"), "{out}");
    assert!(
        out.contains(&format!(
            "skipped  {gained}  {}  1: it now has 1 reading list",
            empty(3)
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("{}  1: Alma no longer has it", empty(4))),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "skipped  {mistyped}  2026Spring-X-EMPTY-999  1: in Alma that id is course {}, not the plan's",
            empty(10)
        )),
        "{out}"
    );
    assert!(
        out.contains("Deleted 8 of 11; 3 skipped; 0 failed. Alma API calls: 29"),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("deleted  ")).count(),
        8
    );

    // The same plan again: what is gone is skipped, nothing else is touched.
    sim.clear_calls();
    let o = execute(&sim, &plan).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(sim.courses(), left);
    assert!(sim.calls().iter().all(|c| c.method == "GET"));
    assert!(
        stdout(&o).contains("Deleted 0 of 11; 11 skipped; 0 failed."),
        "{}",
        stdout(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_reading_list_answer_stops_the_deletes_at_that_course() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path()).await;
    let plan = dir.path().join("plan.csv");
    assert!(make_plan(&sim, &plan).await.status.success());
    let codes: Vec<String> = (0..6).map(empty).collect();
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    review(&plan, &codes, |_, row| row);
    let broken = id_of(&sim, &empty(2));
    sim.break_reading_lists(&broken, Some(BrokenAnswer::NoCount));
    sim.clear_calls();
    let before = sim.courses();

    let o = execute(&sim, &plan).await;
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));

    let gone: BTreeSet<String> = [0, 1].into_iter().map(empty).collect();
    let left: Vec<SimCourse> = before
        .iter()
        .filter(|c| !gone.contains(&c.code))
        .cloned()
        .collect();
    assert_eq!(sim.courses(), left, "only the two before it are deleted");
    let calls = sim.calls();
    assert_eq!(calls.iter().filter(|c| c.method == "DELETE").count(), 2);
    assert_eq!(
        calls.last().unwrap().path,
        format!("/almaws/v1/courses/{broken}/reading-lists"),
        "nothing asked after the unreadable answer: {calls:#?}"
    );
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "stopped at course {broken} ({}): its re-check failed (AlmaInvalidResponse)",
            empty(2)
        )),
        "{err}"
    );
    assert!(err.contains("it has no total_record_count"), "{err}");
    assert!(
        err.contains("the 3 courses after it were not deleted"),
        "{err}"
    );
    assert!(
        stdout(&o).contains("Deleted 2 of 6; 0 skipped; 0 failed; 3 not reached."),
        "{}",
        stdout(&o)
    );
    // The phase cut short leaves no line of its own: the failure stays one line.
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn execute_takes_only_a_reviewed_plan_and_refuses_one_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path()).await;

    // Usage: --execute needs --plan, and plans nothing itself.
    let o = leganto(&sim, &["--execute"]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--plan"), "{}", stderr(&o));
    let plan = dir.path().join("plan.csv");
    let p = plan.to_str().unwrap();
    let o = leganto(
        &sim,
        &[
            "--year",
            "2026",
            "--term",
            "SPRING",
            "--execute",
            "--plan",
            p,
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));

    let o = execute(&sim, &plan).await;
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains(&format!("cannot open the plan {p}")),
        "{}",
        stderr(&o)
    );

    std::fs::write(
        &plan,
        "id;code;section\n6100000000002;2026Spring-X-EMPTY-000;1\n",
    )
    .unwrap();
    let o = execute(&sim, &plan).await;
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("the plan's header is"),
        "{}",
        stderr(&o)
    );

    let id = id_of(&sim, &empty(0));
    std::fs::write(
        &plan,
        format!(
            "id,code,section,reading_lists,action\n{id},{},1,0,delete\n6.1E+12,X,1,0,delete\n",
            empty(0)
        ),
    )
    .unwrap();
    let o = execute(&sim, &plan).await;
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("line 3 of the plan: id \"6.1E+12\" is not an Alma course id"),
        "{}",
        stderr(&o)
    );
    assert!(sim.calls().is_empty(), "a plan not understood asks nothing");
    assert!(sim.courses().iter().any(|c| c.id == id));
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
