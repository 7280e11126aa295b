//! S3, Step Functions and CloudFormation failing under `rerun` and `status`: exit 7 and one
//! stderr line naming the service and the call, never the exit code of an unwritable output.

use super::*;

/// An endpoint nothing listens on: every AWS call is refused.
fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn assert_aws_failure(o: &Output, says: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(err.starts_with("leganto: AWS: "), "{err}");
    assert!(err.contains(says), "{err}");
    assert!(
        err.contains("check the AWS credentials, region and endpoint"),
        "{err}"
    );
    // The causes in words, not the SDK's debug dump.
    assert!(!err.contains("DispatchFailure("), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_of_a_state_machine_that_does_not_exist_exits_7_naming_step_functions() {
    let aws = Aws::start().await;
    let missing = "arn:aws:states:us-east-1:123456789012:stateMachine:no-such-machine";
    let o = aws
        .leganto(&[
            "status",
            "--run-date",
            RUN_DATE,
            "--state-machine",
            missing,
            "--bucket",
            BUCKET,
            "--time-zone",
            "America/Phoenix",
        ])
        .await;
    assert_aws_failure(
        &o,
        "Step Functions ListExecutions failed: StateMachineDoesNotExist",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rerun_and_status_with_aws_unreachable_exit_7_naming_the_service_that_failed() {
    let endpoint = closed_endpoint();
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:leganto";
    let deployment = ["--state-machine", machine, "--bucket", BUCKET];
    let rerun = |from: &'static str| {
        [
            "rerun",
            "--run-date",
            RUN_DATE,
            "--from",
            from,
            "--time-zone",
            "America/Phoenix",
        ]
    };

    // Every rerun first reads the day's lease in S3.
    let o = leganto_at(&endpoint, &[&rerun("transform")[..], &deployment].concat()).await;
    assert_aws_failure(
        &o,
        "S3 GetObject failed for s3://leganto-ops-test/locks/2026/11/28/run.json",
    );

    // Without the state machine and bucket, the stack's outputs are read first.
    let o = leganto_at(
        &endpoint,
        &[&rerun("pull")[..], &["--stack", "leganto"]].concat(),
    )
    .await;
    assert_aws_failure(
        &o,
        "CloudFormation DescribeStacks failed for stack \"leganto\"",
    );

    let o = leganto_at(
        &endpoint,
        &[
            &["status", "--run-date", RUN_DATE, "--time-zone", "UTC"][..],
            &deployment,
        ]
        .concat(),
    )
    .await;
    assert_aws_failure(&o, "S3 ListObjectsV2 failed");
}
