//! Reviewed rollovers (course-loading.md §10) through the local stack: a day's rollover
//! report reviewed row by row, each approval a conditional write to the ledger under
//! `state/rollovers/`, an approval withdrawn and given again; the next day's push sends
//! each approved rollover once, Alma's loader copies the lists, and no rerun, forced push,
//! full load or dry run sends one again.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, Utc};
use leganto_shared::domain::ExportProfile;
use leganto_shared::ops::rollovers::{self, Approval, Selection};
use leganto_shared::ops::OpsError;
use leganto_shared::run::rollovers::{Record, Rollover, Stage};
use leganto_shared::store::Store;
use leganto_tests::cem_edit;
use leganto_tests::stack::{Stack, StackOptions, BUCKET};
use leganto_tests::support::{sample_dir, RUN_DATE};
use serde_json::json;

use super::support::{assert_succeeded, run};

/// The sample day's report holds 185 rollovers.
const REPORT_ROWS: usize = 185;

async fn stack_with_rollovers() -> Stack {
    match Stack::start(StackOptions {
        parameters: vec![("RolloversEnabled".into(), "true".into())],
        ..StackOptions::default()
    })
    .await
    {
        Ok(stack) => stack,
        Err(e) => panic!(
            "the local stack did not start: {}",
            leganto_shared::error::error_chain(&e)
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_day_s_report_is_reviewed_row_by_row_and_each_approval_is_recorded_once() {
    let stack = stack_with_rollovers().await;
    let day = NaiveDate::parse_from_str(RUN_DATE, "%Y-%m-%d").unwrap();
    stack.put_sample_export(day).unwrap();
    let (execution, _) = run(&stack, "rollovers-day-1", json!({"run_date": RUN_DATE})).await;
    assert_succeeded(&execution);
    let store = Store::new(stack.s3(), BUCKET);

    let listed = rollovers::list(&store, Some(day)).await.unwrap();
    assert_eq!(listed.len(), REPORT_ROWS);
    assert!(listed.iter().all(|row| row.state() == "proposed"));
    let first = listed[0].rollover.clone();

    // One row, then all of them: the first is not written twice.
    let pick = Selection::Courses(vec![(first.code.clone(), first.section.clone())]);
    let one = rollovers::approve(&store, day, &pick, "pat@example.edu", Utc::now())
        .await
        .unwrap();
    assert_eq!(one, vec![Approval::Approved(first.clone())]);
    let all = rollovers::approve(&store, day, &Selection::All, "sam@example.edu", Utc::now())
        .await
        .unwrap();
    assert_eq!(all.len(), REPORT_ROWS);
    assert_eq!(all[0], Approval::AlreadyApproved(first.clone()));
    let approved = all
        .iter()
        .filter(|a| matches!(a, Approval::Approved(_)))
        .count();
    assert_eq!(approved, REPORT_ROWS - 1);
    assert_eq!(
        store.list("state/rollovers/").await.unwrap().len(),
        REPORT_ROWS,
        "one ledger record per target course"
    );

    // Withdrawn before it was sent, then approved again: the record keeps its history.
    let revoked = rollovers::revoke(&store, &first.code, &first.section, "pat", Utc::now())
        .await
        .unwrap();
    assert_eq!(revoked.stage, Stage::Revoked);
    let listed = rollovers::list(&store, Some(day)).await.unwrap();
    assert_eq!(listed[0].state(), "revoked");
    assert!(listed[1..].iter().all(|row| row.state() == "approved"));
    let again = rollovers::approve(&store, day, &pick, "pat", Utc::now())
        .await
        .unwrap();
    assert_eq!(again, vec![Approval::Approved(first.clone())]);
    let record = rollovers::list(&store, None).await.unwrap();
    let record = record
        .iter()
        .find(|row| row.rollover == first)
        .and_then(|row| row.record.clone())
        .unwrap();
    assert_eq!(record.stage, Stage::Approved);
    assert_eq!(record.history.len(), 3, "{:?}", record.history);

    // A course the report lacks is named, and nothing is written.
    let wrong = Selection::Courses(vec![("NO-SUCH-COURSE".into(), "1".into())]);
    let err = rollovers::approve(&store, day, &wrong, "pat", Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(err, OpsError::RolloverRefused(_)), "{err}");
    assert!(
        err.to_string().contains("NO-SUCH-COURSE section 1"),
        "{err}"
    );
    assert_eq!(
        store.list("state/rollovers/").await.unwrap().len(),
        REPORT_ROWS
    );

    // A day without a report says so.
    let err = rollovers::list(&store, Some(day.succ_opt().unwrap()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("has no rollover report"), "{err}");
}

/// Each ledger record by target code and section.
async fn ledger(store: &Store) -> BTreeMap<(String, String), Record> {
    rollovers::list(store, None)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|row| row.record)
        .map(|r| ((r.rollover.code.clone(), r.rollover.section.clone()), r))
        .collect()
}

/// How many reading lists Alma holds for each course, by code and section.
fn lists_in_alma(stack: &Stack) -> HashMap<(String, String), usize> {
    stack
        .alma
        .courses()
        .into_iter()
        .map(|c| ((c.code, c.section), c.reading_lists.len()))
        .collect()
}

/// The ROLLOVER rows of every file on Alma's server, with the file each is in.
fn rollover_rows_sent(stack: &Stack) -> Vec<(String, Rollover)> {
    let mut rows = Vec::new();
    for name in stack.alma_files().unwrap() {
        let text = std::fs::read_to_string(stack.alma_dir().join(&name)).unwrap();
        rows.extend(
            text.split("\r\n")
                .filter_map(Rollover::of_row)
                .map(|r| (name.clone(), r)),
        );
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approved_rollovers_go_to_alma_once_with_the_next_push_and_never_again() {
    let stack = stack_with_rollovers().await;
    let store = Store::new(stack.s3(), BUCKET);
    let day_one = NaiveDate::parse_from_str(RUN_DATE, "%Y-%m-%d").unwrap();
    // A Monday: day 2 sends only what changed since day 1, so most targets' rows are added
    // at the end of the file and a full load of day 2 is another file.
    let day_two = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    stack.put_sample_export(day_one).unwrap();
    let (execution, _) = run(&stack, "sent-day-1", json!({"run_date": RUN_DATE})).await;
    assert_succeeded(&execution);
    rollovers::approve(&store, day_one, &Selection::All, "pat", Utc::now())
        .await
        .unwrap();

    // A librarian builds a list for one target course meanwhile: it is skipped and closed.
    let approved = ledger(&store).await;
    assert_eq!(approved.len(), REPORT_ROWS);
    let (has_list, _) = approved.keys().next().cloned().map(|k| (k, ())).unwrap();
    let course = stack
        .alma
        .courses()
        .into_iter()
        .find(|c| (c.code.clone(), c.section.clone()) == has_list)
        .expect("day 1 loaded the target course");
    assert!(course.reading_lists.is_empty(), "{course:?}");
    assert!(stack.alma.add_reading_list(&course.id));

    // Day 2: a next day's export, a few courses changed and one in fifty deleted.
    let sample = std::fs::read(sample_dir().join("cem.csv")).unwrap();
    let edited = cem_edit::next_day(&sample, 50, &ExportProfile::default()).unwrap();
    let name = format!("leganto_export_{}.csv", day_two.format("%Y%m%d"));
    stack.put_export(&name, &edited.export).unwrap();
    let lists_before = lists_in_alma(&stack);

    // A dry run sends nothing and changes no record.
    let (dry, _) = run(
        &stack,
        "sent-day-2-dry",
        json!({"run_date": day_two.to_string(), "dry_run": true}),
    )
    .await;
    assert_succeeded(&dry);
    assert!(rollover_rows_sent(&stack).is_empty());
    assert!(ledger(&store)
        .await
        .values()
        .all(|r| r.stage == Stage::Approved));

    // The live day: each approved rollover once, then confirmed after Alma's job.
    let (live, _) = run(
        &stack,
        "sent-day-2",
        json!({"run_date": day_two.to_string()}),
    )
    .await;
    assert_succeeded(&live);
    let sent = rollover_rows_sent(&stack);
    let after = ledger(&store).await;
    let lists_after = lists_in_alma(&stack);
    let mut targets: Vec<(String, String)> = sent
        .iter()
        .map(|(_, r)| (r.code.clone(), r.section.clone()))
        .collect();
    targets.sort();
    targets.dedup();
    assert_eq!(targets.len(), sent.len(), "one ROLLOVER row per course");
    assert!(sent.len() > REPORT_ROWS / 2, "{} sent", sent.len());
    assert_eq!(after[&has_list].stage, Stage::AlreadyHasLists);
    assert!(!targets.contains(&has_list));
    for (key, record) in &after {
        let r = &record.rollover;
        if targets.contains(key) {
            assert_eq!(record.stage, Stage::Confirmed, "{}", r.describe());
            let source = lists_after[&(r.old_code.clone(), r.old_section.clone())];
            assert!(source > 0);
            assert_eq!(
                lists_before.get(key).copied().unwrap_or(0),
                0,
                "{}",
                r.describe()
            );
            assert_eq!(lists_after[key], source, "{}", r.describe());
            let file = record.sent.as_ref().and_then(|s| s.file_name.clone());
            assert_eq!(file.as_deref(), Some(sent[0].0.as_str()));
        } else if key != &has_list {
            // Not sent: the day's file deletes the course; it stays approved.
            assert_eq!(record.stage, Stage::Approved, "{}", r.describe());
            assert!(edited.changed_codes.contains(&r.code), "{}", r.describe());
        }
    }
    // The day's figures (which Slack, the e-mail and the page say) count them.
    let reports = format!("reports/{}/", day_two.format("%Y/%m/%d"));
    let figures: serde_json::Value = serde_json::from_slice(
        &stack
            .s3_get(&format!("{reports}figures.json"))
            .await
            .unwrap(),
    )
    .unwrap();
    let notes = &figures["notes"];
    assert_eq!(notes["rollovers_pushed"]["sent"], sent.len(), "{notes}");
    assert_eq!(notes["rollovers_pushed"]["already_has_lists"], 1, "{notes}");
    assert_eq!(
        notes["rollovers_checked"]["confirmed"],
        sent.len(),
        "{notes}"
    );
    assert_eq!(notes["rollovers_checked"]["failed"], 0, "{notes}");
    // Day 2's report marks each of its rows with where the ledger has it.
    let marks = String::from_utf8(
        stack
            .s3_get(&format!("{reports}rollover-marks.tsv"))
            .await
            .unwrap(),
    )
    .unwrap();
    let marked: Vec<&str> = marks.lines().skip(1).collect();
    assert!(marked.len() >= sent.len(), "{marks}");
    let confirmed = marked
        .iter()
        .filter(|line| line.split('\t').nth(4) == Some("confirmed"))
        .count();
    assert!(confirmed > 0, "{marks}");
    assert_eq!(
        notes["rollovers_checked"]["report_rows"]["confirmed"], confirmed,
        "{notes}"
    );
    let page =
        String::from_utf8(stack.s3_get(&format!("{reports}index.html")).await.unwrap()).unwrap();
    let said = format!(
        "Rollovers: {} sent with the day&#39;s file; 1 skipped",
        sent.len()
    );
    let said_plain = said.replace("&#39;", "'");
    assert!(
        page.contains(&said) || page.contains(&said_plain),
        "{said_plain}"
    );

    // A forced rerun from the transform and a forced full load of day 2: none again.
    for (name, input) in [
        (
            "sent-day-2-rerun",
            json!({"run_date": day_two.to_string(), "start_at": "transform", "force": true}),
        ),
        (
            "sent-day-2-full",
            json!({"run_date": day_two.to_string(), "start_at": "transform", "force": true,
                   "full": true}),
        ),
    ] {
        let (again, _) = run(&stack, name, input).await;
        assert_succeeded(&again);
        assert_eq!(rollover_rows_sent(&stack).len(), sent.len(), "{name}");
        assert_eq!(lists_in_alma(&stack), lists_after, "{name}");
        let unchanged = ledger(&store).await;
        assert!(
            unchanged.iter().all(|(k, r)| r.stage == after[k].stage),
            "{name}"
        );
    }
    // Each forced run pushed a file of its own (the rerun's delta is against day 2, loaded
    // by then), and neither held a ROLLOVER row.
    assert_eq!(
        stack.alma_files().unwrap().len(),
        4,
        "day 1, day 2, its forced rerun and its full load: {:?}",
        stack.alma_files()
    );
}
