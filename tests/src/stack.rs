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
//! logins, host key fingerprints, the simulator's API key and the receiver's URL) and
//! verifies the SES sender, and deploys `template.yaml` as AWS would ([`crate::template`]): each
//! function's role with the template's policies, assumed, so its handler runs with that
//! role's credentials, its environment and its `Timeout`; the state machine with the
//! template's definition substitutions. Then moto enforces IAM: it checks every call's
//! signature and action, and the Lambda host, which relays the functions' calls, checks
//! their resources against the same policies ([`crate::iam`]). The harness itself acts as
//! an IAM user allowed everything. Everything stops when the [`Stack`] is dropped.

use std::collections::{BTreeMap, HashMap, VecDeque};

use aws_sdk_s3::config::Credentials;
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
use crate::iam::{Policies, Scope};
use crate::lambda_host::{BoundHost, Function, Functions, LambdaHost};
use crate::moto::{Moto, MotoError, REGION};
use crate::slack_receiver::SlackReceiver;
use crate::sshd::{Account, LoginAuth, SshServer, SshServerOptions};
pub use crate::support::sample_dir;
use crate::template::{self, Rendered, RenderedFunction, TemplateError};

/// moto's account id.
pub const ACCOUNT: &str = "123456789012";
pub const BUCKET: &str = "leganto-local";

/// The run's secret for `purpose`, and the template's logical id for it.
pub fn secret_id(purpose: SecretPurpose) -> (&'static str, &'static str) {
    match purpose {
        SecretPurpose::AlmaApiKey => ("leganto/local/alma-api-key", "AlmaApiKeySecret"),
        SecretPurpose::CemSftp => ("leganto/local/cem-sftp", "CemSftpSecret"),
        SecretPurpose::AlmaSftp => ("leganto/local/alma-sftp", "AlmaSftpSecret"),
        SecretPurpose::SlackWebhook => ("leganto/local/slack-webhook", "SlackWebhookSecret"),
    }
}
pub const STATE_MACHINE_NAME: &str = "leganto-daily";
pub const CEM_USER: &str = "cem_sftp";
pub const ALMA_USER: &str = "alma_sftp";
pub const EMAIL_FROM: &str = "library-systems@example.edu";
/// The IAM user the harness acts as once the stack enforces IAM.
pub const ADMIN_USER: &str = "leganto-local-admin";
/// The user holding only the operators' policy.
pub const OPERATOR_USER: &str = "leganto-local-operator";
/// The template's operators' policy (logical id).
pub const OPERATOR_POLICY: &str = "OperatorPolicy";
/// The stack's `TimeZone` parameter.
pub const TIME_ZONE: &str = "America/Phoenix";
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
    #[error(transparent)]
    Template(#[from] TemplateError),
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
    /// ... and per row of the file (the simulator's `loader_row_time`).
    pub loader_row_time: Duration,
    /// Run the simulator's course loader on this schedule (its `loader_every`) rather
    /// than on each new file.
    pub alma_loader_every: Option<Duration>,
    /// The courses Alma holds at the start (a JSON array as in the sample fixture).
    pub alma_fixture: PathBuf,
    /// The stack's `AlmaRate`.
    pub alma_rate: u32,
    /// The simulator's latency per call.
    pub alma_latency: Duration,
    /// The template deployed (a test may deploy a changed copy).
    pub template: PathBuf,
    /// `HOLD_POLL_SECONDS`: the hold's Wait state really sleeps this long.
    pub hold_poll_seconds: u64,
    /// `HOLD_LIMIT_HOURS` (decimals allowed: a test's hold may last seconds).
    pub hold_limit_hours: f64,
    /// `EXPORT_WAIT_MINUTES`: how long a run that waits looks for a late export (decimals
    /// allowed: a test's wait may last seconds).
    pub export_wait_minutes: f64,
    /// `EXPORT_POLL_SECONDS`: the look loop's Wait state really sleeps this long.
    pub export_poll_seconds: u64,
    /// Whether SES holds the sender as a verified identity (as a deployment must).
    pub sender_verified: bool,
    /// The processing departments Alma's institution defines [default: ASU's].
    pub processing_departments: Option<Vec<String>>,
    /// Any other template parameters (name, value); they win over the ones above.
    pub parameters: Vec<(String, String)>,
    /// Which of `AlmaLoaderProfileId` and `AlmaLoaderJobId` the stack sets.
    pub loader_ids: LoaderIds,
}

