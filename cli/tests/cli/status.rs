//! `leganto status` against moto: the day's files and executions.

use super::*;

const SUMMARY: &str = r#"{
  "loader_key": "alma/2026/11/28/20261128092514.txt",
  "loader_file_name": "20261128092514.txt",
  "summary_key": "reports/2026/11/28/run-summary.json",
  "rejects_key": "reports/2026/11/28/rejects.csv",
  "counts": {"rows_read": 3000, "rows_written": 1742, "rejected": 2, "deletes_suppressed": 3},
  "warnings": ["2 rows rejected"],
  "years_needed": [2025, 2026],
  "run_date": "2026-11-28",
  "made_at": "2026-11-28T16:25:14Z"
}"#;

#[tokio::test(flavor = "multi_thread")]
async fn status_lists_the_day_files_summary_counts_and_only_that_day_executions() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    aws.put("cem/2026/11/28/leganto_export_20261128.csv", "header\n")
        .await;
    aws.put("alma/2026/11/28/20261128092514.txt", "loader\r\n")
        .await;
    aws.put("reports/2026/11/28/run-summary.json", SUMMARY)
        .await;
    aws.put(
        "reports/2026/11/28/rejects.csv",
        "line,course_code,reason\n",
    )
    .await;
    aws.put(
        "reports/2026/11/28/rollover_20261128113002.txt",
        "report\r\n",
    )
    .await;
    aws.put("cache/2026/11/28/courses-2025.json", "{}").await;
    aws.put(
        "alma/2026/11/28/pushed.json",
        r#"{"run_date": "2026-11-28", "file_name": "20261128092514.txt",
            "loader_key": "alma/2026/11/28/20261128092514.txt", "sha256": "ab", "bytes": 8,
            "pushed_at": "2026-11-28T16:25:14Z", "execution_name": "day-2026-11-28"}"#,
    )
    .await;
    // Another day's files and executions must not show.
    aws.put("cem/2026/11/25/leganto_export_20261125.csv", "header\n")
        .await;
    let base = ["--state-machine", &machine, "--bucket", BUCKET];
    for (date, from) in [(RUN_DATE, "rollover_report"), ("2026-11-25", "transform")] {
        let o = aws
            .leganto(
                &[
                    &[
                        "rerun",
                        "--run-date",
                        date,
                        "--from",
                        from,
                        "--wait",
                        "--poll-seconds",
                        "1",
                    ][..],
                    &base[..],
                ]
                .concat(),
            )
            .await;
        assert!(o.status.success(), "{}", stderr(&o));
    }

    let o = aws
        .leganto(&[&["status", "--run-date", RUN_DATE][..], &base[..]].concat())
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for key in [
        "cem/2026/11/28/leganto_export_20261128.csv",
        "alma/2026/11/28/20261128092514.txt",
        "reports/2026/11/28/rejects.csv",
        "reports/2026/11/28/rollover_20261128113002.txt",
        "cache/2026/11/28/courses-2025.json",
        "reports/2026/11/28/run-summary.json",
    ] {
        assert!(out.contains(key), "{key} missing from:\n{out}");
    }
    assert!(!out.contains("2026/11/25"), "{out}");
    for line in [
        "rows_read              3000",
        "rows_written           1742",
        "rejected               2",
        "years needed           2025, 2026",
        "warning: 2 rows rejected",
        "pushed           20261128092514.txt at 2026-11-28 09:25:14 MST by day-2026-11-28",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
    let executions: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Executions for 2026-11-28"))
        .skip(1)
        // An execution's own line; its console link and states are indented under it.
        .filter(|l| !l.starts_with("   "))
        .collect();
    assert_eq!(executions.len(), 1, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("             ") && l.contains("  Build the rollover report  (")),
        "the execution's states: {out}"
    );
    assert!(
        executions[0]
            .trim_start()
            .starts_with("SUCCEEDED  rerun-2026-11-28-rollover_report-"),
        "{out}"
    );
    assert!(executions[0].contains("from rollover_report"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_of_a_day_with_nothing_says_none_for_each_kind() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    let o = aws
        .leganto(&[
            "status",
            "--run-date",
            "2026-11-27",
            "--state-machine",
            &machine,
            "--bucket",
            BUCKET,
        ])
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for label in [
        "export",
        "loader file",
        "rejects",
        "rollover report",
        "course cache",
        "run summary",
        "pushed",
    ] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(label) && l.trim_end().ends_with("none")),
            "{label} not reported as none:\n{out}"
        );
    }
    assert!(
        out.contains("Executions for 2026-11-27 of ") && out.trim_end().ends_with("none"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_execution_counts_for_the_day_it_started_in_the_library_time_zone() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Phoenix)
        .date_naive()
        .to_string();
    // The schedule sends `{}` under a name without a date; a hand-started run for another
    // date started today must not count.
    for (name, input) in [
        ("c0ffee-0001", "{}"),
        ("by-hand", r#"{"run_date": "2020-01-02"}"#),
    ] {
        aws.sfn()
            .start_execution()
            .state_machine_arn(&machine)
            .name(name)
            .input(input)
            .send()
            .await
            .unwrap();
    }
    let o = aws
        .leganto(&[
            "status",
            "--run-date",
            &today,
            "--state-machine",
            &machine,
            "--bucket",
            BUCKET,
            "--time-zone",
            "America/Phoenix",
        ])
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(" c0ffee-0001  (started "), "{out}");
    assert!(!out.contains("by-hand"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_execution_shows_its_error_and_what_to_do_next() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-fail", FAILING).await;
    let started = aws
        .sfn()
        .start_execution()
        .state_machine_arn(&machine)
        .name("rerun-2026-11-28-push-20261128T120000Z")
        .input(r#"{"run_date": "2026-11-28", "start_at": "push"}"#)
        .send()
        .await
        .unwrap();
    // The machine fails at once; wait until Step Functions says so.
    for _ in 0..50 {
        let described = aws
            .sfn()
            .describe_execution()
            .execution_arn(started.execution_arn())
            .send()
            .await
            .unwrap();
        if described.status().as_str() != "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let o = aws
        .leganto(&[
            "status",
            "--run-date",
            RUN_DATE,
            "--state-machine",
            &machine,
            "--bucket",
            BUCKET,
        ])
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("error: ArtefactMissing: artefact missing: s3://leganto-ops-test/reports/2026/11/28/run-summary.json"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "next:  {}",
            leganto_shared::next_step::next_step("ArtefactMissing")
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_prints_where_the_day_page_is_and_open_saves_a_local_copy() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    let page = "<!DOCTYPE html><title>Course load 2026-11-28</title>";
    aws.put("reports/2026/11/28/index.html", page).await;
    // The day's report as the release stores it.
    let report = r#"{"run_date": "2026-11-28", "status": "failed", "failed_state": "Wait for Alma",
        "error": "AlmaJobFailed", "file_pushed": "20261128092514.txt", "alma_job_status": "COMPLETED_FAILED",
        "alma_job_minutes": 12.5, "alma_calls": 35,
        "rollovers": {"found": 42, "not_found": 7, "ambiguous": 3},
        "rules": {"origin": "s3", "location": "config/rules.toml", "version_id": "v7",
                  "sha256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
        "notes": {"brake": {"brake": "approved", "why": "60 DELETE rows", "by": "pat@example.edu"},
                  "forced": true}}"#;
    aws.put("reports/2026/11/28/figures.json", report).await;
    let dir = tempfile::tempdir().unwrap();
    let endpoint = aws.moto.endpoint();
    let args = [
        "status",
        "--run-date",
        RUN_DATE,
        "--state-machine",
        &machine,
        "--bucket",
        BUCKET,
        "--open",
    ];
    let mut cmd = base_command();
    cmd.args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", leganto_tests::moto::REGION)
        // No xdg-open on this PATH: the copy's path is printed instead.
        .env("PATH", dir.path())
        .env("TMPDIR", dir.path());
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let copy = dir.path().join("leganto-day-2026-11-28.html");
    for line in [
        "  day page         s3://leganto-ops-test/reports/2026/11/28/index.html\n".to_string(),
        format!(
            "                   https://{region}.console.aws.amazon.com/s3/object/leganto-ops-test?region={region}&bucketType=general&prefix=reports/2026/11/28/index.html\n",
            region = leganto_tests::moto::REGION
        ),
        format!("Saved a local copy (open it in a browser): {}\n", copy.display()),
        "  day report       reports/2026/11/28/figures.json\n".to_string(),
        "    outcome                failed at Wait for Alma: AlmaJobFailed\n".to_string(),
        "    pushed                 20261128092514.txt (forced)\n".to_string(),
        "    Alma's job             COMPLETED_FAILED, 12.5 min\n".to_string(),
        "    Alma calls             35\n".to_string(),
        "    rollovers              42 found, 7 not found, 3 ambiguous\n".to_string(),
        "    rules                  config/rules.toml version v7 (sha256 0123456789ab…)\n"
            .to_string(),
        "    note: held by the safety brake (60 DELETE rows); approved by pat@example.edu\n"
            .to_string(),
    ] {
        assert!(out.contains(&line), "{line:?} missing from:\n{out}");
    }
    assert!(
        out.find("day page") < out.find("Executions for"),
        "the page comes with the day's files: {out}"
    );
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), page);

    let o = aws
        .leganto(&[
            "status",
            "--run-date",
            "2026-11-27",
            "--state-machine",
            &machine,
            "--bucket",
            BUCKET,
        ])
        .await;
    assert!(
        stdout(&o).contains("  day page         none yet (written when a run for the day ends)\n")
    );
}
