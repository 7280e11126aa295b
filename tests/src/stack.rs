//! The whole local stack in one process, for the end-to-end tests and `make sandbox`.
//!
//! [`Stack::start`] runs, all on loopback:
//! - moto on port A with `MOTO_PORT` = B, Step Functions execution switched on;
//! - the Lambda host ([`crate::lambda_host`]) on port B, running the real step handlers
//!   against moto, the simulator, sshd and the Slack receiver;
//! - OpenSSH's sshd with the `cem_sftp` and `alma_sftp` accounts;
//! - the Alma simulator, seeded from the sample courses, its loader watching `alma_sftp`'s
//!   directory;
//! - the Slack receiver.
//!
//! It then creates the bucket, the run's four secrets (the real JSON shapes, with the sshd
//! logins, host key fingerprints, the simulator's API key and the receiver's URL), verifies
//! the SES sender and creates the state machine from the real `infra/statemachine.asl.json`, every
//! `${<Step>FunctionArn}` filled with `arn:aws:lambda:us-east-1:123456789012:function:leganto-<step>`.
//! Everything stops when the [`Stack`] is dropped.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use leganto_shared::config::Config;
use leganto_shared::secrets::SecretPurpose;
use leganto_shared::steps::StepContext;
use serde_json::Value;

use crate::alma_sim::{AlmaSim, SimOptions};
use crate::dispatch::Step;
use crate::lambda_host::{BoundHost, LambdaHost};
use crate::moto::{Moto, MotoError, REGION};
use crate::slack_receiver::SlackReceiver;
use crate::sshd::{Account, LoginAuth, SshServer, SshServerOptions};
use crate::support::repo_root;
pub use crate::support::sample_dir;

/// moto's account id.
pub const ACCOUNT: &str = "123456789012";
pub const BUCKET: &str = "leganto-local";
/// The run's secret for `purpose`; the local host's one context is told of all four.
pub fn secret_id(purpose: SecretPurpose) -> &'static str {
    match purpose {
        SecretPurpose::AlmaApiKey => "leganto/local/alma-api-key",
        SecretPurpose::CemSftp => "leganto/local/cem-sftp",
        SecretPurpose::AlmaSftp => "leganto/local/alma-sftp",
        SecretPurpose::SlackWebhook => "leganto/local/slack-webhook",
    }
}
pub const STATE_MACHINE_NAME: &str = "leganto-daily";
pub const CEM_USER: &str = "cem_sftp";
pub const ALMA_USER: &str = "alma_sftp";
pub const EMAIL_FROM: &str = "library-systems@example.edu";
pub const EMAIL_TO: [&str; 2] = ["course-reserves@example.edu", "leganto-admins@example.edu"];

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Moto(#[from] MotoError),
    #[error("{what} could not start")]
    Start {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the local settings are invalid")]
    Config(#[source] leganto_shared::config::ConfigError),
    #[error("{what} failed")]
    Aws {
        what: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("the state machine definition {path}: {reason}")]
    Definition { path: PathBuf, reason: String },
    #[error("execution {arn} did not finish within {secs} s")]
    Timeout { arn: String, secs: u64 },
}

fn aws<E: std::error::Error + Send + Sync + 'static>(
    what: &'static str,
) -> impl FnOnce(E) -> StackError {
    move |e| StackError::Aws {
        what,
        source: Box::new(e),
    }
}

/// How the stack runs; the defaults keep a whole day under a minute.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// `POLL_INTERVAL_SECONDS`: the Wait state really sleeps this long.
    pub poll_interval_seconds: u64,
    /// `WAIT_LIMIT_SECONDS`.
    pub wait_limit_seconds: u64,
    /// How long the simulator's course loader takes per file.
    pub loader_delay: Duration,
    /// The courses Alma holds at the start (a JSON array as in the sample fixture).
    pub alma_fixture: PathBuf,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            poll_interval_seconds: 2,
            wait_limit_seconds: 120,
            loader_delay: Duration::from_secs(1),
            alma_fixture: sample_dir().join("alma_courses.json"),
        }
    }
}