/// The Alma ids of the course loader a stack is deployed with (the simulator's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoaderIds {
    /// The profile and, as an override, its job.
    ProfileAndJob,
    /// The profile alone: the run finds the job from it, as docs/deploy.md says to deploy.
    ProfileOnly,
    /// Neither: the run waits a fixed time and the preflight fails.
    Neither,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            poll_interval_seconds: 2,
            wait_limit_seconds: 120,
            loader_delay: Duration::from_secs(1),
            loader_row_time: Duration::ZERO,
            alma_loader_every: None,
            alma_fixture: sample_dir().join("alma_courses.json"),
            alma_rate: 20,
            alma_latency: Duration::ZERO,
            template: template::template_path(),
            hold_poll_seconds: 1,
            // At most 720 looks a hold (config.rs): 1 s apart, 12 minutes.
            hold_limit_hours: 0.2,
            // At most 360 looks for a late export (config.rs): 1 s apart, 6 minutes.
            export_wait_minutes: 6.0,
            export_poll_seconds: 1,
            sender_verified: true,
            processing_departments: None,
            parameters: Vec::new(),
            loader_ids: LoaderIds::ProfileAndJob,
        }
    }
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
    /// The template as deployed.
    pub rendered: Rendered,
    /// The parameters it was deployed with (the template's defaults stand for the rest).
    pub parameters: BTreeMap<String, String>,
    /// The harness's IAM user (allowed everything): what a person uses against the stack.
    pub admin: Credentials,
    /// A user holding only the template's `OperatorPolicy` (when it has one); its calls
    /// through the host's endpoint are judged as its policy says.
    pub operator: Option<Credentials>,
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
        sim_options.loader_row_time = opts.loader_row_time;
        sim_options.loader_every = opts.alma_loader_every;
        if let Some(departments) = &opts.processing_departments {
            sim_options.processing_departments = departments.clone();
        }
        sim_options.latency = opts.alma_latency;
        let loader = (
            sim_options.loader_profile_id.clone(),
            sim_options.loader_job_id.clone(),
        );
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
        let host_endpoint = format!("http://127.0.0.1:{}", bound.port());
        let host_port = bound.port().to_string();
        let moto = tokio::task::spawn_blocking(move || {
            Moto::try_start_with_env(&[("MOTO_PORT", host_port.as_str())])
        })
        .await
        .map_err(|e| StackError::Start {
            what: "moto",
            source: std::io::Error::other(e),
        })??;
        let setup_sdk = moto.sdk_config().await;

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
        let physical =
            provision_resources(&moto, &setup_sdk, &secrets, opts.sender_verified).await?;
        let secret_arns = SecretPurpose::ALL
            .iter()
            .filter_map(|p| physical.get(secret_id(*p).1).cloned())
            .collect();
        let parameters = template_parameters(&opts, alma.base_url(), &loader);
        let deployed = parameters.clone();
        let template = opts.template.clone();
        let rendered = tokio::task::spawn_blocking(move || {
            template::render(&template, &parameters, &physical)
        })
        .await
        .map_err(|e| StackError::Start {
            what: "the template renderer",
            source: std::io::Error::other(e),
        })??;

        apply_bucket_settings(&setup_sdk, &rendered).await?;

        // Every function runs as its own role, and every call it makes passes the host,
        // which judges resources; moto judges signatures and actions.
        let iam = aws_sdk_iam::Client::new(&setup_sdk);
        let sts = aws_sdk_sts::Client::new(&setup_sdk);
        let admin = create_admin(&iam).await?;
        let scope = Scope {
            region: REGION.to_string(),
            account: ACCOUNT.to_string(),
            secrets: secret_arns,
        };
        let mut by_step = HashMap::new();
        let mut principals = Vec::new();
        for step in Step::ALL {
            let function = rendered
                .function(&format!("leganto-{}", step.name()))
                .ok_or_else(|| StackError::Definition {
                    path: opts.template.clone(),
                    reason: format!("no function for the {} step", step.name()),
                })?;
            let credentials = create_role(&iam, &sts, function).await?;
            principals.push((
                credentials.access_key_id().to_string(),
                function.role.clone(),
                function.policies(),
            ));
            let mut env = function.environment.clone();
            env.insert("AWS_REGION".into(), REGION.into());
            let config =
                Config::from_lookup(|name| env.get(name).cloned()).map_err(StackError::Config)?;
            let sdk = moto.sdk_config_as(credentials, &host_endpoint).await;
            let ctx = Arc::new(StepContext::new(config, &sdk));
            by_step.insert(
                step,
                Function {
                    ctx,
                    timeout: Some(Duration::from_secs(function.timeout)),
                },
            );
        }
        let operator = match rendered.managed_policies.get(OPERATOR_POLICY) {
            Some(document) => {
                let policies = Policies {
                    documents: vec![document.clone()],
                };
                let credentials = create_operator(&iam, &policies).await?;
                principals.push((
                    credentials.access_key_id().to_string(),
                    format!("arn:aws:iam::{ACCOUNT}:user/{OPERATOR_USER}"),
                    policies,
                ));
                Some(credentials)
            }
            None => None,
        };
        let mut functions =
            Functions::deployed(by_step, scope).with_invoker(rendered.state_machine.policies());
        for (key, role, policies) in principals {
            functions = functions.with_principal(&key, &role, policies);
        }
        let host = bound.serve(functions, moto.endpoint());
        let definition =
            rendered
                .definition(&opts.template)
                .map_err(|e| StackError::Definition {
                    path: opts.template.clone(),
                    reason: e.to_string(),
                })?;
        let state_machine_arn = create_state_machine(&setup_sdk, &definition).await?;
        moto.enforce_iam().await?;
        let sdk = moto.sdk_config_as(admin.clone(), &moto.endpoint()).await;

        Ok(Stack {
            sdk,
            state_machine_arn,
            rendered,
            admin,
            parameters: deployed,
            operator,
            host,
            moto,
            alma,
            sshd,
            slack,
        })
    }

    /// Records the stack in moto's CloudFormation as `sam deploy` leaves it (see
    /// [`record_stack`]).
    pub async fn record_in_cloudformation(&self, name: &str) -> Result<(), StackError> {
        let parameters: Vec<(String, String)> = self
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        record_stack(
            &self.sdk,
            name,
            &self.state_machine_arn,
            BUCKET,
            &parameters,
        )
        .await
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

    /// Puts a file on the CEM SFTP server, owned by the CEM account, last modified ten
    /// minutes ago as an export CEM finished before the run: Pull takes it at once rather
    /// than listing it twice `SFTP_SETTLE_SECONDS` apart (the template's default, 5 s).
    pub fn put_export(&self, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        let path = self.sshd.put_file(CEM_USER, name, bytes)?;
        std::fs::File::options()
            .write(true)
            .open(&path)?
            .set_modified(std::time::SystemTime::now() - Duration::from_secs(600))?;
        Ok(path)
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

/// The parameters the local stack deploys the template with.
fn template_parameters(
    opts: &StackOptions,
    alma_base_url: &str,
    (loader_profile_id, loader_job_id): &(String, String),
) -> BTreeMap<String, String> {
    let (profile, job) = match opts.loader_ids {
        LoaderIds::ProfileAndJob => (loader_profile_id.as_str(), loader_job_id.as_str()),
        LoaderIds::ProfileOnly => (loader_profile_id.as_str(), ""),
        LoaderIds::Neither => ("", ""),
    };
    [
        ("AlmaBaseUrl", alma_base_url.to_string()),
        ("AlmaRate", opts.alma_rate.to_string()),
        ("AlmaLoaderProfileId", profile.to_string()),
        ("AlmaLoaderJobId", job.to_string()),
        ("TimeZone", TIME_ZONE.to_string()),
        ("EmailSender", EMAIL_FROM.to_string()),
        ("EmailRecipients", EMAIL_TO.join(",")),
        (
            "PollIntervalSeconds",
            opts.poll_interval_seconds.to_string(),
        ),
        ("WaitLimitSeconds", opts.wait_limit_seconds.to_string()),
        ("HoldPollSeconds", opts.hold_poll_seconds.to_string()),
        ("HoldLimitHours", opts.hold_limit_hours.to_string()),
        ("ExportWaitMinutes", opts.export_wait_minutes.to_string()),
        ("ExportPollSeconds", opts.export_poll_seconds.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(opts.parameters.iter().cloned())
    .collect()
}

/// Bucket, secrets and SES sender, made before IAM applies; returns the physical ids the
/// template's `Ref`s resolve to (the bucket's name, each secret's ARN).
async fn provision_resources(
    moto: &Moto,
    sdk: &aws_config::SdkConfig,
    secrets: &[(SecretPurpose, Value)],
    sender_verified: bool,
) -> Result<BTreeMap<String, String>, StackError> {
    moto.enable_stepfunctions_execution().await?;
    leganto_shared::store::s3_client(sdk)
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .map_err(aws("CreateBucket"))?;
    let mut physical = BTreeMap::from([
        ("Bucket".to_string(), BUCKET.to_string()),
        // Made after rendering, under a name known now (create_state_machine).
        (
            "StateMachine".to_string(),
            format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE_NAME}"),
        ),
        (
            "StateMachine.Name".to_string(),
            STATE_MACHINE_NAME.to_string(),
        ),
    ]);
    for (purpose, secret) in secrets {
        let (name, logical_id) = secret_id(*purpose);
        let created = aws_sdk_secretsmanager::Client::new(sdk)
            .create_secret()
            .name(name)
            .secret_string(secret.to_string())
            .send()
            .await
            .map_err(aws("CreateSecret"))?;
        physical.insert(
            logical_id.to_string(),
            created.arn().unwrap_or(name).to_string(),
        );
    }
    if sender_verified {
        aws_sdk_sesv2::Client::new(sdk)
            .create_email_identity()
            .email_identity(EMAIL_FROM)
            .send()
            .await
            .map_err(aws("CreateEmailIdentity"))?;
    }
    Ok(physical)
}

/// What the template sets on its bucket that the runs depend on: versioning, whose version
/// ids each run's record of its rules names.
async fn apply_bucket_settings(
    sdk: &aws_config::SdkConfig,
    rendered: &Rendered,
) -> Result<(), StackError> {
    let versioned = rendered
        .buckets
        .get("Bucket")
        .and_then(|b| b.versioning.as_deref())
        == Some("Enabled");
    if versioned {
        enable_versioning(sdk, BUCKET).await?;
    }
    Ok(())
}

/// Turns on versioning for `bucket`, as the template's `VersioningConfiguration` does.
pub async fn enable_versioning(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
) -> Result<(), StackError> {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    leganto_shared::store::s3_client(sdk)
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(aws("PutBucketVersioning"))?;
    Ok(())
}

/// Records stack `name` in moto's CloudFormation as `sam deploy` leaves it, as far as
/// `leganto` reads it: outputs `BucketName` and `StateMachineArn` and the parameters given
/// (`TimeZone`, `RolloversEnabled`, …). The resources themselves are made directly (moto's CloudFormation cannot
/// build the template's), so its one resource is a marker topic.
pub async fn record_stack(
    sdk: &aws_config::SdkConfig,
    name: &str,
    state_machine_arn: &str,
    bucket: &str,
    parameters: &[(String, String)],
) -> Result<(), StackError> {
    let declared: serde_json::Map<String, Value> = parameters
        .iter()
        .map(|(k, _)| (k.clone(), serde_json::json!({"Type": "String"})))
        .collect();
    let template = serde_json::json!({
        "Parameters": declared,
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name}}},
        "Outputs": {
            "StateMachineArn": {"Value": state_machine_arn},
            "BucketName": {"Value": bucket}
        }
    });
    let given = parameters.iter().map(|(k, v)| {
        aws_sdk_cloudformation::types::Parameter::builder()
            .parameter_key(k)
            .parameter_value(v)
            .build()
    });
    aws_sdk_cloudformation::Client::new(sdk)
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .set_parameters(Some(given.collect()))
        .send()
        .await
        .map_err(aws("CloudFormation CreateStack"))?;
    Ok(())
}

