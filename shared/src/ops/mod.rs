//! Operating the deployed run: start a rerun, read a day's status, decide on a held day,
//! clean out empty courses, check and push the institution rules, ask for a full load, turn
//! the daily schedule on and off.
//!
//! Plain functions over the S3 [`Store`](crate::store::Store), a Step Functions client and
//! the [`AlmaClient`](crate::alma::AlmaClient); the `leganto` command only parses arguments
//! and prints. Nothing here reads the environment.

pub mod account;
pub mod delete_empty;
pub mod full_load;
pub mod hold;
pub mod preflight;
pub mod rerun;
pub mod rollovers;
pub mod rules;
pub mod schedule;
pub mod status;

use crate::error::error_chain;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};

use crate::alma::AlmaError;
use crate::domain::RulesError;
use crate::error::BoxError;
use crate::store::StoreError;

/// What can stop an operating command.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(
        "cannot rerun {run_date} from {stage}: s3://{bucket}/{missing} is missing ({what}); \
         rerun from an earlier stage"
    )]
    ArtefactMissing {
        run_date: String,
        stage: &'static str,
        bucket: String,
        what: &'static str,
        missing: String,
    },
    #[error(
        "cannot rerun {run_date}: execution {holder} is running it (since {since}); wait for \
         it to end (leganto status --run-date {run_date}), or stop it in the Step Functions \
         console, then rerun"
    )]
    RunInProgress {
        run_date: String,
        holder: String,
        since: String,
    },
    /// `approve`/`reject` refused: the day is not held, was pushed, or the reason is missing.
    #[error("cannot decide on {run_date}: {why}")]
    DecisionRefused { run_date: String, why: String },
    /// A rollover approval or revocation that cannot be made, with what to do.
    #[error("{0}")]
    RolloverRefused(String),
    #[error("reading the run's bucket failed")]
    Store(#[from] StoreError),
    #[error("Step Functions {operation} failed: {detail}")]
    StepFunctions {
        operation: &'static str,
        /// AWS's error code and message, or the transport failure.
        detail: String,
        #[source]
        source: BoxError,
    },
    /// Another AWS service (EventBridge Scheduler, CloudWatch) refused or could not be reached.
    #[error("{call} failed: {detail}")]
    Aws {
        /// The service, operation and resource.
        call: String,
        /// AWS's error code and message, or the transport failure.
        detail: String,
        #[source]
        source: BoxError,
    },
    #[error(transparent)]
    Alma(#[from] AlmaError),
    /// A rules file (or the object in force) that is not valid rules: nothing was pushed.
    #[error(transparent)]
    RulesInvalid(RulesError),
    /// Another push came between reading the rules in force and writing the new ones.
    #[error(
        "s3://{bucket}/config/rules.toml changed while pushing (someone else pushed): nothing \
         was written; see leganto rules show, then push again"
    )]
    RulesChanged { bucket: String },
    /// The full load request was replaced each time a cancel read it.
    #[error(
        "s3://{bucket}/state/full-load-request.json changed while cancelling (someone else \
         asked again): see leganto full-load show, then cancel again"
    )]
    FullLoadChanged { bucket: String },
}

impl OpsError {
    pub(crate) fn sfn<E, R>(operation: &'static str, source: SdkError<E, R>) -> OpsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        OpsError::StepFunctions {
            operation,
            detail: sdk_detail(&source),
            source: source.into(),
        }
    }

    /// Step Functions refused a start because an execution of that name exists.
    pub fn is_execution_already_exists(&self) -> bool {
        matches!(self, OpsError::StepFunctions { detail, .. }
            if detail.starts_with("ExecutionAlreadyExists"))
    }
}

/// `Code: message` as AWS sent them, else the failure and its causes (e.g. a refused
/// connection), without the SDK's debug dump.
pub fn sdk_detail<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => error_chain(e),
    }
}
