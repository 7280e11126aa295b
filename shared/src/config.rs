//! Settings from the environment: the only code that reads it.
//!
//! `Config::from_env()` reads the process environment once at start-up; `Config::from_lookup`
//! takes any name → value function so tests never touch the process environment. A missing
//! or malformed setting is a [`ConfigError`] naming it.
//!
//! The settings come in parts ([`AlmaSettings`], [`SftpSettings`], …), each read by its own
//! `from_lookup`. Each variable's name is a constant in [`env`](mod@env) and each default a
//! `DEFAULT_*` constant: the readers, their errors and the command's flags (`cli/`) all take
//! them from here.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Weekday;
use chrono_tz::Tz;

use crate::domain::delta::FullLoadPolicy;
use crate::secrets::SecretPurpose;

/// Settings every function reads at start-up.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `BUCKET`: the one bucket holding exports, loader files, reports and caches.
    pub bucket: String,
    /// `ALMA_API_KEY_SECRET_ID`, `CEM_SFTP_SECRET_ID`, `ALMA_SFTP_SECRET_ID`,
    /// `SLACK_WEBHOOK_SECRET_ID`: name or ARN of each secret (a name, never a secret). Each
    /// function is given only those its step reads; see [`Config::secret_id`].
    pub secret_ids: BTreeMap<SecretPurpose, String>,
    /// `TIME_ZONE`: the library's time zone (default America/Phoenix).
    pub time_zone: Tz,
    /// `RULES_FILE`: institution rules; none → the shipped default.
    pub rules_file: Option<PathBuf>,
    /// `CONSOLE_REGION`, else `AWS_REGION`: region for console links.
    pub console_region: Option<String>,
    /// `STACK_NAME`: the deployed stack, named in the commands Slack gives.
    pub stack_name: Option<String>,
    /// Alma's API and its course loader.
    pub alma: AlmaSettings,
    /// The report e-mail.
    pub email: EmailSettings,
    /// The SFTP servers: CEM's, which Pull reads the export from, and Alma's, which Push
    /// writes the loader file to.
    pub sftp: SftpSettings,
    /// The wait for Alma's job.
    pub wait: WaitSettings,
    /// A held day's wait for a person's decision.
    pub hold: HoldSettings,
    /// A scheduled run's wait for a late CEM export.
    pub export_wait: ExportWaitSettings,
    /// The safety brake's limits.
    pub brake: BrakeSettings,
    /// `BASELINE_MAX_AGE_DAYS` and `FULL_LOAD_WEEKDAY`: when a full file is sent instead of
    /// a delta (default 8 days, Sunday; `FULL_LOAD_WEEKDAY=None` never by weekday).
    pub full_load: FullLoadPolicy,
    /// `ROLLOVERS_ENABLED`: the push sends the rollovers people approved
    /// (course-loading.md §10); default false.
    pub rollovers_enabled: bool,
}

/// The environment variables, by the part of [`Config`] they set. The secrets' are
/// [`SecretPurpose::setting`].
pub mod env {
    pub const BUCKET: &str = "BUCKET";
    pub const TIME_ZONE: &str = "TIME_ZONE";
    pub const RULES_FILE: &str = "RULES_FILE";
    pub const CONSOLE_REGION: &str = "CONSOLE_REGION";
    /// The stack's name (`AWS::StackName`), for the `leganto --stack` commands Slack gives.
    pub const STACK_NAME: &str = "STACK_NAME";
    /// The stack's `RolloversEnabled`: `true` sends approved rollovers with the push.
    pub const ROLLOVERS_ENABLED: &str = "ROLLOVERS_ENABLED";
    /// Set by AWS in every Lambda function.
    pub const AWS_REGION: &str = "AWS_REGION";

    pub const ALMA_BASE_URL: &str = "ALMA_BASE_URL";
    pub const ALMA_RATE: &str = "ALMA_RATE";
    pub const ALMA_LOADER_JOB_ID: &str = "ALMA_LOADER_JOB_ID";
    pub const ALMA_LOADER_PROFILE_ID: &str = "ALMA_LOADER_PROFILE_ID";
    pub const GUARD_MAX_AGE_HOURS: &str = "GUARD_MAX_AGE_HOURS";

    pub const EMAIL_FROM: &str = "EMAIL_FROM";
    pub const EMAIL_TO: &str = "EMAIL_TO";

    pub const SFTP_TIMEOUT_SECONDS: &str = "SFTP_TIMEOUT_SECONDS";
    pub const SFTP_MAX_DOWNLOAD_MB: &str = "SFTP_MAX_DOWNLOAD_MB";
    pub const SFTP_SETTLE_SECONDS: &str = "SFTP_SETTLE_SECONDS";
    pub const SFTP_SETTLED_AGE_SECONDS: &str = "SFTP_SETTLED_AGE_SECONDS";
    pub const SFTP_COMPLETE_WAIT_SECONDS: &str = "SFTP_COMPLETE_WAIT_SECONDS";

    pub const POLL_INTERVAL_SECONDS: &str = "POLL_INTERVAL_SECONDS";
    pub const WAIT_LIMIT_SECONDS: &str = "WAIT_LIMIT_SECONDS";

    pub const HOLD_POLL_SECONDS: &str = "HOLD_POLL_SECONDS";
    pub const HOLD_LIMIT_HOURS: &str = "HOLD_LIMIT_HOURS";

    pub const EXPORT_WAIT_MINUTES: &str = "EXPORT_WAIT_MINUTES";
    pub const EXPORT_POLL_SECONDS: &str = "EXPORT_POLL_SECONDS";