/// The harness's own identity once IAM applies: allowed everything.
async fn create_admin(iam: &aws_sdk_iam::Client) -> Result<Credentials, StackError> {
    iam.create_user()
        .user_name(ADMIN_USER)
        .send()
        .await
        .map_err(aws("CreateUser"))?;
    iam.put_user_policy()
        .user_name(ADMIN_USER)
        .policy_name("everything")
        .policy_document(
            serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await
        .map_err(aws("PutUserPolicy"))?;
    access_key(iam, ADMIN_USER).await
}

/// A user holding the operators' policy, as an operator's group or permission set gives
/// it: moto gets the actions (it judges actions only), the host the whole document.
async fn create_operator(
    iam: &aws_sdk_iam::Client,
    policies: &Policies,
) -> Result<Credentials, StackError> {
    iam.create_user()
        .user_name(OPERATOR_USER)
        .send()
        .await
        .map_err(aws("CreateUser"))?;
    for (i, document) in policies.actions_only().iter().enumerate() {
        iam.put_user_policy()
            .user_name(OPERATOR_USER)
            .policy_name(format!("{OPERATOR_POLICY}{i}"))
            .policy_document(document.to_string())
            .send()
            .await
            .map_err(aws("PutUserPolicy"))?;
    }
    access_key(iam, OPERATOR_USER).await
}

/// A new access key of IAM user `user`, as credentials named after it.
async fn access_key(
    iam: &aws_sdk_iam::Client,
    user: &'static str,
) -> Result<Credentials, StackError> {
    let key = iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .map_err(aws("CreateAccessKey"))?;
    let key = key.access_key().ok_or_else(|| StackError::Aws {
        what: "CreateAccessKey",
        source: "no access key in the answer".into(),
    })?;
    Ok(Credentials::new(
        key.access_key_id(),
        key.secret_access_key(),
        None,
        None,
        user,
    ))
}

/// The function's role as the template defines it, assumed: the credentials its handler
/// runs with. moto gets the policies with resources widened (it judges actions only).
async fn create_role(
    iam: &aws_sdk_iam::Client,
    sts: &aws_sdk_sts::Client,
    function: &RenderedFunction,
) -> Result<Credentials, StackError> {
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
         "Action": "sts:AssumeRole"}]});
    let role = iam
        .create_role()
        .role_name(&function.role)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .map_err(aws("CreateRole"))?;
    let role_arn = role.role().map(|r| r.arn().to_string()).unwrap_or_default();
    for (i, document) in function.policies().actions_only().iter().enumerate() {
        iam.put_role_policy()
            .role_name(&function.role)
            .policy_name(format!("{}Policy{i}", function.role))
            .policy_document(document.to_string())
            .send()
            .await
            .map_err(aws("PutRolePolicy"))?;
    }
    let assumed = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(&function.name)
        .send()
        .await
        .map_err(aws("AssumeRole"))?;
    let c = assumed.credentials().ok_or_else(|| StackError::Aws {
        what: "AssumeRole",
        source: "no credentials in the answer".into(),
    })?;
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "leganto-local-role",
    ))
}

