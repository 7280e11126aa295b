//! The daily run's step handlers against real peers on loopback: OpenSSH's sshd with the
//! CEM and Alma accounts, moto (S3, Secrets Manager with the real secrets, SES v2), the
//! Alma simulator loading what lands in the Alma account's directory, and a Slack receiver.
//!
//! Steps are called through `leganto_tests::dispatch::invoke` by their Lambda names, and their outputs are
//! put into a growing state as the state machine's `ResultPath`s do.
//! Needs root (sshd accounts), `/usr/sbin/sshd` and `.venv/bin/moto_server`
//! (`infra/local/setup.sh`).

mod alma_job;
mod alma_rate;
mod bounded_memory;
mod day_page;
mod delivery;
mod delta;
mod dry_run;
mod formulas;
mod limits;
mod logs;
mod normal_day;
mod one_load;
mod pull_wait;
mod reading_lists;
mod resume;
mod sftp;
mod slack_limits;
mod stale_upload;

use leganto_shared::error::ErrorName as _;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use leganto_shared::config::Config;
use leganto_shared::secrets::SecretPurpose;
use leganto_shared::steps::{StepContext, StepError};
use leganto_tests::alma_sim::{AlmaSim, SimOptions};
use leganto_tests::moto::{Moto, RawMessage, REGION};
use leganto_tests::slack_receiver::SlackReceiver;
use leganto_tests::sshd::{LoginAuth, SshServer, SshServerOptions};
use serde_json::{json, Value};

use crate::sample_courses;

pub const EXPORT_NAME: &str = "leganto_export_20261128.csv";
pub const CEM: &str = "cem_sftp";
pub const ALMA: &str = "alma_sftp";
pub const EMAIL_FROM: &str = "library-systems@example.edu";
/// The simulator's course loader job (SimOptions default).
pub const LOADER_JOB_ID: &str = "S7100000000001";

/// One moto for every test that runs at the same time (each uses its own bucket, secrets
/// and recipients); stopped when the last test holding it ends.
fn moto() -> Arc<Moto> {
    static SHARED: Mutex<Weak<Moto>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(moto) = slot.upgrade() {
        return moto;
    }
    let moto = Arc::new(Moto::start());
    *slot = Arc::downgrade(&moto);
    moto
}

/// Changes the run's secrets before they are stored: one JSON object whose fields
/// (`alma_api_key`, `cem_sftp`, `alma_sftp`, `slack_webhook`) each become one secret; a
/// field removed leaves that secret and its setting out.
pub type SecretEdit = Box<dyn FnOnce(&mut Value, &SshServer)>;

/// The secrets' fields in a [`SecretEdit`]'s object, with the settings naming them.
const SECRETS: [(&str, SecretPurpose); 4] = [
    ("alma_api_key", SecretPurpose::AlmaApiKey),
    ("cem_sftp", SecretPurpose::CemSftp),
    ("alma_sftp", SecretPurpose::AlmaSftp),
    ("slack_webhook", SecretPurpose::SlackWebhook),
];

/// How a test's world differs from a normal day.
pub struct Options {
    /// Edits the run's secrets before they are stored.
    pub secret: SecretEdit,
    pub loader_delay: Duration,
    /// The simulator picks up pushed files by itself (else tests call `run_loader_now`).
    pub watch_drop_dir: bool,
    pub slack_failing: bool,
    pub settings: Vec<(&'static str, String)>,
    /// The courses Alma holds at the start, as `alma_courses.json` [default: the sample day's].
    pub alma_courses: Option<PathBuf>,
    /// Alma lists a job's runs oldest first (it promises no order).
    pub instances_oldest_first: bool,
    /// A moto of its own, for a test whose hundreds of MB would hold up the others' calls.
    pub own_moto: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            secret: Box::new(|_, _| {}),
            loader_delay: Duration::ZERO,
            watch_drop_dir: false,
            slack_failing: false,
            settings: Vec::new(),
            alma_courses: None,
            instances_oldest_first: false,
            own_moto: false,
        }
    }
}

pub struct World {
    pub name: String,
    pub moto: Arc<Moto>,
    pub sshd: SshServer,
    pub sim: AlmaSim,
    pub slack: SlackReceiver,
    pub sdk: aws_config::SdkConfig,
    /// The functions' settings, as their environment holds them.
    pub settings: HashMap<&'static str, String>,
    pub config: Config,
    pub ctx: StepContext,
    pub recipients: Vec<String>,
}

