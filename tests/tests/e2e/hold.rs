//! The safety brake end to end: a day whose export shrank against the last loaded day holds
//! before Push, Slack and e-mail say so once, and a person's decision (written as
//! `leganto approve` / `leganto reject` write it) lets it push or ends it with nothing
//! pushed; no decision in time ends it too.

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use leganto_shared::ops::account::{collapse, Entry};
use leganto_shared::ops::hold::{self, DecisionRequest};
use leganto_shared::ops::OpsError;
use leganto_shared::run::hold::Verdict;
use leganto_shared::run::receipt::PushReceipt;
use leganto_shared::store::{DayKeys, Store};
use leganto_tests::stack::{Stack, StackOptions, BUCKET};
use leganto_tests::support::{sample_dir, RUN_DATE};
use serde_json::json;

use super::support::{assert_succeeded, entered, post_text, EXECUTION_LIMIT};

/// The last day loaded before the held days: a full export of 10,000 rows.
const LOADED_DAY: &str = "2026-11-20";
const LOADED_ROWS: u64 = 10_000;

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// The push receipt and run summary an earlier, normal day left.
async fn seed_loaded_day(store: &Store) {
    let counts = json!({"rows_read": LOADED_ROWS, "rows_written": 9_000, "deletes_sent": 20});
    seed_loaded(store, date(LOADED_DAY), counts).await;
}

/// The push receipt and run summary of a day loaded with `counts`.
async fn seed_loaded(store: &Store, run_date: NaiveDate, counts: serde_json::Value) {
    let day = DayKeys::new(run_date);
    let file_name = format!("{}092514.txt", run_date.format("%Y%m%d"));
    let receipt = PushReceipt {
        transform_key: None,
        run_date,
        file_name: file_name.clone(),
        loader_key: format!("{}{file_name}", day.alma_prefix()),
        sha256: "0".repeat(64),
        bytes: 1,
        pushed_at: Utc::now(),
        execution_arn: String::new(),
        execution_name: format!("day-{run_date}"),
        forced: false,
        source_sha256: None,
    };
    store.put_json(&day.push_receipt(), &receipt).await.unwrap();
    store
        .put_json(
            &day.run_summary(),
            &json!({
                "loader_key": receipt.loader_key,
                "loader_file_name": file_name,
                "summary_key": day.run_summary(),
                "rejects_key": day.rejects(),
                "counts": counts,
            }),
        )
        .await
        .unwrap();
}

fn store(stack: &Stack) -> Store {
    Store::new(stack.s3(), BUCKET)
}

