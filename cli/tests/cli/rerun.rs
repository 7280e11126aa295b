//! `leganto rerun` against moto's Step Functions.

use super::*;

async fn execution_count(aws: &Aws, machine: &str) -> usize {
    aws.sfn()
        .list_executions()
        .state_machine_arn(machine)
        .send()
        .await
        .unwrap()
        .executions()
        .len()
}

#[tokio::test(flavor = "multi_thread")]
async fn rerun_starts_an_execution_named_for_the_day_and_stage_with_the_contract_input() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    aws.put("cem/2026/11/28/leganto_export_20261128.csv", "header\n")
        .await;

    let o = aws
        .leganto(&[
            "rerun",
            "--run-date",
            RUN_DATE,
            "--from",
            "rollover_report",
            "--state-machine",
            &machine,
            "--bucket",
            BUCKET,
        ])
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let arn = field(&out, "execution").expect("execution ARN printed");
    let described = aws
        .sfn()
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    let name = described.name().unwrap();
    let stamp = name
        .strip_prefix("rerun-2026-11-28-rollover_report-")
        .unwrap_or_else(|| panic!("unexpected name {name}"));
    assert!(
        stamp.len() == 16 && stamp.ends_with('Z') && stamp.as_bytes()[8] == b'T',
        "{name}"
    );
    assert!(name.len() <= 80);
    let input: serde_json::Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(
        input,
        serde_json::json!({"run_date": "2026-11-28", "start_at": "rollover_report", "dry_run": false})
    );
    assert_eq!(
        field(&out, "console").unwrap(),
        format!("https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/{arn}")
    );
    assert!(
        out.contains("uses       s3://leganto-ops-test/cem/2026/11/28/leganto_export_20261128.csv"),
        "{out}"
    );
    assert_eq!(execution_count(&aws, &machine).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn rerun_with_wait_follows_each_state_and_a_dry_run_says_so_in_its_input() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    // A dry run from the push uses a dry run's own files, never the live ones.
    aws.put("dry-run/2026/11/28/reports/run-summary.json", "{}")
        .await;
    aws.put("dry-run/2026/11/28/alma/20261128092514.txt", "loader\r\n")
        .await;

    let o = aws
        .leganto(&[
            "rerun",
            "--run-date",
            RUN_DATE,
            "--from",
            "push",
            "--dry-run",
            "--wait",
            "--poll-seconds",
            "1",
            "--state-machine",
            &machine,
            "--bucket",
            BUCKET,
        ])
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let order: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_once("  ").map(|(_, rest)| rest.trim()))
        .filter(|l| l.starts_with("entered") || l.starts_with("exited"))
        .collect();
    assert_eq!(
        order,
        [
            "entered  Plan the run",
            "exited   Plan the run",
            "entered  Wait for Alma",
            "exited   Wait for Alma",
            "entered  Build the rollover report",
            "exited   Build the rollover report",
        ],
        "{out}"
    );
    assert!(out.lines().last().unwrap().ends_with("SUCCEEDED"), "{out}");
    let arn = field(&out, "execution").unwrap();
    let described = aws
        .sfn()
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(described
        .name()
        .unwrap()
        .starts_with("rerun-2026-11-28-push-dry-run-"));
    let input: serde_json::Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input["dry_run"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn rerun_with_wait_on_a_failing_run_exits_non_zero_with_its_error_and_cause() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-fail", FAILING).await;
    aws.put("cem/2026/11/28/leganto_export_20261128.csv", "header\n")
        .await;

    let o = aws
        .leganto(&[
            "rerun",
            "--run-date",
            RUN_DATE,
            "--from",
            "transform",
            "--wait",
            "--poll-seconds",
            "1",
            "--state-machine",
            &machine,
            "--bucket",
            BUCKET,
        ])
        .await;
    // Its own code: the command worked, the run did not.
    assert_eq!(o.status.code(), Some(8));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(out.contains("entered  The run failed"), "{out}");
    assert!(
        out.contains("execution failed: ArtefactMissing: artefact missing: s3://leganto-ops-test/reports/2026/11/28/run-summary.json"),
        "{out}"
    );
    assert!(
        err.lines()
            .last()
            .unwrap()
            .starts_with("leganto: execution rerun-2026-11-28-transform-"),
        "{err}"
    );
    assert!(
        err.contains("FAILED: ArtefactMissing: artefact missing: s3://leganto-ops-test/reports/2026/11/28/run-summary.json"),
        "{err}"
    );
    // The error is the one `leganto:` line, after the time spent in each state left.
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].ends_with("s in Plan the run"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_stage_or_a_day_without_its_files_is_refused_and_nothing_starts() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    let base = [
        "rerun",
        "--run-date",
        RUN_DATE,
        "--state-machine",
        &machine,
        "--bucket",
        BUCKET,
    ];

    // An unknown stage is a usage error: clap names the stages and nothing is called.
    let o = aws
        .leganto(&[&base[..], &["--from", "report"]].concat())
        .await;
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("invalid value 'report' for '--from <STAGE>'")
            && stderr(&o).contains(
                "[possible values: pull, transform, push, wait_for_alma, rollover_report]"
            ),
        "{}",
        stderr(&o)
    );

    let o = aws
        .leganto(&[&base[..], &["--from", "transform"]].concat())
        .await;
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o)
            .contains("s3://leganto-ops-test/cem/2026/11/28/ is missing (the day's CEM export)"),
        "{}",
        stderr(&o)
    );

    let o = aws
        .leganto(&[&base[..], &["--from", "push"]].concat())
        .await;
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("reports/2026/11/28/run-summary.json is missing"),
        "{}",
        stderr(&o)
    );

    // With the summary but no loader file, the loader file is what is named.
    aws.put("reports/2026/11/28/run-summary.json", "{}").await;
    aws.put("alma/2026/11/28/notes.md", "not a loader file")
        .await;
    let o = aws
        .leganto(&[&base[..], &["--from", "wait_for_alma"]].concat())
        .await;
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("alma/2026/11/28/*.txt is missing"),
        "{}",
        stderr(&o)
    );

    assert_eq!(execution_count(&aws, &machine).await, 0);
}