    pub const BRAKE_ROWS_DROP_PERCENT: &str = "BRAKE_ROWS_DROP_PERCENT";
    pub const BRAKE_DELETE_PERCENT: &str = "BRAKE_DELETE_PERCENT";
    pub const BRAKE_DELETE_MAX: &str = "BRAKE_DELETE_MAX";
    pub const BRAKE_DELETE_MULTIPLE: &str = "BRAKE_DELETE_MULTIPLE";
    pub const BRAKE_REJECT_PERCENT: &str = "BRAKE_REJECT_PERCENT";

    pub const BASELINE_MAX_AGE_DAYS: &str = "BASELINE_MAX_AGE_DAYS";
    pub const FULL_LOAD_WEEKDAY: &str = "FULL_LOAD_WEEKDAY";
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing setting {name}: set the environment variable {name}")]
    Missing { name: &'static str },
    #[error("setting {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl crate::error::ErrorName for ConfigError {
    fn error_name(&self) -> &'static str {
        "InvalidConfig"
    }
}

impl ConfigError {
    /// The setting at fault.
    pub fn setting(&self) -> &'static str {
        match self {
            ConfigError::Missing { name } | ConfigError::Invalid { name, .. } => name,
        }
    }
}

/// The library's time zone unless `TIME_ZONE` names another: the functions' and the
/// command's `--time-zone`.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::America::Phoenix;

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`; an empty or blank value counts as unset
    /// (templates pass `""` for optional parameters left empty).
    pub fn from_lookup<F>(lookup: F) -> Result<Config, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let lookup = Lookup(&lookup);
        Ok(Config {
            bucket: lookup.required(env::BUCKET)?,
            secret_ids: SecretPurpose::ALL
                .into_iter()
                .filter_map(|p| lookup.optional(p.setting()).map(|id| (p, id)))
                .collect(),
            time_zone: lookup.time_zone(env::TIME_ZONE, DEFAULT_TIME_ZONE)?,
            rules_file: lookup.optional(env::RULES_FILE).map(PathBuf::from),
            stack_name: lookup.optional(env::STACK_NAME),
            console_region: lookup
                .optional(env::CONSOLE_REGION)
                .or_else(|| lookup.optional(env::AWS_REGION)),
            alma: AlmaSettings::from_lookup(&lookup)?,
            email: EmailSettings::from_lookup(&lookup)?,
            sftp: SftpSettings::from_lookup(&lookup)?,
            wait: WaitSettings::from_lookup(&lookup)?,
            hold: HoldSettings::from_lookup(&lookup)?,
            export_wait: ExportWaitSettings::from_lookup(&lookup)?,
            brake: BrakeSettings::from_lookup(&lookup)?,
            full_load: full_load_from_lookup(&lookup)?,
            rollovers_enabled: lookup.flag(env::ROLLOVERS_ENABLED)?,
        })
    }

    /// The secret for `purpose`; unset is an error naming its setting, raised only by a
    /// step that needs that secret.
    pub fn secret_id(&self, purpose: SecretPurpose) -> Result<&str, ConfigError> {
        self.secret_ids
            .get(&purpose)
            .map(String::as_str)
            .ok_or(ConfigError::Missing {
                name: purpose.setting(),
            })
    }

    /// Link to an execution in the Step Functions console. The region comes from the ARN
    /// (`arn:aws:states:<region>:...`), else from `CONSOLE_REGION`/`AWS_REGION`.
    pub fn execution_console_url(&self, execution_arn: &str) -> Option<String> {
        execution_console_url(self.console_region.as_deref(), execution_arn)
    }
}

/// Alma's API and its course loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlmaSettings {
    /// `ALMA_BASE_URL`, e.g. `https://api-na.hosted.exlibrisgroup.com`.
    pub base_url: String,
    /// `ALMA_RATE`: Alma API calls per second (default 10).
    pub rate: u32,
    /// `ALMA_LOADER_JOB_ID`: the course loader job to poll; none → wait a fixed time.
    pub loader_job_id: Option<String>,
    /// `ALMA_LOADER_PROFILE_ID`: the integration profile of the course loader, if known.
    pub loader_profile_id: Option<String>,
    /// `GUARD_MAX_AGE_HOURS`: delete checks older than this are made again at the push
    /// (default 6).
    pub guard_max_age: Duration,
}

/// Alma calls per second: the stack's `AlmaRate` default, the command's `--alma-rate` and
/// the Alma client's (Alma allows 25 per institution, shared with every integration).
pub const DEFAULT_ALMA_RATE: u32 = 10;
pub const DEFAULT_GUARD_MAX_AGE_HOURS: u64 = 6;

impl AlmaSettings {
    fn from_lookup(lookup: &Lookup) -> Result<AlmaSettings, ConfigError> {
        let rate = lookup.number(env::ALMA_RATE, u64::from(DEFAULT_ALMA_RATE))?;
        let rate = u32::try_from(rate).map_err(|_| ConfigError::Invalid {
            name: env::ALMA_RATE,
            reason: "too large".into(),
        })?;
        let base_url = lookup.required(env::ALMA_BASE_URL)?;
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: env::ALMA_BASE_URL,
                reason: "must start with https:// (or http:// for a local simulator)".into(),
            });
        }
        let guard_max_age_hours =
            lookup.number(env::GUARD_MAX_AGE_HOURS, DEFAULT_GUARD_MAX_AGE_HOURS)?;
        Ok(AlmaSettings {
            base_url: base_url.trim_end_matches('/').to_string(),
            rate,
            loader_job_id: lookup.optional(env::ALMA_LOADER_JOB_ID),
            loader_profile_id: lookup.optional(env::ALMA_LOADER_PROFILE_ID),
            guard_max_age: Duration::from_secs(guard_max_age_hours.saturating_mul(3600)),
        })
    }
}