async fn create_state_machine(
    sdk: &aws_config::SdkConfig,
    definition: &str,
) -> Result<String, StackError> {
    let created = aws_sdk_sfn::Client::new(sdk)
        .create_state_machine()
        .name(STATE_MACHINE_NAME)
        .definition(definition)
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/leganto-state-machine"))
        .send()
        .await
        .map_err(aws("CreateStateMachine"))?;
    Ok(created.state_machine_arn().to_string())
}

fn to_chrono(t: &aws_sdk_sfn::primitives::DateTime) -> DateTime<Utc> {
    leganto_shared::config::aws_time(t).unwrap_or_default()
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

/// The execution's account, one line per state visited: its start, offset, kind, name and
/// time taken. A state that loops (the wait for a decision, the job check) is one line
/// with its count and total time ([`leganto_shared::ops::account::collapse`]).
pub fn format_visits(visits: &[StateVisit], start: Option<DateTime<Utc>>) -> Vec<String> {
    use leganto_shared::ops::account::{collapse, span, Entry, Visit};
    let start = start.or_else(|| visits.first().map(|v| v.entered));
    let seconds = |d: chrono::Duration| d.num_milliseconds() as f64 / 1000.0;
    let offset = |t: DateTime<Utc>| start.map(|s| seconds(t - s)).unwrap_or(0.0);
    let plain: Vec<Visit> = visits
        .iter()
        .map(|v| Visit {
            name: v.name.clone(),
            entered: v.entered,
            exited: v.exited,
            failure: v.failure.clone(),
        })
        .collect();
    collapse(&plain)
        .iter()
        .map(|entry| match entry {
            Entry::Once(v) => {
                // The same visit, for its kind.
                let kind = visits
                    .iter()
                    .find(|s| s.entered == v.entered && s.name == v.name)
                    .map_or("", |s| s.kind.as_str());
                let took = v
                    .exited
                    .map(|e| format!(" ({:.2} s)", seconds(e - v.entered)))
                    .unwrap_or_default();
                let failure = v
                    .failure
                    .as_ref()
                    .map(|f| format!("  FAILED {f}"))
                    .unwrap_or_default();
                format!(
                    "{}  +{:>6.2}s  {kind:<8}  {}{took}{failure}",
                    v.entered.format("%H:%M:%S%.3f"),
                    offset(v.entered),
                    v.name
                )
            }
            Entry::Loop(l) => {
                let end = l.exited.unwrap_or(l.entered);
                format!(
                    "{}  +{:>6.2}s  {:<8}  {} ({} in all)",
                    l.entered.format("%H:%M:%S%.3f"),
                    offset(l.entered),
                    "loop",
                    l.names(),
                    span(end - l.entered)
                )
            }
        })
        .collect()
}