/// `infra/statemachine.asl.json`
pub fn definition_path() -> PathBuf {
    repo_root().join("infra/statemachine.asl.json")
}

/// The function ARN the local state machine calls for `step`.
pub fn function_arn(step: Step) -> String {
    format!(
        "arn:aws:lambda:{REGION}:{ACCOUNT}:function:leganto-{}",
        step.name()
    )
}

/// The definition with every `${<Step>FunctionArn}` filled in; any other `${...}` left over
/// is an error naming it.
pub fn substitute_definition(text: &str) -> Result<String, String> {
    let mut out = text.to_string();
    for step in Step::ALL {
        out = out.replace(&format!("${{{}Arn}}", step.sam_name()), &function_arn(step));
    }
    if let Some(start) = out.find("${") {
        let rest = &out[start..];
        let end = rest.find('}').map(|i| i + 1).unwrap_or(rest.len().min(40));
        return Err(format!("unknown substitution {}", &rest[..end]));
    }
    serde_json::from_str::<Value>(&out).map_err(|e| format!("not JSON after substitution: {e}"))?;
    Ok(out)
}

/// The environment every function gets, as the template sets it (local values).
pub fn function_settings(
    opts: &StackOptions,
    alma_base_url: &str,
    loader_job_id: &str,
) -> BTreeMap<&'static str, String> {
    let secret_ids = SecretPurpose::ALL.map(|p| (p.setting(), secret_id(p).to_string()));
    BTreeMap::from([
        ("BUCKET", BUCKET.to_string()),
        ("ALMA_BASE_URL", alma_base_url.to_string()),
        ("ALMA_RATE", "20".to_string()),
        ("ALMA_LOADER_JOB_ID", loader_job_id.to_string()),
        ("TIME_ZONE", "America/Phoenix".to_string()),
        ("EMAIL_FROM", EMAIL_FROM.to_string()),
        ("EMAIL_TO", EMAIL_TO.join(",")),
        (
            "POLL_INTERVAL_SECONDS",
            opts.poll_interval_seconds.to_string(),
        ),
        ("WAIT_LIMIT_SECONDS", opts.wait_limit_seconds.to_string()),
        ("AWS_REGION", REGION.to_string()),
    ])
    .into_iter()
    .chain(secret_ids)
    .collect()
}

/// How an execution ended (or stands).
#[derive(Debug, Clone)]
pub struct Execution {
    pub arn: String,
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub stopped: Option<DateTime<Utc>>,
}

/// One state's visit, from the execution history.
#[derive(Debug, Clone, PartialEq)]
pub struct StateVisit {
    pub name: String,
    /// `Task`, `Choice`, `Wait`, `Parallel`, `Map`, `Pass`, `Succeed`, `Fail`.
    pub kind: String,
    pub entered: DateTime<Utc>,
    pub exited: Option<DateTime<Utc>>,
    /// `error: cause` of a Lambda failure inside this visit.
    pub failure: Option<String>,
}

/// An S3 object of the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    pub key: String,
    pub size: i64,
}

/// The running stack; everything stops when it is dropped.
pub struct Stack {
    pub sdk: aws_config::SdkConfig,
    pub state_machine_arn: String,
    pub settings: BTreeMap<&'static str, String>,
    // Dropped in this order: the host before moto, so no invoke outlives its peers.
    pub host: LambdaHost,
    pub moto: Moto,
    pub alma: AlmaSim,
    pub sshd: SshServer,
    pub slack: SlackReceiver,
}