/// The report e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    /// `EMAIL_FROM`: the verified sender of the report e-mail.
    pub from: String,
    /// `EMAIL_TO`: comma-separated recipients (at least one).
    pub to: Vec<String>,
}

impl EmailSettings {
    fn from_lookup(lookup: &Lookup) -> Result<EmailSettings, ConfigError> {
        let to: Vec<String> = lookup
            .required(env::EMAIL_TO)?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if to.is_empty() {
            return Err(ConfigError::Missing {
                name: env::EMAIL_TO,
            });
        }
        Ok(EmailSettings {
            from: lookup.required(env::EMAIL_FROM)?,
            to,
        })
    }
}

/// Both SFTP servers' timeout and largest download, and how Pull tells that CEM's export
/// is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftpSettings {
    /// `SFTP_TIMEOUT_SECONDS`: connect and per-operation SFTP timeout (default 30).
    pub timeout: Duration,
    /// `SFTP_MAX_DOWNLOAD_MB` (the stack's `ExportMaxMegabytes`): the largest export Pull
    /// reads (default 2048).
    pub max_download_bytes: u64,
    /// `SFTP_SETTLE_SECONDS`: Pull lists the export twice this far apart; unchanged size
    /// and modification time mean it is complete (default 5).
    pub settle: Duration,
    /// `SFTP_SETTLED_AGE_SECONDS`: an export last modified this long ago is complete
    /// without a second listing (default 120).
    pub settled_age: Duration,
    /// `SFTP_COMPLETE_WAIT_SECONDS`: longest wait for an export still changing, then
    /// `SourceFileIncomplete` (default and most 300, so Pull ends within its function's
    /// timeout).
    pub complete_wait: Duration,
}

pub const DEFAULT_SFTP_TIMEOUT_SECONDS: u64 = 30;
pub const DEFAULT_SFTP_MAX_DOWNLOAD_MB: u64 = crate::sftp::DEFAULT_MAX_DOWNLOAD_BYTES / MEGABYTE;
pub const DEFAULT_SFTP_SETTLE_SECONDS: u64 = 5;
pub const DEFAULT_SFTP_SETTLED_AGE_SECONDS: u64 = 120;
/// Also the most: the Pull function's timeout (template.yaml) leaves room for this wait,
/// the listings and the download.
pub const MAX_SFTP_COMPLETE_WAIT_SECONDS: u64 = 300;
const MEGABYTE: u64 = 1024 * 1024;

impl SftpSettings {
    fn from_lookup(lookup: &Lookup) -> Result<SftpSettings, ConfigError> {
        let max_download_mb =
            lookup.number(env::SFTP_MAX_DOWNLOAD_MB, DEFAULT_SFTP_MAX_DOWNLOAD_MB)?;
        let sftp = SftpSettings {
            timeout: lookup.seconds(env::SFTP_TIMEOUT_SECONDS, DEFAULT_SFTP_TIMEOUT_SECONDS)?,
            max_download_bytes: max_download_mb.saturating_mul(MEGABYTE),
            settle: lookup.seconds(env::SFTP_SETTLE_SECONDS, DEFAULT_SFTP_SETTLE_SECONDS)?,
            settled_age: lookup.seconds(
                env::SFTP_SETTLED_AGE_SECONDS,
                DEFAULT_SFTP_SETTLED_AGE_SECONDS,
            )?,
            complete_wait: lookup.seconds(
                env::SFTP_COMPLETE_WAIT_SECONDS,
                MAX_SFTP_COMPLETE_WAIT_SECONDS,
            )?,
        };
        sftp.check_complete_wait()?;
        Ok(sftp)
    }

    /// Pull's wait for a complete export must end within its function's timeout, and leave
    /// room for at least the second listing.
    fn check_complete_wait(&self) -> Result<(), ConfigError> {
        let (settle, wait) = (self.settle.as_secs(), self.complete_wait.as_secs());
        if wait > MAX_SFTP_COMPLETE_WAIT_SECONDS {
            return Err(ConfigError::Invalid {
                name: env::SFTP_COMPLETE_WAIT_SECONDS,
                reason: format!(
                    "{wait} is more than the bound of {MAX_SFTP_COMPLETE_WAIT_SECONDS}, which \
                     the Pull function's timeout allows"
                ),
            });
        }
        if settle > wait {
            return Err(ConfigError::Invalid {
                name: env::SFTP_SETTLE_SECONDS,
                reason: format!(
                    "{settle} is longer than {} {wait}: Pull could never list the export a \
                     second time",
                    env::SFTP_COMPLETE_WAIT_SECONDS
                ),
            });
        }
        Ok(())
    }
}

/// The wait for Alma's job to load the day's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitSettings {
    /// `POLL_INTERVAL_SECONDS`: between checks of Alma's job (default 600).
    pub poll_interval: Duration,
    /// `WAIT_LIMIT_SECONDS`: longest wait for Alma's job (default 14400).
    pub limit: Duration,
}

pub const DEFAULT_POLL_INTERVAL_SECONDS: u64 = 600;
pub const DEFAULT_WAIT_LIMIT_SECONDS: u64 = 14_400;
/// Most checks of Alma's job one run may make (`WAIT_LIMIT_SECONDS` over
/// `POLL_INTERVAL_SECONDS`). Each check is 9 events of the execution's history (Wait 2,
/// Task 5, Choice 2), so 360 checks stay near 3,300 of Step Functions' 25,000, with room
/// for retries and the rest of the run. The template's parameter bounds (poll at least
/// 60 s, wait at most 21,600 s) keep every deployable pair within it.
pub const MAX_WAIT_CHECKS: u64 = 360;
/// Longest wait for Alma's job: a day, when the next day's run starts.
pub const MAX_WAIT_LIMIT_SECONDS: u64 = 86_400;