/// Waits until the execution sits in the hold's Wait (people have been told by then).
pub(super) async fn wait_until_held(stack: &Stack, arn: &str) {
    let deadline = tokio::time::Instant::now() + EXECUTION_LIMIT;
    loop {
        let visits = stack.history(arn).await.unwrap();
        if entered(&visits).contains("Wait for a person's decision") {
            return;
        }
        let execution = stack.describe(arn).await.unwrap();
        assert_eq!(
            execution.status, "RUNNING",
            "ended before it held: {:?} {:?}",
            execution.error, execution.cause
        );
        assert!(tokio::time::Instant::now() < deadline, "never held");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn decision(run_date: &str, verdict: Verdict, reason: &str) -> DecisionRequest {
    DecisionRequest {
        run_date: date(run_date),
        decision: verdict,
        by: "pat@example.edu".into(),
        reason: reason.into(),
    }
}

/// The posts that announce a hold.
fn hold_posts(stack: &Stack) -> Vec<String> {
    stack
        .slack
        .posts()
        .iter()
        .map(post_text)
        .filter(|t| t.contains("is held"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shrunken_export_holds_until_approved_then_pushes_and_a_rejected_day_pushes_nothing() {
    let stack = super::support::start_stack().await;
    let store = store(&stack);
    seed_loaded_day(&store).await;

    // Nothing is held yet: a decision is refused, for a day never transformed and for a
    // loaded day whose brake did not trip.
    for day in [RUN_DATE, LOADED_DAY] {
        let err = hold::decide(&store, &decision(day, Verdict::Approve, ""), Utc::now())
            .await
            .unwrap_err();
        assert!(
            matches!(err, OpsError::DecisionRefused { .. }),
            "{}",
            leganto_shared::error::error_chain(&err)
        );
    }

    // The sample day has 3,000 rows against 10,000: it holds before Push.
    stack.put_sample_export(date(RUN_DATE)).unwrap();
    let arn = stack
        .start_execution(&format!("held-{RUN_DATE}"), &json!({"run_date": RUN_DATE}))
        .await
        .unwrap();
    wait_until_held(&stack, &arn).await;
    assert!(stack.alma_files().unwrap().is_empty(), "pushed while held");

    let told = hold_posts(&stack);
    assert_eq!(told.len(), 1, "{told:#?}");
    for expected in [
        "Course load 2026-11-28 is held",
        "3,000 rows, 7,000 fewer than the 10,000 of 2026-11-20",
        "70.0%",
        // The stack's name (STACK_NAME), so the commands run as written anywhere.
        "leganto approve --stack leganto-local --run-date 2026-11-28",
        "leganto reject --stack leganto-local --run-date 2026-11-28 --reason",
    ] {
        assert!(
            told[0].contains(expected),
            "{expected:?} not in {}",
            told[0]
        );
    }
    let emails = stack.moto.sent_emails().await.unwrap();
    assert_eq!(emails.len(), 1, "one hold notice by e-mail");
    let mail = mail_parser::MessageParser::default()
        .parse(emails[0].raw_data.as_bytes())
        .unwrap();
    assert!(mail
        .subject()
        .unwrap_or_default()
        .contains("2026-11-28 is held"));
    let body = mail.body_text(0).unwrap_or_default().to_string();
    assert!(body.contains("7,000 fewer"), "{body}");
    assert!(
        body.contains("leganto approve --stack leganto-local --run-date 2026-11-28"),
        "the e-mail's command names the stack: {body}"
    );

    // A person approves: the held execution pushes at its next look and ends as any day.
    let decided = hold::decide(
        &store,
        &decision(RUN_DATE, Verdict::Approve, ""),
        Utc::now(),
    )
    .await
    .unwrap();
    let execution = stack
        .wait_for_execution(&arn, EXECUTION_LIMIT)
        .await
        .unwrap();
    assert_succeeded(&execution);
    let out = execution.output.unwrap();
    assert_eq!(out["transform"]["brake"]["tripped"], true);
    assert_eq!(out["transform"]["brake"]["compared_with"], LOADED_DAY);
    assert_eq!(out["hold"]["decision"], "approved");
    assert_eq!(out["hold"]["by"], "pat@example.edu");
    assert_eq!(
        decided.decision.loader_file,
        out["transform"]["loader_file_name"].as_str().unwrap()
    );
    // Pushed under the time of the approval's upload, not of the morning's transform.
    let loader = out["push"]["file_name"].as_str().unwrap();
    assert!(loader >= decided.decision.loader_file.as_str(), "{loader}");
    assert_eq!(stack.alma_files().unwrap(), vec![loader.to_string()]);
    let visits = stack.history(&arn).await.unwrap();
    let told_times = visits
        .iter()
        .filter(|v| v.name == "Tell people the day is held")
        .count();
    assert_eq!(told_times, 1, "people are told once");
    assert!(
        visits
            .iter()
            .filter(|v| v.name == "Check for a person's decision")
            .count()
            >= 2
    );
    assert_eq!(hold_posts(&stack).len(), 1, "Slack heard of the hold once");

    // The next day, shrunken again (a third of the rows), is rejected: it fails and nothing
    // more reaches Alma.
    let rejected_day = "2026-11-29";
    let sample = std::fs::read(sample_dir().join("cem.csv")).unwrap();
    let third: Vec<&[u8]> = sample
        .split_inclusive(|b| *b == b'\n')
        .take(1_000)
        .collect();
    stack
        .put_export("leganto_export_20261129.csv", &third.concat())
        .unwrap();
    let arn = stack
        .start_execution(
            &format!("held-{rejected_day}"),
            &json!({"run_date": rejected_day}),
        )
        .await
        .unwrap();
    wait_until_held(&stack, &arn).await;
    hold::decide(
        &store,
        &decision(rejected_day, Verdict::Reject, "half the export is missing"),
        Utc::now(),
    )
    .await
    .unwrap();
    let execution = stack
        .wait_for_execution(&arn, EXECUTION_LIMIT)
        .await
        .unwrap();
    assert_eq!(execution.status, "FAILED");
    assert_eq!(execution.error.as_deref(), Some("HeldRejected"));
    let cause = execution.cause.unwrap_or_default();
    assert!(cause.contains("half the export is missing"), "{cause}");
    let visits = stack.history(&arn).await.unwrap();
    assert!(!entered(&visits).contains("Push to Alma SFTP"));
    assert_eq!(stack.alma_files().unwrap(), vec![loader.to_string()]);
    let last = post_text(stack.slack.posts().last().unwrap());
    assert!(last.contains("HeldRejected"), "{last}");
    assert!(last.contains("half the export is missing"), "{last}");
    assert!(last.contains("nothing was pushed"), "{last}");
    assert_eq!(hold_posts(&stack).len(), 2, "one hold notice per held day");

    // Once a day has a push receipt, a decision would change nothing and is refused.
    let receipt_of = |day: &str| DayKeys::new(date(day)).push_receipt();
    let receipt: PushReceipt = store.get_json(&receipt_of(LOADED_DAY)).await.unwrap();
    store
        .put_json(
            &receipt_of(rejected_day),
            &PushReceipt {
                transform_key: None,
                run_date: date(rejected_day),
                ..receipt
            },
        )
        .await
        .unwrap();
    let err = hold::decide(
        &store,
        &decision(rejected_day, Verdict::Approve, ""),
        Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("already pushed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_day_nobody_decides_on_ends_with_nothing_pushed() {
    let stack = match Stack::start(StackOptions {
        // 3.6 seconds.
        hold_limit_hours: 0.001,
        ..StackOptions::default()
    })
    .await
    {
        Ok(stack) => stack,
        Err(e) => panic!(
            "the local stack did not start: {}",
            leganto_shared::error::error_chain(&e)
        ),
    };
    seed_loaded_day(&store(&stack)).await;
    stack.put_sample_export(date(RUN_DATE)).unwrap();
    let (execution, visits) = super::support::run(
        &stack,
        &format!("expired-{RUN_DATE}"),
        json!({"run_date": RUN_DATE}),
    )
    .await;
    assert_eq!(execution.status, "FAILED");
    assert_eq!(execution.error.as_deref(), Some("HeldExpired"));
    assert!(entered(&visits).contains("Tell people the day is held"));
    assert!(!entered(&visits).contains("Push to Alma SFTP"));
    assert!(stack.alma_files().unwrap().is_empty());
    let last = post_text(stack.slack.posts().last().unwrap());
    assert!(last.contains("HeldExpired"), "{last}");
    assert!(last.contains("nobody decided within 0.001 hours"), "{last}");

    // To load it after all, as the error says: approve, then rerun from push. The rerun's
    // first look finds the approval: it pushes without holding or telling anyone again.
    let store = store(&stack);
    hold::decide(
        &store,
        &decision(RUN_DATE, Verdict::Approve, ""),
        Utc::now(),
    )
    .await
    .unwrap();
    let posts_before = stack.slack.posts().len();
    let (rerun, visits) = super::support::run(
        &stack,
        &format!("rerun-{RUN_DATE}-push"),
        json!({"run_date": RUN_DATE, "start_at": "push"}),
    )
    .await;
    assert_succeeded(&rerun);
    let names = entered(&visits);
    assert!(names.contains("Check for a person's decision"));
    assert!(!names.contains("Tell people the day is held"));
    let out = rerun.output.unwrap();
    let loader = out["push"]["file_name"].as_str().unwrap();
    assert_eq!(stack.alma_files().unwrap(), vec![loader.to_string()]);
    let posts = stack.slack.posts();
    assert_eq!(posts.len(), posts_before + 1, "only the day's summary");
    let summary = post_text(posts.last().unwrap());
    assert!(
        summary.contains("Held by the safety brake")
            && summary.contains("approved by pat@example.edu"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_day_approved_after_alma_s_loader_ran_empty_goes_up_under_a_later_stamp_and_loads() {
    // Alma's loader on its own schedule (an hour: it runs only when the test says so).
    let stack = match Stack::start(StackOptions {
        alma_loader_every: Some(Duration::from_secs(3600)),
        ..StackOptions::default()
    })
    .await
    {
        Ok(stack) => stack,
        Err(e) => panic!(
            "the local stack did not start: {}",
            leganto_shared::error::error_chain(&e)
        ),
    };
    let store = store(&stack);
    seed_loaded_day(&store).await;
    stack.put_sample_export(date(RUN_DATE)).unwrap();
    let arn = stack
        .start_execution(&format!("late-{RUN_DATE}"), &json!({"run_date": RUN_DATE}))
        .await
        .unwrap();
    wait_until_held(&stack, &arn).await;

    // While the day waits for a person, Alma's loader runs and finds nothing: from now on it
    // takes only files stamped later than this run, so the morning's stamp would be skipped.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let empty = stack.alma.run_loader_now().await.unwrap();
    assert_eq!(empty.len(), 1, "{empty:#?}");
    assert!(empty[0].file_name.is_empty(), "{empty:#?}");
    let empty_run = empty[0].submit_time;

    hold::decide(
        &store,
        &decision(RUN_DATE, Verdict::Approve, ""),
        Utc::now(),
    )
    .await
    .unwrap();
    // Pushed at the held execution's next look; then Alma's next run takes it. The file is
    // there once renamed: its hidden temporary name (`.….part`) shows first, while the
    // bytes go up and until the name chosen for them is recorded.
    let deadline = tokio::time::Instant::now() + EXECUTION_LIMIT;
    let named = |files: Vec<String>| files.iter().any(|f| !f.starts_with('.'));
    while !named(stack.alma_files().unwrap()) {
        assert!(tokio::time::Instant::now() < deadline, "never pushed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let next = stack.alma.run_loader_now().await.unwrap();
    let execution = stack
        .wait_for_execution(&arn, EXECUTION_LIMIT)
        .await
        .unwrap();
    assert_succeeded(&execution);
    let out = execution.output.unwrap();
    let pushed = out["push"]["file_name"].as_str().unwrap();
    let made = out["transform"]["loader_file_name"].as_str().unwrap();
    let empty_stamp = empty_run
        .with_timezone(&chrono_tz::America::Phoenix)
        .format("%Y%m%d%H%M%S.txt")
        .to_string();
    assert!(made < empty_stamp.as_str(), "{made} {empty_stamp}");
    assert!(
        pushed > empty_stamp.as_str(),
        "{pushed} is not after {empty_stamp}"
    );
    // Alma's run after the push took exactly our file, and the day counts as loaded.
    assert_eq!(next.len(), 1, "{next:#?}");
    assert_eq!(next[0].file_name, pushed);
    assert!(next[0].counters.rows_read > 0, "{:#?}", next[0].counters);
    assert_eq!(out["alma_job"]["status"], "COMPLETED_SUCCESS");
    assert_eq!(out["alma_job"]["job_instance_id"], next[0].id.as_str());
    let report: serde_json::Value = serde_json::from_slice(
        &stack
            .s3_get("reports/2026/11/28/figures.json")
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["loaded"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_day_with_ten_times_its_usual_deletes_holds_and_slack_names_the_usual_range() {
    // A floor under the usual's multiple low enough for the sample day's 54 DELETE rows.
    let stack = match Stack::start(StackOptions {
        parameters: vec![("BrakeDeleteMax".into(), "20".into())],
        ..StackOptions::default()
    })
    .await
    {
        Ok(stack) => stack,
        Err(e) => panic!(
            "the local stack did not start: {}",
            leganto_shared::error::error_chain(&e)
        ),
    };
    // Fourteen ordinary days of the sample's size with 4 to 7 DELETE rows (median 5), and
    // an older one with many, beyond the fourteen: it does not count.
    let store = store(&stack);
    let run_date = date(RUN_DATE);
    for back in 1..=14_u64 {
        let deletes = 4 + back % 4;
        let counts = json!({"rows_read": 3000, "rows_written": 1742, "deletes_sent": deletes});
        seed_loaded(&store, run_date - chrono::Days::new(back), counts).await;
    }
    let old = json!({"rows_read": 3000, "rows_written": 1742, "deletes_sent": 900});
    seed_loaded(&store, run_date - chrono::Days::new(20), old).await;

    stack.put_sample_export(run_date).unwrap();
    let arn = stack
        .start_execution(&format!("usual-{RUN_DATE}"), &json!({"run_date": RUN_DATE}))
        .await
        .unwrap();
    wait_until_held(&stack, &arn).await;
    let told = hold_posts(&stack);
    assert_eq!(told.len(), 1, "{told:#?}");
    for expected in [
        "54 DELETE rows would be sent; the last 14 loaded days had 4–7 DELETE rows (median 5); \
         a day holds above 25 (5 times the median)",
        "Compared with the last 14 days loaded, the newest 2026-11-27",
    ] {
        assert!(
            told[0].contains(expected),
            "{expected:?} not in {}",
            told[0]
        );
    }
    // A few looks (a second apart) before the decision.
    loop {
        let visits = stack.history(&arn).await.unwrap();
        let looks = visits
            .iter()
            .filter(|v| v.name == "Check for a person's decision")
            .count();
        if looks >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    hold::decide(
        &store,
        &decision(RUN_DATE, Verdict::Reject, "checking the deletes first"),
        Utc::now(),
    )
    .await
    .unwrap();
    let execution = stack
        .wait_for_execution(&arn, EXECUTION_LIMIT)
        .await
        .unwrap();
    assert_eq!(execution.error.as_deref(), Some("HeldRejected"));
    let summary: serde_json::Value = store
        .get_json(&DayKeys::new(run_date).run_summary())
        .await
        .unwrap();
    assert_eq!(summary["brake"]["history_days"], 14);
    assert!(stack.alma_files().unwrap().is_empty());

    // The account `leganto status` prints: the decision loop is one entry, however many
    // passes it made.
    let sfn = aws_sdk_sfn::Client::new(&stack.sdk);
    let executions = leganto_shared::ops::status::executions_for_day(
        &sfn,
        &stack.state_machine_arn,
        run_date,
        chrono_tz::America::Phoenix,
    )
    .await
    .unwrap();
    assert_eq!(executions.len(), 1);
    let account = collapse(&executions[0].visits);
    let loops: Vec<String> = account
        .iter()
        .filter_map(|e| match e {
            Entry::Loop(l) => Some(l.names()),
            Entry::Once(_) => None,
        })
        .collect();
    assert_eq!(loops.len(), 1, "{loops:?}");
    assert!(
        loops[0].contains("Check for a person's decision ×")
            && loops[0].contains("Wait for a person's decision ×"),
        "{loops:?}"
    );
    let passes = executions[0]
        .visits
        .iter()
        .filter(|v| v.name == "Check for a person's decision")
        .count();
    assert!(passes >= 2, "the hold looked {passes} times");
    assert!(account.len() < executions[0].visits.len());
}
