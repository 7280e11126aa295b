//! The steps' failures: one variant per adapter, holding that adapter's typed error, and the
//! few that belong to the steps themselves. The stable name the state machine's
//! `Retry`/`Catch` match (infra/CONTRACT.md) is each error's [`ErrorName`]; the Lambda
//! runtime reports it as `errorType`.

use crate::alma::AlmaError;
use crate::config::ConfigError;
use crate::domain::RunError;
use crate::email::EmailError;
use crate::error::{BoxError, ErrorName};
use crate::pipeline::PipelineError;
use crate::run::lease::LeaseError;
use crate::run::limits;
use crate::run::receipt::PushReceipt;
use crate::secrets::SecretsError;
use crate::sftp::SftpError;
use crate::store::StoreError;
use chrono::NaiveDate;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A setting is missing or malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// S3: a missing or unreadable artefact, or the bucket out of reach.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sftp(#[from] SftpError),
    #[error(transparent)]
    Alma(#[from] AlmaError),
    #[error(transparent)]
    Email(#[from] EmailError),

    /// The step's input (or the CEM export) cannot be used; retrying will not help.
    #[error("{message}")]
    InvalidInput {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// No `leganto_export_YYYYMMDD*` on the CEM server (`waited`: until when a scheduled
    /// run looked for it, or empty).
    #[error(
        "no export file {pattern}* in {directory} on the CEM SFTP server ({files_seen} other \
         files there{waited}); check that CEM produced today's export"
    )]
    SourceFileMissing {
        pattern: String,
        directory: String,
        files_seen: usize,
        waited: String,
    },
    /// The day's export kept changing while Pull waited for it to be whole.
    #[error(
        "{file} on the CEM SFTP server was still changing after {waited_seconds} s ({size} \
         bytes at the last listing), so it was not pulled: it may be half written. Check that \
         CEM's export job finished, then rerun the day from pull (leganto rerun --run-date \
         {run_date} --from pull)"
    )]
    SourceFileIncomplete {
        run_date: String,
        file: String,
        size: u64,
        waited_seconds: u64,
    },
    /// The day already has a push receipt: a different file, or a rerun that would rewrite
    /// the day (`what` says which).
    #[error(
        "{run_date} was already loaded: {pushed_file} was pushed at {pushed_at} by execution \
         {pushed_by}; {what}. If the day really must be loaded again, rerun with --force \
         (leganto rerun --run-date {run_date} --from push --force)"
    )]
    AlreadyPushed {
        run_date: String,
        pushed_file: String,
        pushed_at: String,
        pushed_by: String,
        what: String,
    },
    /// A live push of a day older than the newest day loaded: Alma would take it after.
    #[error(
        "{run_date} is older than {later_day}, which is already loaded ({later_file}); \
         nothing was pushed. Loaded now, {run_date}'s courses would go over {later_day}'s: \
         instructors and sections changed since would revert and its DELETE rows would \
         remove courses approved again since, until the next full load. If that is really \
         wanted, rerun with --force (leganto rerun --run-date {run_date} --from pull --force)"
    )]
    OutOfOrder {
        run_date: String,
        later_day: String,
        later_file: String,
    },
    /// Another execution holds the day's lease.
    #[error(
        "execution {holder} is already running {run_date} (since {since}); this one stopped \
         without doing anything. Wait for it to end (or stop it in the Step Functions \
         console), then rerun if needed"
    )]
    RunInProgress {
        run_date: String,
        holder: String,
        since: String,
    },
    /// A person rejected a held day: nothing was pushed.
    #[error(
        "{run_date} was held and rejected by {by}: {reason}; nothing was pushed to Alma. To \
         load it after all, approve it (leganto approve --run-date {run_date}) and rerun it \
         from push (leganto rerun --run-date {run_date} --from push)"
    )]
    HeldRejected {
        run_date: String,
        by: String,
        reason: String,
    },
    /// Nobody decided on a held day in time: nothing was pushed.
    #[error(
        "{run_date} was held since {held_since} and nobody decided within {limit_hours} \
         hours; nothing was pushed to Alma. Look at the day; to load it, approve it \
         (leganto approve --run-date {run_date}) and rerun it from push \
         (leganto rerun --run-date {run_date} --from push)"
    )]
    HeldExpired {
        run_date: String,
        held_since: String,
        /// `20`, `0.5`.
        limit_hours: String,
    },
    /// Writing a result (in memory) failed.
    #[error("cannot write the output: {0}")]
    OutputFailed(#[source] std::io::Error),
}

