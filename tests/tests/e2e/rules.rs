//! Rules as data: a day with no rules in the bucket follows the shipped ones and says so;
//! after `leganto rules push` (its library function) the next day follows the pushed
//! rules, with no redeploy, and its summary, state and page name their version.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use leganto_shared::domain::rules::ASU_RULES_TOML;
use leganto_shared::ops::hold::{self, DecisionRequest};
use leganto_shared::ops::rules::{push, Pushed, RulesOrigin};
use leganto_shared::run::hold::Verdict;
use leganto_shared::run::receipt::sha256_hex;
use leganto_shared::store::Store;
use leganto_tests::stack::{Stack, BUCKET};
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};

use super::support::{assert_succeeded, run, start_stack};
use crate::read_sample;

const NEXT_DAY: &str = "2026-11-29";

async fn json_at(stack: &Stack, key: &str) -> Value {
    serde_json::from_slice(&stack.s3_get(key).await.unwrap()).unwrap()
}

/// Each course of the day's loader file (code and section) with its processing department.
async fn departments(stack: &Stack, summary: &Value) -> BTreeMap<(String, String), String> {
    let key = summary["loader_key"].as_str().unwrap();
    let text = String::from_utf8(stack.s3_get(key).await.unwrap()).unwrap();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (code, section) = (column("Course Code"), column("Section ID"));
    let department = column("Processing Department");
    lines
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            (
                (f[code].to_string(), f[section].to_string()),
                f[department].to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pushed_rules_file_is_followed_by_the_next_run_without_a_redeploy_and_named_in_its_summary(
) {
    let stack = start_stack().await;
    let day = NaiveDate::parse_from_str(RUN_DATE, "%Y-%m-%d").unwrap();
    stack.put_sample_export(day).unwrap();
    let (execution, _) = run(&stack, "day-rules-1", json!({"run_date": RUN_DATE})).await;
    assert_succeeded(&execution);

    // No rules object: the shipped rules, and the summary says so.
    let first = json_at(&stack, "reports/2026/11/28/run-summary.json").await;
    assert_eq!(
        first["rules"],
        json!({"origin": "shipped", "sha256": sha256_hex(ASU_RULES_TOML.as_bytes())})
    );
    let before = departments(&stack, &first).await;
    assert!(
        before.values().any(|d| d == "NOBLE"),
        "the sample has Noble's courses"
    );

    // A person pushes rules that send Noble's courses elsewhere: no redeploy.
    let text = ASU_RULES_TOML.replacen(
        "department = \"NOBLE\"",
        "department = \"NURSING_LIBRARY\"",
        1,
    );
    let store = Store::new(stack.s3(), BUCKET);
    let Pushed::New { version, replaced } = push(&store, &text, "nursing.toml").await.unwrap()
    else {
        panic!("the text was new");
    };
    assert_eq!(replaced.origin, RulesOrigin::Shipped);
    let version_id = version.version_id.clone().expect("the bucket is versioned");
    assert_eq!(version.sha256, sha256_hex(text.as_bytes()));

    // The next day, the same export: every Noble course now goes to the new department.
    let next = format!("leganto_export_{}.csv", NEXT_DAY.replace('-', ""));
    stack.put_export(&next, &read_sample("cem.csv")).unwrap();
    let (execution, _) = run(&stack, "day-rules-2", json!({"run_date": NEXT_DAY})).await;
    assert_succeeded(&execution);
    let second = json_at(&stack, "reports/2026/11/29/run-summary.json").await;
    let after = departments(&stack, &second).await;
    assert!(after.values().all(|d| d != "NOBLE"), "{after:?}");
    let mut moved = 0;
    for (course, department) in &after {
        let Some(was) = before.get(course) else {
            continue;
        };
        if was == "NOBLE" {
            assert_eq!(department, "NURSING_LIBRARY", "{course:?}");
            moved += 1;
        } else {
            assert_eq!(department, was, "{course:?}: only Noble's courses move");
        }
    }
    assert!(moved > 0, "{after:?}");

    // Its summary, its state (the transform's and the report's) and its page name the
    // version pushed.
    let recorded = json!({"origin": "s3", "location": "config/rules.toml",
                          "version_id": version_id, "sha256": version.sha256});
    assert_eq!(second["rules"], recorded);
    let out = execution.output.unwrap();
    assert_eq!(out["transform"]["rules"], recorded);
    assert_eq!(out["report"]["rules"], recorded);
    let page =
        String::from_utf8(stack.s3_get("reports/2026/11/29/index.html").await.unwrap()).unwrap();
    let line = format!(
        "Rules: config/rules.toml version {version_id} (sha256 {}…)",
        version.short_sha256()
    );
    assert!(page.contains(&line), "{line} not on the page");
    let figures = json_at(&stack, "reports/2026/11/29/figures.json").await;
    assert_eq!(figures["rules"], recorded);
}

/// A second institution, through the whole stack: its rules pushed (the `[export]` table
/// maps a tab-separated Banner-style export with US dates and its own status words), its
/// export dropped, its day run. Alma gets byte for byte the loader file its fixture gives,
/// the report is its expected one, and the term it lacks is said where people look.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_institution_with_its_own_export_loads_through_the_stack_by_its_pushed_rules() {
    let dir = leganto_tests::support::fixtures_dir().join("second-institution");
    let text = std::fs::read_to_string(dir.join("rules.toml")).unwrap();
    // Its Alma defines its own processing departments, which its loader checks each row by.
    let departments = leganto_tests::support::departments_in_rules(&text);
    assert_eq!(
        departments,
        [
            "DOWNTOWN_LIB",
            "HEALTH_LIB",
            "LAW_LIB",
            "MAIN_LIB",
            "MUSIC_LIB"
        ]
    );
    let stack = match Stack::start(leganto_tests::stack::StackOptions {
        alma_fixture: dir.join("alma_courses.json"),
        processing_departments: Some(departments),
        ..Default::default()
    })
    .await
    {
        Ok(stack) => stack,
        Err(e) => panic!("the local stack did not start: {e}"),
    };
    let store = Store::new(stack.s3(), BUCKET);
    let Pushed::New { version, .. } = push(&store, &text, "rules.toml").await.unwrap() else {
        panic!("the text was new");
    };
    stack
        .put_export(
            "leganto_export_20261210.csv",
            &std::fs::read(dir.join("export.tsv")).unwrap(),
        )
        .unwrap();

    // Two of its 41 rows are rejected, more than BrakeRejectPercent (2): the day holds for a
    // person, who approves it, as on any small day with a bad row or two.
    let arn = stack
        .start_execution("second-institution", &json!({"run_date": "2026-12-10"}))
        .await
        .unwrap();
    super::hold::wait_until_held(&stack, &arn).await;
    let approve = DecisionRequest {
        run_date: NaiveDate::from_ymd_opt(2026, 12, 10).unwrap(),
        decision: Verdict::Approve,
        by: "pat@example.edu".into(),
        reason: "two rows without a term, known".into(),
    };
    hold::decide(&store, &approve, chrono::Utc::now())
        .await
        .unwrap();
    let execution = stack
        .wait_for_execution(&arn, super::support::EXECUTION_LIMIT)
        .await
        .unwrap();
    assert_succeeded(&execution);
    let out = execution.output.unwrap();
    assert_eq!(
        out["transform"]["rules"]["version_id"],
        json!(version.version_id)
    );

    let files = stack.alma_files().unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let pushed = std::fs::read(stack.alma_dir().join(&files[0])).unwrap();
    let expected = std::fs::read(dir.join("expected_alma.txt")).unwrap();
    assert!(
        pushed == expected,
        "the pushed file differs from expected_alma.txt:\n{}",
        String::from_utf8_lossy(&pushed)
    );
    let runs = stack.alma.job_instances();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].file_name, files[0]);
    assert_eq!(runs[0].counters.errors, 0, "{:#?}", runs[0].row_errors);

    let report_key = out["report"]["report_key"].as_str().unwrap();
    let report = stack.s3_get(report_key).await.unwrap();
    let expected_report = std::fs::read(dir.join("expected_rollover.txt")).unwrap();
    assert!(
        report == expected_report,
        "the rollover report differs from expected_rollover.txt:\n{}",
        String::from_utf8_lossy(&report)
    );

    // Spring 2027 starts in 40 days and the export has none of it: a warning, not a stop.
    let warning =
        "the export holds no course of term SP 2027, which starts 2027-01-19 (in 40 days)";
    let summary = json_at(&stack, "reports/2026/12/10/run-summary.json").await;
    assert_eq!(
        summary["counts"]["terms_missing"], 1,
        "{}",
        summary["counts"]
    );
    assert_eq!(summary["warnings"][0], warning);
    let slack: Vec<String> = stack
        .slack
        .posts()
        .iter()
        .map(super::support::post_text)
        .collect();
    // Slack and the page begin the sentence with a capital.
    let said = warning.trim_start_matches("the ");
    assert!(slack.iter().any(|p| p.contains(said)), "{slack:#?}");
    let page =
        String::from_utf8(stack.s3_get("reports/2026/12/10/index.html").await.unwrap()).unwrap();
    assert!(page.contains(said), "the day page says it");
}
