//! What every step works with, built once per cold start: settings, the S3 store, SES,
//! and lazily (only for steps that need them) the secret and the clients made from it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use tokio::sync::OnceCell;

use crate::alma::{AlmaClient, AlmaClientConfig, CourseCache};
use crate::config::{self, Config};
use crate::domain::Rules;
use crate::secrets::Secrets;
#[cfg(feature = "sftp")]
use crate::sftp::SftpClient;
use crate::slack::SlackWebhook;
use crate::store::Store;

use super::StepError;

/// Longest wait for a TCP connection to Alma or Slack.
const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The current time; tests pass a fixed or shifted one.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Shared by every invocation of a warm Lambda (and by every step in a local host).
pub struct StepContext {
    pub config: Config,
    pub store: Store,
    pub ses: aws_sdk_sesv2::Client,
    secrets_client: aws_sdk_secretsmanager::Client,
    /// Fetched on first use: Plan and E-mail never read the secret (their IAM role cannot).
    secrets: OnceCell<Arc<Secrets>>,
    rules: OnceCell<Arc<Rules>>,
    /// One HTTP client (connection pool, TLS set-up) for every invocation of a warm Lambda.
    http: std::sync::OnceLock<reqwest::Client>,
    clock: Clock,
    /// Longest wait for one Slack post.
    pub slack_timeout: Duration,
}

impl std::fmt::Debug for StepContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepContext")
            .field("config", &self.config)
            .field("bucket", &self.store.bucket())
            .field("secrets_loaded", &self.secrets.initialized())
            .finish_non_exhaustive()
    }
}

impl StepContext {
    /// Settings from the environment and AWS clients from the SDK's default chain
    /// (`AWS_ENDPOINT_URL` points them at a local stack).
    pub async fn from_env() -> Result<StepContext, StepError> {
        let config = Config::from_env()?;
        let sdk = config::aws_sdk_config().await;
        Ok(StepContext::new(config, &sdk))
    }

    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> StepContext {
        StepContext {
            store: Store::from_sdk_config(sdk, config.bucket.clone()),
            ses: aws_sdk_sesv2::Client::new(sdk),
            secrets_client: aws_sdk_secretsmanager::Client::new(sdk),
            secrets: OnceCell::new(),
            rules: OnceCell::new(),
            http: std::sync::OnceLock::new(),
            clock: Arc::new(Utc::now),
            slack_timeout: crate::slack::DEFAULT_TIMEOUT,
            config,
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> StepContext {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Now in the library's time zone, as file names stamp it.
    pub fn local_now(&self) -> NaiveDateTime {
        self.now()
            .with_timezone(&self.config.time_zone)
            .naive_local()
    }

    /// The run's secret, fetched once.
    pub async fn secrets(&self) -> Result<Arc<Secrets>, StepError> {
        self.secrets
            .get_or_try_init(|| async {
                Secrets::load(&self.secrets_client, &self.config.secret_id)
                    .await
                    .map(Arc::new)
            })
            .await
            .cloned()
            .map_err(StepError::from)
    }

    /// Institution rules: `RULES_FILE`, else the shipped default.
    pub fn rules(&self) -> Result<Arc<Rules>, StepError> {
        if let Some(rules) = self.rules.get() {
            return Ok(Arc::clone(rules));
        }
        let rules = match &self.config.rules_file {
            Some(path) => Rules::load(path),
            None => Rules::asu(),
        }
        .map_err(|e| StepError::InvalidInput {
            message: format!("the institution rules cannot be loaded: {e}"),
            source: Some(Box::new(e)),
        })?;
        let rules = Arc::new(rules);
        // Another invocation may have set it meanwhile; either copy is the same.
        let _ = self.rules.set(Arc::clone(&rules));
        Ok(rules)
    }

    /// A fresh Alma client per invocation, so its call counter and quota stop belong to one
    /// step, never to a later day in a warm container; its HTTP client is the warm one.
    pub async fn alma(&self) -> Result<AlmaClient, StepError> {
        let secrets = self.secrets().await?;
        let mut cfg = AlmaClientConfig::new(
            self.config.alma_base_url.clone(),
            secrets.alma_api_key.clone(),
        );
        cfg.rate_per_second = self.config.alma_rate;
        cfg.http = Some(self.http()?.clone());
        Ok(AlmaClient::new(cfg)?)
    }

    /// A per-invocation course cache over a fresh client.
    pub async fn course_cache(&self) -> Result<CourseCache, StepError> {
        Ok(CourseCache::new(self.alma().await?))
    }

    #[cfg(feature = "sftp")]
    pub async fn cem_sftp(&self) -> Result<SftpClient, StepError> {
        let secrets = self.secrets().await?;
        Ok(SftpClient::new(
            secrets.cem_sftp.clone(),
            self.config.sftp_timeout,
        ))
    }

    #[cfg(feature = "sftp")]
    pub async fn alma_sftp(&self) -> Result<SftpClient, StepError> {
        let secrets = self.secrets().await?;
        Ok(SftpClient::new(
            secrets.alma_sftp.clone(),
            self.config.sftp_timeout,
        ))
    }

    pub async fn slack(&self) -> Result<SlackWebhook, StepError> {
        let secrets = self.secrets().await?;
        Ok(SlackWebhook::with_client(
            self.http()?.clone(),
            secrets.slack_webhook_url.clone(),
            self.slack_timeout,
        ))
    }

    /// The warm Lambda's HTTP client, built on first use.
    fn http(&self) -> Result<&reqwest::Client, StepError> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(HTTP_CONNECT_TIMEOUT)
            .user_agent(concat!("leganto/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StepError::InvalidInput {
                message: "the HTTP client cannot be set up".into(),
                source: Some(Box::new(e.without_url())),
            })?;
        // Another invocation may have set it meanwhile; either client is as good.
        Ok(self.http.get_or_init(|| http))
    }
}