impl ErrorName for StepError {
    fn error_name(&self) -> &'static str {
        match self {
            StepError::Config(e) => e.error_name(),
            StepError::Secrets(e) => e.error_name(),
            StepError::Store(e) => e.error_name(),
            StepError::Sftp(e) => e.error_name(),
            StepError::Alma(e) => e.error_name(),
            StepError::Email(e) => e.error_name(),
            StepError::InvalidInput { .. } => "InvalidInput",
            StepError::SourceFileMissing { .. } => "SourceFileMissing",
            StepError::SourceFileIncomplete { .. } => "SourceFileIncomplete",
            StepError::AlreadyPushed { .. } => "AlreadyPushed",
            StepError::OutOfOrder { .. } => "OutOfOrder",
            StepError::RunInProgress { .. } => "RunInProgress",
            StepError::HeldRejected { .. } => "HeldRejected",
            StepError::HeldExpired { .. } => "HeldExpired",
            StepError::OutputFailed(_) => "OutputFailed",
        }
    }
}

impl StepError {
    /// The day's receipt says it was loaded already; `what` says what this run would have done.
    pub fn already_pushed(receipt: &PushReceipt, what: impl Into<String>) -> StepError {
        StepError::AlreadyPushed {
            run_date: receipt.run_date.to_string(),
            pushed_file: receipt.file_name.clone(),
            pushed_at: receipt.pushed_at.to_rfc3339(),
            pushed_by: if receipt.execution_name.is_empty() {
                "(unknown)".to_string()
            } else {
                receipt.execution_name.clone()
            },
            what: what.into(),
        }
    }

    /// A live push of `run_date` while `newest`, a later day, is loaded.
    pub fn out_of_order(run_date: NaiveDate, newest: &PushReceipt) -> StepError {
        StepError::OutOfOrder {
            run_date: run_date.to_string(),
            later_day: newest.run_date.to_string(),
            later_file: newest.file_name.clone(),
        }
    }

    pub fn invalid_input(message: impl Into<String>) -> StepError {
        StepError::InvalidInput {
            message: message.into(),
            source: None,
        }
    }

    /// The message with its causes, each once: what `errorMessage` carries and Slack shows.
    pub fn message(&self) -> String {
        crate::error::error_chain(self)
    }
}

impl From<PipelineError> for StepError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Alma(e) => StepError::Alma(e),
            PipelineError::Run(RunError::Input(e)) => StepError::InvalidInput {
                message: format!("the CEM export cannot be used: {e}"),
                source: Some(Box::new(e)),
            },
            PipelineError::Run(RunError::Output(e)) => StepError::OutputFailed(e),
            // A step that sets a stop time turns this into `"more": true` (steps::resume);
            // anywhere else it is Alma not answering in time.
            PipelineError::Stopped => StepError::Alma(crate::steps::resume::no_answer_in_time()),
        }
    }
}

impl From<LeaseError> for StepError {
    fn from(e: LeaseError) -> Self {
        match e {
            LeaseError::RunInProgress {
                run_date,
                holder,
                since,
            } => StepError::RunInProgress {
                run_date,
                holder,
                since,
            },
            LeaseError::Store(e) => StepError::Store(e),
        }
    }
}

