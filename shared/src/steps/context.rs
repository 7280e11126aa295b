//! What every step works with, built once per cold start: settings, the S3 store, SES,
//! and lazily (only for steps that need them) each secret and the clients made from it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::alma::{AlmaClient, AlmaClientConfig, CourseCache};
use crate::config::{self, Config};
use crate::domain::Rules;
use crate::run::rules::{self, RulesLoadError, RulesVersion};
use crate::secrets::{self, AlmaApiKey, SecretCache, SecretPurpose, SecretValue, SlackWebhookUrl};
#[cfg(feature = "sftp")]
use crate::sftp::SftpClient;
use crate::sftp::SftpLogin;
use crate::slack::SlackWebhook;
use crate::store::Store;

use super::lambda::alma_deadline;
use super::StepError;
use crate::run::alma_rate::{self, AlmaCaller};

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
    /// Each fetched on first use and kept briefly: a function's IAM role can read only the
    /// secrets its step uses (Plan and E-mail none).
    alma_api_key: SecretCache<AlmaApiKey>,
    cem_sftp_login: SecretCache<SftpLogin>,
    alma_sftp_login: SecretCache<SftpLogin>,
    slack_webhook_url: SecretCache<SlackWebhookUrl>,
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
            .field("alma_api_key_loaded", &self.alma_api_key.is_loaded())
            .field("cem_sftp_login_loaded", &self.cem_sftp_login.is_loaded())
            .field("alma_sftp_login_loaded", &self.alma_sftp_login.is_loaded())
            .field(
                "slack_webhook_url_loaded",
                &self.slack_webhook_url.is_loaded(),
            )
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
            alma_api_key: SecretCache::default(),
            cem_sftp_login: SecretCache::default(),
            alma_sftp_login: SecretCache::default(),
            slack_webhook_url: SecretCache::default(),
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

    /// The clock itself, for what stamps times on its own (the course cache).
    pub fn clock(&self) -> Clock {
        Arc::clone(&self.clock)
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

    /// The Alma API key (`ALMA_API_KEY_SECRET_ID`).
    pub async fn alma_api_key(&self) -> Result<Arc<AlmaApiKey>, StepError> {
        self.secret(&self.alma_api_key, SecretPurpose::AlmaApiKey)
            .await
    }

    /// The CEM SFTP login (`CEM_SFTP_SECRET_ID`).
    pub async fn cem_sftp_login(&self) -> Result<Arc<SftpLogin>, StepError> {
        self.secret(&self.cem_sftp_login, SecretPurpose::CemSftp)
            .await
    }

    /// Alma's SFTP login (`ALMA_SFTP_SECRET_ID`).
    pub async fn alma_sftp_login(&self) -> Result<Arc<SftpLogin>, StepError> {
        self.secret(&self.alma_sftp_login, SecretPurpose::AlmaSftp)
            .await
    }

    /// The Slack webhook (`SLACK_WEBHOOK_SECRET_ID`).
    pub async fn slack_webhook_url(&self) -> Result<Arc<SlackWebhookUrl>, StepError> {
        self.secret(&self.slack_webhook_url, SecretPurpose::SlackWebhook)
            .await
    }

    /// Forgets every secret fetched, so the next use reads Secrets Manager: a preflight
    /// must see a secret as just fixed, not as a warm Lambda kept it.
    pub async fn forget_secrets(&self) {
        self.alma_api_key.clear().await;
        self.cem_sftp_login.clear().await;
        self.alma_sftp_login.clear().await;
        self.slack_webhook_url.clear().await;
    }

    /// One secret from its cache, else from Secrets Manager; its setting unset is
    /// `InvalidConfig` naming it.
    async fn secret<T: SecretValue>(
        &self,
        cache: &SecretCache<T>,
        purpose: SecretPurpose,
    ) -> Result<Arc<T>, StepError> {
        let secret_id = self.config.secret_id(purpose)?;
        Ok(cache
            .get_or_fetch(self.now(), || {
                secrets::load(&self.secrets_client, secret_id)
            })
            .await?)
    }

    /// The institution rules this invocation follows, and their version: `RULES_FILE` when
    /// set, else `config/rules.toml` in the bucket, else the shipped rules.
    ///
    /// Read on every invocation, never kept by a warm Lambda: the object is a few KB and
    /// compiles in well under a millisecond, so one GetObject is cheaper than any cache
    /// that could serve yesterday's term codes to today's run after a push.
    pub async fn rules(&self) -> Result<(Rules, RulesVersion), StepError> {
        let loaded = rules::load(&self.store, self.config.rules_file.as_deref()).await;
        loaded.map_err(|e| match e {
            RulesLoadError::Store(e) => e.into(),
            RulesLoadError::Rules(e) => StepError::InvalidInput {
                message: format!("the institution rules cannot be loaded: {e}"),
                source: Some(Box::new(e)),
            },
        })
    }

    /// A fresh Alma client per invocation for a step that calls Alma alone (the whole
    /// `AlmaRate`), so its call counter and quota stop belong to one step, never to a later
    /// day in a warm container; its HTTP client is the warm one. Within an invocation
    /// ([`super::within_deadline`]) it retries no later than the invocation's deadline less
    /// a margin.
    pub async fn alma(&self) -> Result<AlmaClient, StepError> {
        self.alma_for(AlmaCaller::Alone).await
    }

    /// As [`StepContext::alma`], at `caller`'s share of `AlmaRate` (see [`alma_rate`]).
    pub async fn alma_for(&self, caller: AlmaCaller) -> Result<AlmaClient, StepError> {
        let key = self.alma_api_key().await?;
        let share = alma_rate::share(self.config.alma.rate, caller);
        let mut cfg = AlmaClientConfig::new(self.config.alma.base_url.clone(), key.api_key.clone());
        cfg.rate_per_second = share.per_second;
        cfg.rate_divisor = share.divisor;
        // A Map branch may start the moment another ends: it keeps that one's pace. (The
        // check's looks are apart by the poll interval's Wait.)
        cfg.paced_from_start = caller == AlmaCaller::CacheBranch;
        cfg.http = Some(self.http()?.clone());
        let client = AlmaClient::new(cfg)?;
        Ok(match alma_deadline() {
            Some(deadline) => client.until(deadline),
            None => client,
        })
    }

    /// A per-invocation course cache over a fresh client.
    pub async fn course_cache(&self) -> Result<CourseCache, StepError> {
        Ok(CourseCache::new(self.alma().await?))
    }

    #[cfg(feature = "sftp")]
    pub async fn cem_sftp(&self) -> Result<SftpClient, StepError> {
        let login = self.cem_sftp_login().await?;
        Ok(SftpClient::new((*login).clone(), self.config.sftp.timeout)
            .with_max_download(self.config.sftp.max_download_bytes))
    }

    #[cfg(feature = "sftp")]
    pub async fn alma_sftp(&self) -> Result<SftpClient, StepError> {
        let login = self.alma_sftp_login().await?;
        Ok(SftpClient::new((*login).clone(), self.config.sftp.timeout)
            .with_max_download(self.config.sftp.max_download_bytes))
    }

    pub async fn slack(&self) -> Result<SlackWebhook, StepError> {
        let webhook = self.slack_webhook_url().await?;
        Ok(SlackWebhook::with_client(
            self.http()?.clone(),
            webhook.webhook_url.clone(),
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