impl Stack {
    /// Starts everything (see the module header). Needs root for sshd's accounts and the
    /// `.venv` of `infra/local/setup.sh`.
    pub async fn start(opts: StackOptions) -> Result<Stack, StackError> {
        let slack = SlackReceiver::start().await;

        let sshd = tokio::task::spawn_blocking(|| {
            SshServer::start(SshServerOptions {
                accounts: vec![Account::new(CEM_USER), Account::new(ALMA_USER)],
                ..SshServerOptions::default()
            })
        })
        .await
        .map_err(|e| StackError::Start {
            what: "sshd",
            source: std::io::Error::other(e),
        })?
        .map_err(|source| StackError::Start {
            what: "sshd",
            source,
        })?;

        let mut sim_options =
            SimOptions::with_fixture(&opts.alma_fixture).map_err(|source| StackError::Start {
                what: "the Alma simulator",
                source,
            })?;
        sim_options.drop_dir = Some(sshd.directory(ALMA_USER).to_path_buf());
        sim_options.loader_delay = opts.loader_delay;
        let loader_job_id = sim_options.loader_job_id.clone();
        let alma = AlmaSim::start(sim_options)
            .await
            .map_err(|source| StackError::Start {
                what: "the Alma simulator",
                source,
            })?;

        // moto must know the host's port at start, and the host moto's: bind first.
        let bound = BoundHost::bind()
            .await
            .map_err(|source| StackError::Start {
                what: "the Lambda host",
                source,
            })?;
        let host_port = bound.port().to_string();
        let moto = tokio::task::spawn_blocking(move || {
            Moto::try_start_with_env(&[("MOTO_PORT", host_port.as_str())])
        })
        .await
        .map_err(|e| StackError::Start {
            what: "moto",
            source: std::io::Error::other(e),
        })??;
        let sdk = moto.sdk_config().await;

        let settings = function_settings(&opts, alma.base_url(), &loader_job_id);
        let config =
            Config::from_lookup(|name| settings.get(name).cloned()).map_err(StackError::Config)?;
        let ctx = Arc::new(StepContext::new(config, &sdk));
        let host = bound.serve(ctx, moto.endpoint());

        let secrets = [
            (
                SecretPurpose::AlmaApiKey,
                serde_json::json!({"api_key": alma.api_key()}),
            ),
            (
                SecretPurpose::CemSftp,
                sshd.login_json(CEM_USER, LoginAuth::Key),
            ),
            (
                SecretPurpose::AlmaSftp,
                sshd.login_json(ALMA_USER, LoginAuth::Password),
            ),
            (
                SecretPurpose::SlackWebhook,
                serde_json::json!({"webhook_url": slack.url()}),
            ),
        ];
        let stack = Stack {
            sdk,
            state_machine_arn: String::new(),
            settings,
            host,
            moto,
            alma,
            sshd,
            slack,
        };
        stack.provision(&secrets).await.map(|arn| Stack {
            state_machine_arn: arn,
            ..stack
        })
    }