impl WaitSettings {
    fn from_lookup(lookup: &Lookup) -> Result<WaitSettings, ConfigError> {
        let wait = WaitSettings {
            poll_interval: lookup
                .seconds(env::POLL_INTERVAL_SECONDS, DEFAULT_POLL_INTERVAL_SECONDS)?,
            limit: lookup.seconds(env::WAIT_LIMIT_SECONDS, DEFAULT_WAIT_LIMIT_SECONDS)?,
        };
        wait.check_bounds()?;
        Ok(wait)
    }

    /// The wait must fit the execution's history: a wait limit of at most a day, checked at
    /// most [`MAX_WAIT_CHECKS`] times.
    fn check_bounds(&self) -> Result<(), ConfigError> {
        let (poll, limit) = (self.poll_interval.as_secs(), self.limit.as_secs());
        if limit > MAX_WAIT_LIMIT_SECONDS {
            return Err(ConfigError::Invalid {
                name: env::WAIT_LIMIT_SECONDS,
                reason: format!(
                    "{limit} is more than the bound of {MAX_WAIT_LIMIT_SECONDS} (a day)"
                ),
            });
        }
        let least_poll = limit.div_ceil(MAX_WAIT_CHECKS);
        if poll < least_poll {
            return Err(ConfigError::Invalid {
                name: env::POLL_INTERVAL_SECONDS,
                reason: format!(
                    "{poll} is below the bound of {least_poll}: {} {limit} allows at most \
                     {MAX_WAIT_CHECKS} checks of Alma's job, so the execution's history \
                     stays far under Step Functions' 25,000 events",
                    env::WAIT_LIMIT_SECONDS
                ),
            });
        }
        Ok(())
    }
}

/// A held day's wait for a person's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldSettings {
    /// `HOLD_POLL_SECONDS`: between looks for a person's decision on a held day (default 300).
    pub poll_interval: Duration,
    /// `HOLD_LIMIT_HOURS`: a held day nobody decided on ends after this long (default 20;
    /// decimals allowed, e.g. 0.5).
    pub limit: Duration,
}

pub const DEFAULT_HOLD_POLL_SECONDS: u64 = 300;
pub const DEFAULT_HOLD_LIMIT_HOURS: f64 = 20.0;
/// Longest hold: a day, when the next day's run starts.
pub const MAX_HOLD_LIMIT_HOURS: f64 = 24.0;
/// Most looks for a decision one hold may make (`HOLD_LIMIT_HOURS` over
/// `HOLD_POLL_SECONDS`): each is about 9 events of the execution's history, so 720 stay
/// near 6,500 of Step Functions' 25,000 next to the wait for Alma's [`MAX_WAIT_CHECKS`].
pub const MAX_HOLD_CHECKS: u64 = 720;

impl HoldSettings {
    fn from_lookup(lookup: &Lookup) -> Result<HoldSettings, ConfigError> {
        let poll_interval = lookup.seconds(env::HOLD_POLL_SECONDS, DEFAULT_HOLD_POLL_SECONDS)?;
        let hours = lookup.hours(env::HOLD_LIMIT_HOURS, DEFAULT_HOLD_LIMIT_HOURS)?;
        if !(hours > 0.0 && hours <= MAX_HOLD_LIMIT_HOURS) {
            return Err(ConfigError::Invalid {
                name: env::HOLD_LIMIT_HOURS,
                reason: format!(
                    "{hours} is not more than 0 and at most {MAX_HOLD_LIMIT_HOURS} hours (a day)"
                ),
            });
        }
        let hold = HoldSettings {
            poll_interval,
            limit: Duration::from_secs_f64(hours * 3600.0),
        };
        hold.check_bounds()?;
        Ok(hold)
    }

    /// A hold must fit the execution's history: at most [`MAX_HOLD_CHECKS`] looks.
    fn check_bounds(&self) -> Result<(), ConfigError> {
        let poll = self.poll_interval.as_secs();
        let least_poll = self.limit.as_secs().div_ceil(MAX_HOLD_CHECKS);
        if poll < least_poll {
            return Err(ConfigError::Invalid {
                name: env::HOLD_POLL_SECONDS,
                reason: format!(
                    "{poll} is below the bound of {least_poll}: {} allows at most \
                     {MAX_HOLD_CHECKS} looks for a decision, so the execution's history \
                     stays far under Step Functions' 25,000 events",
                    env::HOLD_LIMIT_HOURS
                ),
            });
        }
        Ok(())
    }
}

/// A scheduled run's wait for a late CEM export (`crate::run::export_wait`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportWaitSettings {
    /// `EXPORT_WAIT_MINUTES`: how long after its start a scheduled run looks for a missing
    /// export before it fails `SourceFileMissing` (default 120; 0: no wait; decimals
    /// allowed).
    pub wait: Duration,
    /// `EXPORT_POLL_SECONDS`: between looks (default 300).
    pub poll_interval: Duration,
}

pub const DEFAULT_EXPORT_WAIT_MINUTES: f64 = 120.0;
pub const DEFAULT_EXPORT_POLL_SECONDS: u64 = 300;
/// Longest wait for a late export: six hours, well before the next day's run.
pub const MAX_EXPORT_WAIT_MINUTES: f64 = 360.0;
/// Most looks for a late export one run may make: each is about 9 events of the
/// execution's history (Task 5, Choice 2, Wait 2), so 360 stay near 3,300 of Step
/// Functions' 25,000 beside the hold's and the wait for Alma's.
pub const MAX_EXPORT_LOOKS: u64 = 360;

