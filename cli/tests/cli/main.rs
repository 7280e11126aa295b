//! The `leganto` binary as people run it, in one test binary: `transform` and
//! `rollover-report` against the Alma simulator, offline and on bad input; the operating
//! commands (`rerun`, `status`, `delete-empty-courses`, `rules`) against moto (S3, Step Functions,
//! CloudFormation) and the Alma simulator; and AWS failing under them.
//! Run with `--nocapture` to see each command's output as people see it.

// Test code: a failed unwrap is a failed test, with the value shown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aws_failures;
mod decide;
mod delete_empty;
mod doctor;
mod full_load;
mod operator;
mod profile;
mod progress;
mod rerun;
mod rules;
mod schedule;
mod stack;
mod status;
mod transform;

use std::process::{Command, Output};

use aws_config::SdkConfig;
use leganto_shared::store::Store;
use leganto_tests::moto::Moto;

pub const BUCKET: &str = "leganto-ops-test";
pub use leganto_tests::support::RUN_DATE;

/// A state machine that plans, waits a second and finishes.
pub const PASSING: &str = r#"{
  "StartAt": "Plan the run",
  "States": {
    "Plan the run": {"Type": "Pass", "Next": "Wait for Alma"},
    "Wait for Alma": {"Type": "Wait", "Seconds": 1, "Next": "Build the rollover report"},
    "Build the rollover report": {"Type": "Pass", "End": true}
  }
}"#;

/// A state machine that fails the way the real one ends a failed run.
pub const FAILING: &str = r#"{
  "StartAt": "Plan the run",
  "States": {
    "Plan the run": {"Type": "Pass", "Next": "The run failed"},
    "The run failed": {
      "Type": "Fail",
      "Error": "ArtefactMissing",
      "Cause": "{\"errorType\":\"ArtefactMissing\",\"errorMessage\":\"artefact missing: s3://leganto-ops-test/reports/2026/11/28/run-summary.json\"}"
    }
  }
}"#;

/// moto with Step Functions executing and the run's bucket.
pub struct Aws {
    pub moto: Moto,
    pub sdk: SdkConfig,
}

impl Aws {
    pub async fn start() -> Aws {
        let moto = Moto::start();
        moto.enable_stepfunctions_execution().await.unwrap();
        let sdk = moto.sdk_config().await;
        leganto_shared::store::s3_client(&sdk)
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap();
        Aws { moto, sdk }
    }

    pub fn store(&self) -> Store {
        Store::from_sdk_config(&self.sdk, BUCKET)
    }

    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.sdk)
    }

    pub async fn machine(&self, name: &str, definition: &str) -> String {
        self.sfn()
            .create_state_machine()
            .name(name)
            .definition(definition)
            .role_arn("arn:aws:iam::123456789012:role/leganto-state-machine")
            .send()
            .await
            .unwrap()
            .state_machine_arn()
            .to_string()
    }

    pub async fn put(&self, key: &str, body: &str) {
        self.store()
            .put(key, body.as_bytes().to_vec(), "text/plain")
            .await
            .unwrap();
    }

    /// Runs `leganto` with this moto as its AWS and nothing from the caller's shell.
    pub async fn leganto(&self, args: &[&str]) -> Output {
        leganto_at(&self.moto.endpoint(), args).await
    }
}

/// Runs `leganto` with `endpoint` as its AWS and nothing from the caller's shell.
pub async fn leganto_at(endpoint: &str, args: &[&str]) -> Output {
    let endpoint = endpoint.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut cmd = base_command();
        cmd.args(&args)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", leganto_tests::moto::REGION);
        let out = cmd.output().unwrap();
        show(&args, &out);
        out
    })
    .await
    .unwrap()
}

/// `leganto` without any of the settings the commands read from the environment.
pub fn base_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leganto"));
    for var in [
        "ALMA_API_KEY",
        "RUST_LOG",
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_SESSION_TOKEN",
        "LEGANTO_STATE_MACHINE_ARN",
        "LEGANTO_BUCKET",
        "LEGANTO_STACK",
        "TIME_ZONE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    cmd
}

/// Prints the command and what it printed (seen with `--nocapture`).
pub fn show(args: &[String], out: &Output) {
    println!(
        "$ leganto {}\n{}{}[exit {}]\n",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status.code().unwrap_or(-1)
    );
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The value after `label` on the line that starts with it (`  execution  arn:...`).
pub fn field(text: &str, label: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .map(|v| v.trim().to_string())
}