    /// Bucket, secrets, SES sender, Step Functions execution and the state machine.
    async fn provision(&self, secrets: &[(SecretPurpose, Value)]) -> Result<String, StackError> {
        self.moto.enable_stepfunctions_execution().await?;
        self.s3()
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .map_err(aws("CreateBucket"))?;
        for (purpose, secret) in secrets {
            aws_sdk_secretsmanager::Client::new(&self.sdk)
                .create_secret()
                .name(secret_id(*purpose))
                .secret_string(secret.to_string())
                .send()
                .await
                .map_err(aws("CreateSecret"))?;
        }
        aws_sdk_sesv2::Client::new(&self.sdk)
            .create_email_identity()
            .email_identity(EMAIL_FROM)
            .send()
            .await
            .map_err(aws("CreateEmailIdentity"))?;

        let path = definition_path();
        let text = std::fs::read_to_string(&path).map_err(|e| StackError::Definition {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let definition = substitute_definition(&text)
            .map_err(|reason| StackError::Definition { path, reason })?;
        let created = self
            .sfn()
            .create_state_machine()
            .name(STATE_MACHINE_NAME)
            .definition(definition)
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/leganto-state-machine"))
            .send()
            .await
            .map_err(aws("CreateStateMachine"))?;
        Ok(created.state_machine_arn().to_string())
    }

    /// S3 client for moto (path-style, as the product's store uses).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        leganto_shared::store::s3_client(&self.sdk)
    }

    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.sdk)
    }

    /// The CEM account's SFTP directory.
    pub fn cem_dir(&self) -> &Path {
        self.sshd.directory(CEM_USER)
    }

    /// Alma's SFTP directory (where the simulator's loader looks).
    pub fn alma_dir(&self) -> &Path {
        self.sshd.directory(ALMA_USER)
    }

    /// Puts a file on the CEM SFTP server, owned by the CEM account.
    pub fn put_export(&self, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        self.sshd.put_file(CEM_USER, name, bytes)
    }

    /// Drops the sample export as `leganto_export_<YYYYMMDD>.csv`; returns its name.
    pub fn put_sample_export(&self, run_date: chrono::NaiveDate) -> std::io::Result<String> {
        let name = format!("leganto_export_{}.csv", run_date.format("%Y%m%d"));
        let bytes = std::fs::read(sample_dir().join("cem.csv"))?;
        self.put_export(&name, &bytes)?;
        Ok(name)
    }

    /// Names in Alma's SFTP directory, sorted.
    pub fn alma_files(&self) -> std::io::Result<Vec<String>> {
        self.sshd.files(ALMA_USER)
    }

    /// Starts an execution of the state machine (always named, as moto needs).
    pub async fn start_execution(&self, name: &str, input: &Value) -> Result<String, StackError> {
        let started = self
            .sfn()
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .map_err(aws("StartExecution"))?;
        Ok(started.execution_arn().to_string())
    }

    pub async fn describe(&self, arn: &str) -> Result<Execution, StackError> {
        let out = self
            .sfn()
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(aws("DescribeExecution"))?;
        Ok(Execution {
            arn: arn.to_string(),
            status: out.status().as_str().to_string(),
            output: out.output().and_then(|o| serde_json::from_str(o).ok()),
            error: out.error().map(str::to_string),
            cause: out.cause().map(str::to_string),
            started: Some(to_chrono(out.start_date())),
            stopped: out.stop_date().map(to_chrono),
        })
    }

    /// Polls DescribeExecution until the execution is no longer RUNNING.
    pub async fn wait_for_execution(
        &self,
        arn: &str,
        timeout: Duration,
    ) -> Result<Execution, StackError> {
        let started = Instant::now();
        loop {
            let execution = self.describe(arn).await?;
            if execution.status != "RUNNING" {
                return Ok(execution);
            }
            if started.elapsed() > timeout {
                return Err(StackError::Timeout {
                    arn: arn.to_string(),
                    secs: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Every state the execution entered, in order, with when it left and why it failed.
    pub async fn history(&self, arn: &str) -> Result<Vec<StateVisit>, StackError> {
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .sfn()
                .get_execution_history()
                .execution_arn(arn)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .map_err(aws("GetExecutionHistory"))?;
            events.extend(page.events().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(visits(&events))
    }

    /// Every object in the bucket, by key.
    pub async fn s3_objects(&self) -> Result<Vec<S3Object>, StackError> {
        let mut objects = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .s3()
                .list_objects_v2()
                .bucket(BUCKET)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(aws("ListObjectsV2"))?;
            objects.extend(page.contents().iter().map(|o| S3Object {
                key: o.key().unwrap_or_default().to_string(),
                size: o.size().unwrap_or_default(),
            }));
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    /// An object's bytes.
    pub async fn s3_get(&self, key: &str) -> Result<Vec<u8>, StackError> {
        let out = self
            .s3()
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .map_err(aws("GetObject"))?;
        let bytes = out.body.collect().await.map_err(aws("GetObject body"))?;
        Ok(bytes.into_bytes().to_vec())
    }
}

fn to_chrono(t: &aws_sdk_sfn::primitives::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or_default()
}

/// Pairs `*StateEntered` with the `*StateExited` of the same name (first in, first out, as
/// Map iterations and Parallel branches repeat names) and notes Lambda failures.
pub fn visits(events: &[aws_sdk_sfn::types::HistoryEvent]) -> Vec<StateVisit> {
    let mut out: Vec<StateVisit> = Vec::new();
    let mut open: HashMap<String, VecDeque<usize>> = HashMap::new();
    // The visit a Lambda event belongs to: the latest open Task visit.
    let mut last_task: Option<usize> = None;
    for event in events {
        let kind = event.r#type().as_str();
        let at = to_chrono(event.timestamp());
        if let Some(details) = event.state_entered_event_details() {
            let name = details.name().to_string();
            let state_kind = kind
                .strip_suffix("StateEntered")
                .unwrap_or(kind)
                .to_string();
            out.push(StateVisit {
                name: name.clone(),
                kind: state_kind.clone(),
                entered: at,
                exited: None,
                failure: None,
            });
            if state_kind == "Task" {
                last_task = Some(out.len() - 1);
            }
            open.entry(name).or_default().push_back(out.len() - 1);
        } else if let Some(details) = event.state_exited_event_details() {
            if let Some(i) = open.get_mut(details.name()).and_then(VecDeque::pop_front) {
                out[i].exited = Some(at);
            }
        } else if let Some(failed) = event.lambda_function_failed_event_details() {
            if let Some(i) = last_task {
                out[i].failure = Some(format!(
                    "{}: {}",
                    failed.error().unwrap_or("?"),
                    failed.cause().unwrap_or_default()
                ));
            }
        }
    }
    out
}

/// One line per state: `+12.3s  Task      Plan the run (0.41 s)`.
pub fn format_visits(visits: &[StateVisit], start: Option<DateTime<Utc>>) -> Vec<String> {
    let start = start.or_else(|| visits.first().map(|v| v.entered));
    visits
        .iter()
        .map(|v| {
            let offset = start
                .map(|s| (v.entered - s).num_milliseconds() as f64 / 1000.0)
                .unwrap_or(0.0);
            let took = v
                .exited
                .map(|e| {
                    format!(
                        " ({:.2} s)",
                        (e - v.entered).num_milliseconds() as f64 / 1000.0
                    )
                })
                .unwrap_or_default();
            let failure = v
                .failure
                .as_ref()
                .map(|f| format!("  FAILED {f}"))
                .unwrap_or_default();
            format!(
                "{}  +{offset:>6.2}s  {:<8}  {}{took}{failure}",
                v.entered.format("%H:%M:%S%.3f"),
                v.kind,
                v.name
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_substitution_is_filled_and_unknown_ones_are_named() {
        let text = r#"{"a": "${PlanFunctionArn}", "b": "${CheckJobFunctionArn}"}"#;
        let out = substitute_definition(text).unwrap();
        assert!(out.contains("arn:aws:lambda:us-east-1:123456789012:function:leganto-plan"));
        assert!(out.contains("function:leganto-check-job"));
        let err = substitute_definition(r#"{"a": "${BucketName}"}"#).unwrap_err();
        assert!(err.contains("${BucketName}"), "{err}");
    }

    #[test]
    fn the_real_definition_has_only_function_substitutions() {
        let text = std::fs::read_to_string(definition_path()).unwrap();
        let out = substitute_definition(&text).unwrap();
        for step in Step::ALL {
            if text.contains(&format!("${{{}Arn}}", step.sam_name())) {
                assert!(out.contains(&function_arn(step)));
            }
        }
    }

    #[test]
    fn function_arns_name_the_step_the_host_runs() {
        for step in Step::ALL {
            assert_eq!(Step::from_function_name(&function_arn(step)), Some(step));
        }
    }
}