impl World {
    pub async fn start(name: &str) -> World {
        World::start_with(name, Options::default()).await
    }

    pub async fn start_with(name: &str, options: Options) -> World {
        let moto = if options.own_moto {
            Arc::new(Moto::start())
        } else {
            moto()
        };
        let sshd = SshServer::start(SshServerOptions::cem_and_alma()).expect("sshd starts");
        let courses = match &options.alma_courses {
            Some(path) => {
                SimOptions::with_fixture(path)
                    .expect("Alma courses")
                    .courses
            }
            None => sample_courses(),
        };
        let sim = AlmaSim::start(SimOptions {
            courses,
            drop_dir: Some(sshd.directory(ALMA).to_path_buf()),
            per_second_limit: None,
            loader_delay: options.loader_delay,
            instances_oldest_first: options.instances_oldest_first,
            watch_interval: if options.watch_drop_dir {
                Duration::from_millis(50)
            } else {
                Duration::from_secs(3600)
            },
            ..SimOptions::default()
        })
        .await
        .expect("simulator starts");
        let slack = if options.slack_failing {
            SlackReceiver::start_failing().await
        } else {
            SlackReceiver::start().await
        };

        let sdk = moto.sdk_config().await;
        let bucket = format!("leganto-steps-{name}").replace('_', "-");
        let s3 = leganto_shared::store::s3_client(&sdk);
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("bucket");

        // The run's secrets, as Secrets Manager holds them: CEM logs in by password,
        // Alma by key.
        let mut secrets = json!({
            "alma_api_key": {"api_key": sim.api_key()},
            "cem_sftp": sshd.login_json(CEM, LoginAuth::Password),
            "alma_sftp": sshd.login_json(ALMA, LoginAuth::Key),
            "slack_webhook": {"webhook_url": slack.url()},
        });
        (options.secret)(&mut secrets, &sshd);
        let mut secret_settings = Vec::new();
        for (field, purpose) in SECRETS {
            let Some(value) = secrets.get(field) else {
                continue;
            };
            let secret_id = format!("leganto/steps/{name}/{field}");
            aws_sdk_secretsmanager::Client::new(&sdk)
                .create_secret()
                .name(&secret_id)
                .secret_string(value.to_string())
                .send()
                .await
                .expect("secret");
            secret_settings.push((purpose.setting(), secret_id));
        }
        // SES only sends from a verified identity; another test may have made it already.
        let _ = aws_sdk_sesv2::Client::new(&sdk)
            .create_email_identity()
            .email_identity(EMAIL_FROM)
            .send()
            .await;

        let recipients = vec![
            format!("courses-{name}@example.edu"),
            format!("reserves-{name}@example.edu"),
        ];
        let mut settings: HashMap<&str, String> = HashMap::from([
            ("BUCKET", bucket),
            ("ALMA_BASE_URL", sim.base_url().to_string()),
            ("ALMA_RATE", "50".to_string()),
            ("ALMA_LOADER_JOB_ID", LOADER_JOB_ID.to_string()),
            ("EMAIL_FROM", EMAIL_FROM.to_string()),
            ("EMAIL_TO", recipients.join(", ")),
            ("AWS_REGION", REGION.to_string()),
            ("SFTP_TIMEOUT_SECONDS", "10".to_string()),
            // Exports here are written just before the pull: settle them quickly.
            ("SFTP_SETTLE_SECONDS", "1".to_string()),
            ("POLL_INTERVAL_SECONDS", "30".to_string()),
            ("WAIT_LIMIT_SECONDS", "3600".to_string()),
        ]);
        settings.extend(secret_settings);
        settings.extend(options.settings);
        let config = Config::from_lookup(|k| settings.get(k).cloned()).expect("settings");
        let ctx = StepContext::new(config.clone(), &sdk);
        World {
            name: name.to_string(),
            moto,
            sshd,
            sim,
            slack,
            sdk,
            settings,
            config,
            ctx,
            recipients,
        }
    }

    /// Calls a step by its Lambda name, as the local Lambda host does.
    pub async fn call(&self, function: &str, payload: Value) -> Result<Value, StepError> {
        leganto_tests::dispatch::invoke(&self.ctx, function, payload).await
    }

