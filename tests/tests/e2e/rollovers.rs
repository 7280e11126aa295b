//! Reviewed rollovers (course-loading.md §10) through the local stack: a day's rollover
//! report reviewed row by row, each approval a conditional write to the ledger under
//! `state/rollovers/`, an approval withdrawn and given again.

use chrono::{NaiveDate, Utc};
use leganto_shared::ops::rollovers::{self, Approval, Selection};
use leganto_shared::ops::OpsError;
use leganto_shared::run::rollovers::Stage;
use leganto_shared::store::Store;
use leganto_tests::stack::{Stack, StackOptions, BUCKET};
use leganto_tests::support::RUN_DATE;
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