#[test]
fn rerun_help_lists_the_stages_as_the_execution_input_spells_them() {
    let o = base_command().args(["rerun", "--help"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let help = stdout(&o);
    for stage in leganto_shared::steps::Stage::ALL {
        assert!(help.contains(&format!("- {}:", stage.name())), "{help}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn state_machine_and_bucket_come_from_the_stack_outputs_when_not_given() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    aws.put("cem/2026/11/28/leganto_export_20261128.csv", "header\n")
        .await;
    let template = serde_json::json!({
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "leganto-ops"}}},
        "Outputs": {
            "StateMachineArn": {"Value": machine},
            "BucketName": {"Value": BUCKET}
        }
    });
    aws_sdk_cloudformation::Client::new(&aws.sdk)
        .create_stack()
        .stack_name("leganto-ops")
        .template_body(template.to_string())
        .send()
        .await
        .unwrap();

    let o = aws
        .leganto(&[
            "rerun",
            "--run-date",
            RUN_DATE,
            "--from",
            "transform",
            "--stack",
            "leganto-ops",
        ])
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(execution_count(&aws, &machine).await, 1);

    let o = aws
        .leganto(&[
            "rerun",
            "--run-date",
            RUN_DATE,
            "--from",
            "transform",
            "--stack",
            "no-such-stack",
        ])
        .await;
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stderr(&o).contains("cannot read the outputs of stack \"no-such-stack\" (ValidationError: Stack with id no-such-stack does not exist)"),
        "{}",
        stderr(&o)
    );
}

/// A state machine whose executions stay RUNNING for the length of a test.
const LONG_RUNNING: &str = r#"{
  "StartAt": "Wait for Alma",
  "States": {
    "Wait for Alma": {"Type": "Wait", "Seconds": 600, "End": true}
  }
}"#;