    /// The Release step for `state`, as the state machine calls it at the end of a run.
    pub async fn release(&self, state: &Value) -> Value {
        self.call(
            "release",
            json!({"state": state, "execution_arn": state["run"]["execution_arn"]}),
        )
        .await
        .unwrap()
    }

    /// Calls a step and puts its output under `section` of `state`.
    pub async fn step(&self, function: &str, state: &mut Value, section: &str) -> Value {
        let output = self
            .call(function, state.clone())
            .await
            .unwrap_or_else(|e| panic!("{function} failed: {} {}", e.error_name(), e.message()));
        state[section] = output.clone();
        output
    }

    /// The plan for `input`, as the whole state.
    pub async fn plan(&self, input: Value) -> Result<Value, StepError> {
        self.call(
            "PlanFunction",
            json!({
                "input": input,
                "execution_arn": format!("arn:aws:states:{REGION}:123456789012:execution:leganto-daily:{}", self.name),
                "execution_name": self.name,
                "execution_started_at": "2026-11-28T16:20:00.123Z",
            }),
        )
        .await
    }

    /// Puts a loader file in S3 as the transform would, with a run summary naming it and
    /// when its delete checks were made.
    pub async fn put_loader_file(
        &self,
        name: &str,
        bytes: Vec<u8>,
        made_at: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let key = format!("alma/2026/11/28/{name}");
        self.ctx
            .store
            .put(&key, bytes, "text/plain")
            .await
            .expect("loader file");
        self.ctx
            .store
            .put_json(
                "reports/2026/11/28/run-summary.json",
                &json!({
                    "loader_key": key,
                    "loader_file_name": name,
                    "summary_key": "reports/2026/11/28/run-summary.json",
                    "rejects_key": "reports/2026/11/28/rejects.csv",
                    "years_needed": [],
                    "made_at": made_at,
                }),
            )
            .await
            .expect("run summary");
        key
    }

    pub fn put_export(&self, name: &str, bytes: &[u8]) -> PathBuf {
        self.sshd.put_file(CEM, name, bytes).expect("export file")
    }

    pub async fn s3_get(&self, key: &str) -> Vec<u8> {
        self.ctx.store.get(key).await.expect("object").to_vec()
    }

    pub async fn s3_keys(&self, prefix: &str) -> Vec<String> {
        self.ctx
            .store
            .list(prefix)
            .await
            .expect("list")
            .into_iter()
            .map(|o| o.key)
            .collect()
    }

    /// moto's whole state (`/moto-api/data.json`). Read while other tests change moto's
    /// state, it is at times not JSON (seen in the full suite): then it is read again.
    async fn moto_data(&self) -> Value {
        let url = format!("{}/moto-api/data.json", self.moto.endpoint());
        let mut last = String::new();
        for _ in 0..10 {
            let response = reqwest::get(&url).await.expect("data.json");
            let status = response.status();
            let body = response.text().await.expect("data.json's body");
            match serde_json::from_str(&body) {
                Ok(data) if status.is_success() => return data,
                _ => last = format!("{status}: {}", body.chars().take(300).collect::<String>()),
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        panic!("data.json is not JSON: {last}")
    }

    /// Mail moto recorded for this test's recipients (moto is shared).
    pub async fn sent_emails(&self) -> Vec<RawMessage> {
        let data = self.moto_data().await;
        let messages = data["ses"]["RawMessage"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        messages
            .into_iter()
            .filter_map(|m| serde_json::from_value::<RawMessage>(m).ok())
            .filter(|m| m.destinations.iter().any(|d| self.recipients.contains(d)))
            .collect()
    }

    /// Loader files in the Alma account's directory (and anything else left there).
    pub fn alma_files(&self) -> Vec<String> {
        self.sshd.files(ALMA).expect("alma directory")
    }

    /// Checks the course loader job until it is done (a few tries a moment apart).
    pub async fn check_until_done(&self, state: &mut Value) -> Value {
        for _ in 0..100 {
            let job = self.step("leganto-check-job", state, "alma_job").await;
            if job["done"] == json!(true) {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the course loader job did not finish: {}",
            state["alma_job"]
        );
    }
}

/// The error of a step that had to fail.
pub fn expect_error(result: Result<Value, StepError>) -> StepError {
    match result {
        Ok(output) => panic!("the step succeeded: {output}"),
        Err(e) => e,
    }
}
