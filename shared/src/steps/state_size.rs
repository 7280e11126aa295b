//! The state limits of `crate::run::limits` held against every step's largest output:
//! a test of the steps' outputs together, so it lives beside them.

use crate::run::limits::{clip, LINE_BYTES, NAME_BYTES, STATE_LIMIT, STEP_OUTPUT_BUDGET, YEARS};

/// Each step's largest output, from inputs far beyond any real day, merged into one
/// state as the definition's `ResultPath`s and the Parallel's merge build it.
#[test]
fn the_whole_state_of_the_worst_day_stays_far_under_the_limit() {
    use crate::run::outputs::AlmaJobOutput;
    use crate::run::outputs::CacheOutput;
    use crate::run::outputs::PullOutput;
    use crate::run::outputs::PushOutput;
    use crate::run::outputs::ReportOutput;
    use crate::run::summary::{TransformCounts, TransformOutput};
    use crate::sftp::RemoteFile;
    use crate::steps::notify_slack::SlackOutput;
    use crate::steps::pull::{candidate_report, choose_export};
    use crate::steps::{RunInfo, Stage, StepError};
    use chrono::{DateTime, NaiveDate, Utc};
    use serde_json::{json, Value};

    // Text from outside at its worst: long, and full of what JSON escapes.
    let nasty = |n: usize| "\"\\\u{1}é🦀".repeat(n);
    // S3 allows keys of up to 1,024 bytes.
    let key = |prefix: &str| format!("{prefix}{}", "k".repeat(1024 - prefix.len()));
    let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    let now: DateTime<Utc> = "2026-11-28T16:25:14Z".parse().unwrap();

    let mut run = RunInfo::for_date(date);
    run.skipped_stages = Stage::ALL.to_vec();
    run.time_zone = "America/Argentina/ComodRivadavia".into();
    run.execution_arn = format!(
        "arn:aws:states:us-west-2:123456789012:execution:{}",
        "e".repeat(160)
    );
    run.execution_name = "n".repeat(80);
    run.console_url = Some(format!(
        "https://us-west-2.console.aws.amazon.com/{}",
        "u".repeat(400)
    ));
    run.started_at = Some(now);

    let files: Vec<RemoteFile> = (0..500)
        .map(|i| RemoteFile {
            name: format!("leganto_export_20261128_{i}{}", nasty(200)),
            size: 1,
            mtime: DateTime::from_timestamp(i, 0),
        })
        .collect();
    let chosen = choose_export(&files).unwrap();
    let (candidates, warnings) = candidate_report(&files, chosen, date);
    let pull = PullOutput {
        export_key: key("cem/2026/11/28/"),
        source_file: "s".repeat(1009),
        bytes: u64::MAX,
        candidates,
        warnings,
    };

    // S3 allows version ids of up to 1,024 bytes; RULES_FILE is a path of up to 4,096.
    let rules = crate::run::rules::RulesVersion {
        origin: crate::run::rules::RulesOrigin::File,
        location: Some(nasty(4096 / 11)),
        version_id: Some("v".repeat(1024)),
        sha256: "0".repeat(64),
    };
    let transform = TransformOutput {
        loader_key: key("alma/2026/11/28/"),
        loader_file_name: "f".repeat(1008),
        summary_key: "reports/2026/11/28/run-summary.json".into(),
        rejects_key: "reports/2026/11/28/rejects.csv".into(),
        counts: TransformCounts {
            rows_read: u64::MAX,
            rows_skipped: u64::MAX,
            rows_written: u64::MAX,
            rejected: u64::MAX,
            deletes_sent: u64::MAX,
            deletes_suppressed: u64::MAX,
            deletes_not_in_alma: u64::MAX,
            warnings: u64::MAX,
            rows_in_file: u64::MAX,
            deletes_unclear: u64::MAX,
            terms_missing: u64::MAX,
        },
        warnings: vec![nasty(2000); 10_000],
        years_needed: (-5000..5000).collect(),
        brake: crate::run::summary::Brake {
            tripped: true,
            reasons: vec![nasty(5000); 1000],
            compared_with: Some(date),
            history_days: 14,
        },
        load: Some(crate::domain::delta::Load {
            kind: crate::domain::delta::LoadKind::Full,
            courses: u64::MAX,
            changed: u64::MAX,
            reason: Some(nasty(5000)),
            since: None,
        }),
        rules: Some(rules.clone()),
        full_load_request: Some(crate::run::full_load::FollowedRequest {
            request: crate::run::full_load::FullLoadRequest::new(&nasty(5000), chrono::Utc::now()),
            etag: "\"0123456789abcdef0123456789abcdef\"".into(),
        }),
    }
    .bounded(2026);

    let push = PushOutput {
        file_name: "f".repeat(1008),
        remote_path: Some(format!("/{}", nasty(300))),
        bytes: u64::MAX,
        pushed_at: now,
        already_there: true,
        recalled: true,
        sha256: "0".repeat(64),
        loader_key: Some(key("alma/2026/11/28/")),
        deletes_dropped_at_push: u64::MAX,
        forced: true,
        rollovers: crate::run::rollovers::PushedRollovers {
            sent: u64::MAX,
            already_has_lists: u64::MAX,
            source_has_no_lists: u64::MAX,
            not_sent: u64::MAX,
            next_push: u64::MAX,
        },
    };

    let alma_job = AlmaJobOutput {
        done: true,
        timed_out: true,
        status: nasty(5000),
        job_instance_id: Some(nasty(5000)),
        started_at: Some(now),
        ended_at: Some(now),
        counters: (0..5000)
            .map(|i| (format!("{i}{}", nasty(500)), u64::MAX))
            .collect(),
        checks: u64::MAX,
        waited_seconds: u64::MAX,
        baseline_saved: true,
    }
    .bounded();

    let caches: Vec<CacheOutput> = transform
        .years_needed
        .iter()
        .map(|year| CacheOutput {
            year: *year,
            cache_key: key("cache/2026/11/28/courses-"),
            courses: u64::MAX,
            api_calls: u64::MAX,
            reused: true,
        })
        .collect();
    assert_eq!(caches.len(), YEARS);

    let report = ReportOutput {
        report_key: key("reports/2026/11/28/rollover_"),
        report_file_name: "r".repeat(1000),
        rollovers: u64::MAX,
        ambiguous: u64::MAX,
        not_found: u64::MAX,
        candidates: u64::MAX,
        without_reading_lists: u64::MAX,
        excluded: u64::MAX,
        api_calls: u64::MAX,
        new_since_baseline: Some(u64::MAX),
        rules: Some(rules.clone()),
        // One count per stage at most: the keys are the stages' labels.
        ledger: Some(crate::run::rollovers::CheckedRollovers {
            confirmed: u64::MAX,
            failed: u64::MAX,
            report_rows: [
                "approved",
                "source has no lists",
                "revoked",
                "sent",
                "confirmed",
                "failed",
                "already has lists",
            ]
            .into_iter()
            .map(|stage| (stage.to_string(), u64::MAX))
            .collect(),
            marks_key: Some(key("reports/2026/11/28/rollover-marks")),
        }),
    };

    // A Catch keeps the Lambda's error as JSON text, escaped once more in the state.
    let failure = lambda_runtime::Diagnostic::from(StepError::invalid_input(nasty(1_000_000)));
    let cause = json!({"errorType": failure.error_type, "errorMessage": failure.error_message});
    let error = json!({"Error": failure.error_type, "Cause": cause.to_string()});
    let slack = SlackOutput {
        posted: false,
        reason: Some(clip(&nasty(10_000), LINE_BYTES)),
    };

    let sections: Vec<(&str, Value)> = vec![
        ("run", serde_json::to_value(&run).unwrap()),
        ("pull", serde_json::to_value(&pull).unwrap()),
        ("transform", serde_json::to_value(&transform).unwrap()),
        (
            "hold",
            serde_json::to_value(crate::steps::check_hold::HoldOutput {
                decision: crate::steps::check_hold::HoldStatus::Approved,
                held_since: now,
                checks: u64::MAX,
                // Who decided comes from a person's file: bounded like any name.
                by: Some(clip(&nasty(10_000), NAME_BYTES)),
            })
            .unwrap(),
        ),
        ("push", serde_json::to_value(&push).unwrap()),
        ("alma_job", serde_json::to_value(&alma_job).unwrap()),
        ("caches", serde_json::to_value(&caches).unwrap()),
        ("report", serde_json::to_value(&report).unwrap()),
        ("error", error),
        ("failed_state", json!("Wait for Alma and cache the courses")),
        ("slack", serde_json::to_value(&slack).unwrap()),
    ];
    let mut state = serde_json::Map::new();
    for (name, value) in sections {
        let bytes = value.to_string().len();
        assert!(bytes < STEP_OUTPUT_BUDGET, "{name}: {bytes} bytes");
        state.insert(name.to_string(), value);
    }
    let state = Value::Object(state);
    let bytes = state.to_string().len();
    // The Parallel's result holds one copy of the state per branch before the merge.
    assert!(bytes < STATE_LIMIT / 2, "the state: {bytes} bytes");
    let parallel = json!([state, state]).to_string().len();
    assert!(
        parallel < STATE_LIMIT,
        "the Parallel's result: {parallel} bytes"
    );
    let notice = json!({"kind": "failure", "state": state}).to_string().len();
    assert!(
        notice < STATE_LIMIT,
        "the failure notice's input: {notice} bytes"
    );
    eprintln!("the worst day's state: {bytes} bytes; the Parallel's result: {parallel} bytes");
}