impl ExportWaitSettings {
    fn from_lookup(lookup: &Lookup) -> Result<ExportWaitSettings, ConfigError> {
        let minutes = lookup.decimal(env::EXPORT_WAIT_MINUTES, DEFAULT_EXPORT_WAIT_MINUTES)?;
        if !(0.0..=MAX_EXPORT_WAIT_MINUTES).contains(&minutes) {
            return Err(ConfigError::Invalid {
                name: env::EXPORT_WAIT_MINUTES,
                reason: format!(
                    "{minutes} is not from 0 (no wait) to {MAX_EXPORT_WAIT_MINUTES} minutes"
                ),
            });
        }
        let settings = ExportWaitSettings {
            wait: Duration::from_secs_f64(minutes * 60.0),
            poll_interval: lookup.seconds(env::EXPORT_POLL_SECONDS, DEFAULT_EXPORT_POLL_SECONDS)?,
        };
        settings.check_bounds()?;
        Ok(settings)
    }

    /// The wait must fit the execution's history: at most [`MAX_EXPORT_LOOKS`] looks.
    fn check_bounds(&self) -> Result<(), ConfigError> {
        let poll = self.poll_interval.as_secs();
        let least_poll = self.wait.as_secs().div_ceil(MAX_EXPORT_LOOKS);
        if poll < least_poll {
            return Err(ConfigError::Invalid {
                name: env::EXPORT_POLL_SECONDS,
                reason: format!(
                    "{poll} is below the bound of {least_poll}: {} allows at most \
                     {MAX_EXPORT_LOOKS} looks for the export, so the execution's history \
                     stays far under Step Functions' 25,000 events",
                    env::EXPORT_WAIT_MINUTES
                ),
            });
        }
        Ok(())
    }
}

/// The safety brake's limits (whole percents from 1 to 100).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrakeSettings {
    /// `BRAKE_ROWS_DROP_PERCENT`: the brake trips when the export has more than this
    /// percent fewer rows than the last loaded day's (default 30).
    pub rows_drop_percent: u32,
    /// `BRAKE_DELETE_PERCENT`: ... when DELETE rows are over this percent of the courses
    /// written (default 5).
    pub delete_percent: u32,
    /// `BRAKE_DELETE_MAX`: with loaded days to compare with, the fewest DELETE rows that
    /// ever hold a day (default 500); a first day is judged by the shares alone.
    pub delete_max: u64,
    /// `BRAKE_DELETE_MULTIPLE`: ... when DELETE rows are over this many times the median of
    /// the last 14 loaded days (default 5), and over `delete_max`.
    pub delete_multiple: u64,
    /// `BRAKE_REJECT_PERCENT`: ... when rejects are over this percent of rows read (default 2).
    pub reject_percent: u32,
}

pub const DEFAULT_BRAKE_ROWS_DROP_PERCENT: u32 = 30;
pub const DEFAULT_BRAKE_DELETE_PERCENT: u32 = 5;
pub const DEFAULT_BRAKE_DELETE_MAX: u64 = 500;
pub const DEFAULT_BRAKE_DELETE_MULTIPLE: u64 = 5;
pub const DEFAULT_BRAKE_REJECT_PERCENT: u32 = 2;

impl BrakeSettings {
    fn from_lookup(lookup: &Lookup) -> Result<BrakeSettings, ConfigError> {
        Ok(BrakeSettings {
            rows_drop_percent: lookup.percent(
                env::BRAKE_ROWS_DROP_PERCENT,
                DEFAULT_BRAKE_ROWS_DROP_PERCENT,
            )?,
            delete_percent: lookup
                .percent(env::BRAKE_DELETE_PERCENT, DEFAULT_BRAKE_DELETE_PERCENT)?,
            delete_max: lookup.number(env::BRAKE_DELETE_MAX, DEFAULT_BRAKE_DELETE_MAX)?,
            delete_multiple: lookup
                .number(env::BRAKE_DELETE_MULTIPLE, DEFAULT_BRAKE_DELETE_MULTIPLE)?,
            reject_percent: lookup
                .percent(env::BRAKE_REJECT_PERCENT, DEFAULT_BRAKE_REJECT_PERCENT)?,
        })
    }
}

/// `BASELINE_MAX_AGE_DAYS` and `FULL_LOAD_WEEKDAY`; their defaults are
/// [`FullLoadPolicy::default`]'s.
fn full_load_from_lookup(lookup: &Lookup) -> Result<FullLoadPolicy, ConfigError> {
    let default = FullLoadPolicy::default();
    let days = lookup.number(
        env::BASELINE_MAX_AGE_DAYS,
        u64::from(default.baseline_max_age_days),
    )?;
    Ok(FullLoadPolicy {
        baseline_max_age_days: u32::try_from(days).unwrap_or(u32::MAX),
        weekday: lookup.weekday(env::FULL_LOAD_WEEKDAY, default.weekday)?,
    })
}