/// What the Lambda runtime sends back: `{"errorType": "<stable name>", "errorMessage": ...}`.
/// A `Catch` puts it into the state as `$.error.Cause`, so the message is clipped to
/// [`limits::MESSAGE_BYTES`]; the step's log has it whole.
impl From<StepError> for lambda_runtime::Diagnostic {
    fn from(e: StepError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_name().into(),
            error_message: limits::clip(&e.message(), limits::MESSAGE_BYTES),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_artefact_keeps_its_stable_name_and_key() {
        let err: StepError = StoreError::NotFound {
            bucket: "b".into(),
            key: "reports/2026/11/28/run-summary.json".into(),
        }
        .into();
        assert_eq!(err.error_name(), "ArtefactMissing");
        let diagnostic = lambda_runtime::Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "ArtefactMissing");
        assert!(diagnostic
            .error_message
            .contains("reports/2026/11/28/run-summary.json"));
    }

    #[test]
    fn error_names_follow_the_adapters_names() {
        let alma = AlmaError::QuotaExhausted { detail: "d".into() };
        let name = alma.error_name();
        assert_eq!(StepError::from(alma).error_name(), name);
        let sftp = SftpError::Conflict {
            path: "/x".into(),
            existing_size: 1,
            new_size: 2,
        };
        let name = sftp.error_name();
        assert_eq!(StepError::from(sftp).error_name(), name);
        let secret = SecretsError::MissingField {
            secret_id: "leganto/x".into(),
            field: "x".into(),
        };
        assert_eq!(StepError::from(secret).error_name(), "SecretInvalid");
    }

    #[test]
    fn a_huge_message_is_clipped_on_its_way_to_the_state() {
        let err = StepError::invalid_input(format!("bad: {}", "\"".repeat(1_000_000)));
        let diagnostic = lambda_runtime::Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "InvalidInput");
        assert!(diagnostic.error_message.starts_with("bad: "));
        let json = serde_json::to_string(&diagnostic.error_message).unwrap();
        assert!(json.len() <= limits::MESSAGE_BYTES + 2, "{}", json.len());
    }

    #[test]
    fn the_unavailable_peers_and_a_cut_transfer_are_transient_and_nothing_else() {
        let source = || -> BoxError { Box::new(std::io::Error::other("down")) };
        let transient: Vec<StepError> = vec![
            StoreError::Unavailable {
                operation: "get",
                bucket: "b".into(),
                key: "k".into(),
                source: source(),
            }
            .into(),
            SecretsError::Unavailable {
                secret_id: "s".into(),
                source: source(),
            }
            .into(),
            SftpError::Unavailable {
                host: "h".into(),
                port: 22,
                operation: "connect",
                source: source(),
            }
            .into(),
            SftpError::SizeMismatch {
                path: "/x".into(),
                expected: 2,
                actual: 1,
            }
            .into(),
        ];
        for e in &transient {
            assert!(e.is_transient(), "{}", e.error_name());
        }
        let permanent: Vec<StepError> = vec![
            StoreError::NotFound {
                bucket: "b".into(),
                key: "k".into(),
            }
            .into(),
            SecretsError::MissingField {
                secret_id: "s".into(),
                field: "x".into(),
            }
            .into(),
            SftpError::Conflict {
                path: "/x".into(),
                existing_size: 1,
                new_size: 2,
            }
            .into(),
            AlmaError::QuotaExhausted { detail: "d".into() }.into(),
            StepError::invalid_input("x"),
        ];
        for e in &permanent {
            assert!(!e.is_transient(), "{}", e.error_name());
        }
    }

    #[test]
    fn the_message_lists_each_cause_once() {
        let err = StepError::InvalidInput {
            message: "outer".into(),
            source: Some(Box::new(std::io::Error::other("inner"))),
        };
        assert_eq!(err.message(), "outer: inner");
        let err = StepError::InvalidInput {
            message: "outer: inner".into(),
            source: Some(Box::new(std::io::Error::other("inner"))),
        };
        assert_eq!(err.message(), "outer: inner");
    }
}