fn lease_of(execution_arn: &str, name: &str) -> String {
    serde_json::json!({
        "run_date": RUN_DATE,
        "execution_arn": execution_arn,
        "execution_name": name,
        "started_at": "2026-11-28T16:20:00Z",
        "expires_at": "2099-01-01T00:00:00Z",
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn rerun_refuses_a_day_another_execution_is_running_and_names_it() {
    let aws = Aws::start().await;
    let running = aws.machine("leganto-long", LONG_RUNNING).await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    aws.put("cem/2026/11/28/leganto_export_20261128.csv", "header\n")
        .await;
    let holder = aws
        .sfn()
        .start_execution()
        .state_machine_arn(&running)
        .name("daily-2026-11-28")
        .input("{}")
        .send()
        .await
        .unwrap();
    aws.put(
        "locks/2026/11/28/run.json",
        &lease_of(holder.execution_arn(), "daily-2026-11-28"),
    )
    .await;
    let args = [
        "rerun",
        "--run-date",
        RUN_DATE,
        "--from",
        "transform",
        "--state-machine",
        &machine,
        "--bucket",
        BUCKET,
    ];
    let o = aws.leganto(&args).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("execution daily-2026-11-28 is running it"),
        "{}",
        stderr(&o)
    );
    assert_eq!(execution_count(&aws, &machine).await, 0);

    // A dry run has its own lease: the live one does not stop it.
    let o = aws.leganto(&[&args[..], &["--dry-run"]].concat()).await;
    assert!(o.status.success(), "{}", stderr(&o));

    // Once the holder has ended (stopped by hand), its leftover lease is removed, so the
    // rerun's plan can take the day, and the command says so.
    aws.sfn()
        .stop_execution()
        .execution_arn(holder.execution_arn())
        .send()
        .await
        .unwrap();
    let o = aws.leganto(&args).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Removed the day's lease left by daily-2026-11-28 (ABORTED)"),
        "{}",
        stdout(&o)
    );
    assert_eq!(execution_count(&aws, &machine).await, 2);
    let left = aws
        .store()
        .exists("locks/2026/11/28/run.json")
        .await
        .unwrap();
    assert!(!left, "the stale lease is still there");
}

#[tokio::test(flavor = "multi_thread")]
async fn rerun_with_force_says_so_in_the_input_and_the_execution_name() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    aws.put("reports/2026/11/28/run-summary.json", "{}").await;
    aws.put("alma/2026/11/28/20261128092514.txt", "loader\r\n")
        .await;
    let o = aws
        .leganto(&[
            "rerun",
            "--run-date",
            RUN_DATE,
            "--from",
            "push",
            "--force",
            "--state-machine",
            &machine,
            "--bucket",
            BUCKET,
        ])
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let arn = field(&stdout(&o), "execution").unwrap();
    let described = aws
        .sfn()
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(described
        .name()
        .unwrap()
        .starts_with("rerun-2026-11-28-push-force-"));
    let input: serde_json::Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input["force"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn full_is_refused_from_a_stage_that_does_not_make_the_file_and_nothing_starts() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    // Everything every stage needs is there: only the flags decide.
    aws.put("cem/2026/11/28/leganto_export_20261128.csv", "header\n")
        .await;
    aws.put("reports/2026/11/28/run-summary.json", "{}").await;
    aws.put("alma/2026/11/28/20261128092514.txt", "loader\r\n")
        .await;
    let base = [
        "rerun",
        "--run-date",
        RUN_DATE,
        "--full",
        "--state-machine",
        &machine,
        "--bucket",
        BUCKET,
    ];

    for stage in ["push", "wait_for_alma", "rollover_report"] {
        let o = aws.leganto(&[&base[..], &["--from", stage]].concat()).await;
        assert_eq!(o.status.code(), Some(2), "{stage}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!(
                "the argument '--full' cannot be used with '--from {stage}'"
            )) && err.contains("only --from pull or --from transform make one"),
            "{err}"
        );
        assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    }
    assert_eq!(execution_count(&aws, &machine).await, 0);

    // From transform it makes a full file: the input and the name say so.
    let o = aws
        .leganto(&[&base[..], &["--from", "transform"]].concat())
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let arn = field(&stdout(&o), "execution").unwrap();
    let described = aws
        .sfn()
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(described
        .name()
        .unwrap()
        .starts_with("rerun-2026-11-28-transform-full-"));
    let input: serde_json::Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input["full"], true);
}