/// The settings as [`Config::from_lookup`] is given them, read one at a time: a value is
/// trimmed, and an empty or blank one counts as unset. Each reader names its variable in
/// its errors.
struct Lookup<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Lookup<'_> {
    fn optional(&self, name: &'static str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing { name })
    }

    /// `true` or `false`; unset is false.
    fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.optional(name).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ConfigError::Invalid {
                name,
                reason: format!("must be true or false, not {other:?}"),
            }),
        }
    }

    /// A whole number above 0.
    fn number(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        let Some(value) = self.optional(name) else {
            return Ok(default);
        };
        match value.parse::<u64>() {
            Ok(0) => Err(ConfigError::Invalid {
                name,
                reason: "must be greater than 0".into(),
            }),
            Ok(n) => Ok(n),
            Err(_) => Err(ConfigError::Invalid {
                name,
                reason: format!("{value:?} is not a whole number"),
            }),
        }
    }

    fn seconds(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.number(name, default).map(Duration::from_secs)
    }

    /// A whole percent from 1 to 100.
    fn percent(&self, name: &'static str, default: u32) -> Result<u32, ConfigError> {
        let n = self.number(name, u64::from(default))?;
        match u32::try_from(n) {
            Ok(p) if p <= 100 => Ok(p),
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!("{n} is not a percent from 1 to 100"),
            }),
        }
    }

    /// Hours as people write them, decimals allowed; the caller bounds them.
    fn hours(&self, name: &'static str, default: f64) -> Result<f64, ConfigError> {
        let Some(text) = self.optional(name) else {
            return Ok(default);
        };
        text.parse::<f64>().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("{text:?} is not a number of hours"),
        })
    }

    /// A number as people write it, decimals allowed; the caller bounds it.
    fn decimal(&self, name: &'static str, default: f64) -> Result<f64, ConfigError> {
        let Some(text) = self.optional(name) else {
            return Ok(default);
        };
        text.parse::<f64>().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("{text:?} is not a number"),
        })
    }

    /// An IANA time zone name, e.g. `America/Phoenix`.
    fn time_zone(&self, name: &'static str, default: Tz) -> Result<Tz, ConfigError> {
        let Some(value) = self.optional(name) else {
            return Ok(default);
        };
        value.parse::<Tz>().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("{value:?} is not an IANA time zone name"),
        })
    }

    /// A weekday by English name (`Sunday`, `sun`); `None` for none.
    fn weekday(
        &self,
        name: &'static str,
        default: Option<Weekday>,
    ) -> Result<Option<Weekday>, ConfigError> {
        let Some(value) = self.optional(name) else {
            return Ok(default);
        };
        if value.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        value
            .parse::<Weekday>()
            .map(Some)
            .map_err(|_| ConfigError::Invalid {
                name,
                reason: format!("{value:?} is not a weekday (Monday … Sunday) or None"),
            })
    }
}

/// Link to an execution in the Step Functions console; `None` without a region.
pub fn execution_console_url(fallback_region: Option<&str>, execution_arn: &str) -> Option<String> {
    let arn_region = execution_arn
        .split(':')
        .nth(3)
        .filter(|r| !r.is_empty() && execution_arn.starts_with("arn:"));
    let region = arn_region.or(fallback_region)?;
    Some(format!(
        "https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"
    ))
}

/// AWS SDK configuration from the standard chain. The endpoint comes from the SDK's own
/// `AWS_ENDPOINT_URL`, so the same code runs against AWS and against moto.
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A time as every AWS SDK client returns it (S3, Step Functions), in chrono's terms;
/// `None` only outside chrono's range.
pub fn aws_time(t: &aws_sdk_s3::primitives::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn full() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("BUCKET", "leganto-runs"),
            ("ALMA_BASE_URL", "https://api-na.hosted.exlibrisgroup.com/"),
            ("EMAIL_FROM", "library@example.edu"),
            ("EMAIL_TO", "a@example.edu, b@example.edu,"),
        ])
    }

    fn load(vars: &HashMap<&'static str, &'static str>) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn defaults_apply_when_optional_settings_are_unset() {
        let config = load(&full()).unwrap();
        assert_eq!(config.alma.rate, 10);
        assert_eq!(config.time_zone, chrono_tz::America::Phoenix);
        assert_eq!(config.wait.poll_interval, Duration::from_secs(600));
        assert_eq!(config.wait.limit, Duration::from_secs(14_400));
        assert_eq!(config.sftp.timeout, Duration::from_secs(30));
        assert_eq!(config.sftp.max_download_bytes, 2048 * 1024 * 1024);
        assert_eq!(config.sftp.settle, Duration::from_secs(5));
        assert_eq!(config.sftp.settled_age, Duration::from_secs(120));
        assert_eq!(config.sftp.complete_wait, Duration::from_secs(300));
        assert_eq!(config.alma.loader_job_id, None);
        assert_eq!(config.rules_file, None);
        assert_eq!(
            config.alma.base_url,
            "https://api-na.hosted.exlibrisgroup.com"
        );
        assert_eq!(config.email.to, vec!["a@example.edu", "b@example.edu"]);
        assert_eq!(config.brake.rows_drop_percent, 30);
        assert_eq!(config.brake.delete_percent, 5);
        assert_eq!(config.brake.delete_max, 500);
        assert_eq!(config.brake.reject_percent, 2);
        assert_eq!(config.hold.poll_interval, Duration::from_secs(300));
        assert_eq!(config.hold.limit, Duration::from_secs(20 * 3600));
        assert_eq!(config.export_wait.wait, Duration::from_secs(120 * 60));
        assert_eq!(config.export_wait.poll_interval, Duration::from_secs(300));
    }

    #[test]
    fn the_export_wait_may_be_zero_or_a_fraction_of_a_minute_and_is_bounded() {
        let mut vars = full();
        vars.extend([("EXPORT_WAIT_MINUTES", "0"), ("EXPORT_POLL_SECONDS", "1")]);
        assert_eq!(load(&vars).unwrap().export_wait.wait, Duration::ZERO);
        vars.insert("EXPORT_WAIT_MINUTES", "0.1");
        assert_eq!(
            load(&vars).unwrap().export_wait.wait,
            Duration::from_secs(6)
        );
        for (name, value) in [
            ("EXPORT_WAIT_MINUTES", "-1"),
            ("EXPORT_WAIT_MINUTES", "361"),
            ("EXPORT_WAIT_MINUTES", "two hours"),
            ("EXPORT_POLL_SECONDS", "0"),
        ] {
            let mut vars = full();
            vars.insert(name, value);
            let err = load(&vars).unwrap_err();
            assert_eq!(err.setting(), name, "{name}={value}: {err}");
        }
        // Six hours looked at every 30 s would be 720 looks: too many.
        let mut vars = full();
        vars.extend([
            ("EXPORT_WAIT_MINUTES", "360"),
            ("EXPORT_POLL_SECONDS", "30"),
        ]);
        let err = load(&vars).unwrap_err();
        assert_eq!(err.setting(), "EXPORT_POLL_SECONDS");
        assert!(err.to_string().contains("bound of 60"), "{err}");
    }

    #[test]
    fn rollovers_are_sent_only_when_the_stack_says_true() {
        assert!(!load(&full()).unwrap().rollovers_enabled);
        let mut vars = full();
        vars.insert("ROLLOVERS_ENABLED", "true");
        assert!(load(&vars).unwrap().rollovers_enabled);
        vars.insert("ROLLOVERS_ENABLED", "yes");
        let err = load(&vars).unwrap_err().to_string();
        assert!(
            err.contains("ROLLOVERS_ENABLED") && err.contains("true or false"),
            "{err}"
        );
    }

    #[test]
    fn full_load_settings_default_to_eight_days_and_sunday_and_are_checked() {
        let config = load(&full()).unwrap();
        assert_eq!(config.full_load, FullLoadPolicy::default());
        let mut vars = full();
        vars.extend([
            ("BASELINE_MAX_AGE_DAYS", "3"),
            ("FULL_LOAD_WEEKDAY", "Wednesday"),
        ]);
        let config = load(&vars).unwrap();
        assert_eq!(config.full_load.baseline_max_age_days, 3);
        assert_eq!(config.full_load.weekday, Some(Weekday::Wed));
        vars.insert("FULL_LOAD_WEEKDAY", "None");
        assert_eq!(load(&vars).unwrap().full_load.weekday, None);
        for (name, value) in [
            ("FULL_LOAD_WEEKDAY", "Caturday"),
            ("BASELINE_MAX_AGE_DAYS", "0"),
        ] {
            let mut vars = full();
            vars.insert(name, value);
            assert_eq!(load(&vars).unwrap_err().setting(), name);
        }
    }

    #[test]
    fn brake_and_hold_settings_are_read_and_bounded() {
        let mut vars = full();
        vars.extend([
            ("BRAKE_ROWS_DROP_PERCENT", "50"),
            ("BRAKE_DELETE_PERCENT", "10"),
            ("BRAKE_DELETE_MAX", "2000"),
            ("BRAKE_REJECT_PERCENT", "100"),
            ("HOLD_POLL_SECONDS", "1"),
            ("HOLD_LIMIT_HOURS", "0.001"),
        ]);
        let config = load(&vars).unwrap();
        assert_eq!(config.brake.rows_drop_percent, 50);
        assert_eq!(config.brake.delete_percent, 10);
        assert_eq!(config.brake.delete_max, 2000);
        assert_eq!(config.brake.reject_percent, 100);
        assert_eq!(config.hold.poll_interval, Duration::from_secs(1));
        assert_eq!(config.hold.limit, Duration::from_millis(3600));

        for (name, value) in [
            ("BRAKE_ROWS_DROP_PERCENT", "101"),
            ("BRAKE_DELETE_PERCENT", "0"),
            ("BRAKE_REJECT_PERCENT", "two"),
            ("BRAKE_DELETE_MAX", "-5"),
            ("HOLD_LIMIT_HOURS", "0"),
            ("HOLD_LIMIT_HOURS", "24.5"),
            ("HOLD_LIMIT_HOURS", "NaN"),
        ] {
            let mut vars = full();
            vars.insert(name, value);
            let err = load(&vars).unwrap_err();
            assert_eq!(err.setting(), name, "{name}={value}: {err}");
        }

        // A day's hold polled every 60 s would be 1,440 looks: too many.
        let mut vars = full();
        vars.insert("HOLD_LIMIT_HOURS", "24");
        vars.insert("HOLD_POLL_SECONDS", "60");
        let err = load(&vars).unwrap_err();
        assert_eq!(err.setting(), "HOLD_POLL_SECONDS");
        assert!(err.to_string().contains("bound of 120"), "{err}");
        vars.insert("HOLD_POLL_SECONDS", "120");
        load(&vars).unwrap();
    }

    #[test]
    fn each_missing_required_setting_is_named() {
        for name in ["BUCKET", "ALMA_BASE_URL", "EMAIL_FROM", "EMAIL_TO"] {
            let mut vars = full();
            vars.remove(name);
            let err = load(&vars).unwrap_err();
            assert_eq!(err, ConfigError::Missing { name });
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn a_blank_required_setting_counts_as_missing() {
        let mut vars = full();
        vars.insert("BUCKET", "  ");
        assert_eq!(
            load(&vars).unwrap_err(),
            ConfigError::Missing { name: "BUCKET" }
        );
        vars.insert("BUCKET", "x");
        vars.insert("EMAIL_TO", " , ");
        assert_eq!(
            load(&vars).unwrap_err(),
            ConfigError::Missing { name: "EMAIL_TO" }
        );
    }

    #[test]
    fn each_secret_id_is_optional_and_asking_for_an_unset_one_names_its_setting() {
        let config = load(&full()).unwrap();
        for purpose in SecretPurpose::ALL {
            let err = config.secret_id(purpose).unwrap_err();
            assert_eq!(
                err,
                ConfigError::Missing {
                    name: purpose.setting()
                }
            );
            assert!(err.to_string().contains(purpose.setting()), "{err}");
            assert_eq!(crate::error::ErrorName::error_name(&err), "InvalidConfig");
        }
        let mut vars = full();
        vars.insert("CEM_SFTP_SECRET_ID", "leganto/cem-sftp");
        vars.insert("SLACK_WEBHOOK_SECRET_ID", " ");
        let config = load(&vars).unwrap();
        assert_eq!(
            config.secret_id(SecretPurpose::CemSftp),
            Ok("leganto/cem-sftp")
        );
        assert!(config.secret_id(SecretPurpose::SlackWebhook).is_err());
        assert!(config.secret_id(SecretPurpose::AlmaApiKey).is_err());
    }

    #[test]
    fn optional_settings_are_read_when_set() {
        let mut vars = full();
        vars.extend([
            ("ALMA_RATE", "4"),
            ("ALMA_LOADER_JOB_ID", "S123"),
            ("ALMA_LOADER_PROFILE_ID", "P9"),
            ("TIME_ZONE", "America/Denver"),
            ("RULES_FILE", "/opt/rules.toml"),
            ("AWS_REGION", "us-west-2"),
            ("POLL_INTERVAL_SECONDS", "5"),
            ("WAIT_LIMIT_SECONDS", "60"),
            ("SFTP_TIMEOUT_SECONDS", "7"),
            ("SFTP_MAX_DOWNLOAD_MB", "2"),
            ("SFTP_SETTLE_SECONDS", "1"),
            ("SFTP_SETTLED_AGE_SECONDS", "30"),
            ("SFTP_COMPLETE_WAIT_SECONDS", "4"),
        ]);
        let config = load(&vars).unwrap();
        assert_eq!(config.alma.rate, 4);
        assert_eq!(config.alma.loader_job_id.as_deref(), Some("S123"));
        assert_eq!(config.alma.loader_profile_id.as_deref(), Some("P9"));
        assert_eq!(config.time_zone, chrono_tz::America::Denver);
        assert_eq!(config.rules_file, Some(PathBuf::from("/opt/rules.toml")));
        assert_eq!(config.console_region.as_deref(), Some("us-west-2"));
        assert_eq!(config.wait.poll_interval, Duration::from_secs(5));
        assert_eq!(config.wait.limit, Duration::from_secs(60));
        assert_eq!(config.sftp.timeout, Duration::from_secs(7));
        assert_eq!(config.sftp.max_download_bytes, 2 * 1024 * 1024);
        assert_eq!(config.sftp.settle, Duration::from_secs(1));
        assert_eq!(config.sftp.settled_age, Duration::from_secs(30));
        assert_eq!(config.sftp.complete_wait, Duration::from_secs(4));
        vars.insert("CONSOLE_REGION", "eu-west-1");
        assert_eq!(
            load(&vars).unwrap().console_region.as_deref(),
            Some("eu-west-1")
        );
    }

    #[test]
    fn malformed_settings_are_named_errors() {
        for (name, value) in [
            ("ALMA_RATE", "ten"),
            ("ALMA_RATE", "0"),
            ("TIME_ZONE", "Mars/Olympus"),
            ("POLL_INTERVAL_SECONDS", "-1"),
            ("WAIT_LIMIT_SECONDS", "1.5"),
            ("SFTP_TIMEOUT_SECONDS", "x"),
            ("SFTP_MAX_DOWNLOAD_MB", "0"),
            ("SFTP_SETTLED_AGE_SECONDS", "soon"),
            ("SFTP_COMPLETE_WAIT_SECONDS", "301"),
            ("SFTP_SETTLE_SECONDS", "400"),
            ("ALMA_BASE_URL", "api-na.hosted.exlibrisgroup.com"),
        ] {
            let mut vars = full();
            vars.insert(name, value);
            let err = load(&vars).unwrap_err();
            assert_eq!(err.setting(), name, "{err}");
            assert!(matches!(err, ConfigError::Invalid { .. }), "{err}");
        }
    }

    #[test]
    fn the_wait_for_alma_is_bounded_so_the_execution_history_stays_small() {
        let with = |poll: &'static str, limit: &'static str| {
            let mut vars = full();
            vars.insert("POLL_INTERVAL_SECONDS", poll);
            vars.insert("WAIT_LIMIT_SECONDS", limit);
            load(&vars)
        };
        // The template's extremes: the shortest poll with the longest wait.
        let config = with("60", "21600").unwrap();
        assert_eq!(
            config.wait.limit.as_secs() / config.wait.poll_interval.as_secs(),
            360
        );
        // The local stack's short waits.
        with("2", "120").unwrap();
        with("1", "3").unwrap();

        let err = with("10", "14400").unwrap_err();
        assert_eq!(err.setting(), "POLL_INTERVAL_SECONDS");
        assert!(matches!(err, ConfigError::Invalid { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("bound of 40"), "{text}");
        assert!(text.contains("WAIT_LIMIT_SECONDS 14400"), "{text}");
        assert!(text.contains("360 checks"), "{text}");
        with("40", "14400").unwrap();

        let err = with("600", "86401").unwrap_err();
        assert_eq!(err.setting(), "WAIT_LIMIT_SECONDS");
        assert!(err.to_string().contains("bound of 86400"), "{err}");
        with("600", "86400").unwrap();
    }

    #[test]
    fn console_link_takes_the_region_from_the_execution_arn() {
        let arn = "arn:aws:states:us-west-2:123456789012:execution:leganto-daily:2026-11-28";
        assert_eq!(
            execution_console_url(Some("eu-west-1"), arn).unwrap(),
            format!(
                "https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2#/v2/executions/details/{arn}"
            )
        );
        assert_eq!(
            execution_console_url(Some("eu-west-1"), "local-run").unwrap(),
            "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/local-run"
        );
        assert_eq!(execution_console_url(None, "local-run"), None);
    }
}
