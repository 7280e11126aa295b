//! The steps' failures. Each variant is named after the stable error name the state
//! machine's `Retry`/`Catch` match (infra/CONTRACT.md); [`StepError::error_type`] returns it
//! and the Lambda runtime reports it as `errorType`.

use crate::alma::AlmaError;
use crate::config::ConfigError;
use crate::email::EmailError;
use crate::pipeline::PipelineError;
use crate::secrets::SecretsError;
use crate::sftp::SftpError;
use crate::store::StoreError;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A setting is missing or malformed.
    #[error(transparent)]
    InvalidConfig(ConfigError),
    /// The step's input (or the CEM export) cannot be used; retrying will not help.
    #[error("{message}")]
    InvalidInput {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    #[error("{0}")]
    UnknownFunction(String),

    #[error(transparent)]
    SecretsUnavailable(SecretsError),
    #[error(transparent)]
    SecretInvalid(SecretsError),

    /// A later stage looked for what an earlier one leaves in S3 and found nothing.
    #[error(transparent)]
    ArtefactMissing(StoreError),
    #[error(transparent)]
    ArtefactInvalid(StoreError),
    #[error(transparent)]
    StoreUnavailable(StoreError),

    /// No `leganto_export_YYYYMMDD*` on the CEM server.
    #[error(
        "no export file {pattern}* in {directory} on the CEM SFTP server ({files_seen} other \
         files there); check that CEM produced today's export"
    )]
    SourceFileMissing {
        pattern: String,
        directory: String,
        files_seen: usize,
    },
    #[error(transparent)]
    SftpUnavailable(SftpError),
    #[error(transparent)]
    HostKeyMismatch(SftpError),
    #[error(transparent)]
    SftpAuthFailed(SftpError),
    #[error(transparent)]
    SftpNotFound(SftpError),
    #[error(transparent)]
    SftpPermissionDenied(SftpError),
    /// A different file of the same name is already on the server; never overwritten.
    #[error(transparent)]
    SftpConflict(SftpError),
    #[error(transparent)]
    SftpSizeMismatch(SftpError),
    #[error(transparent)]
    SftpLoginInvalid(SftpError),
    #[error(transparent)]
    SftpFailed(SftpError),

    #[error(transparent)]
    AlmaUnavailable(AlmaError),
    #[error(transparent)]
    AlmaQuotaExhausted(AlmaError),
    #[error(transparent)]
    AlmaUnauthorized(AlmaError),
    #[error(transparent)]
    AlmaApiError(AlmaError),
    #[error(transparent)]
    AlmaInvalidResponse(AlmaError),
    #[error(transparent)]
    AlmaInvalidConfig(AlmaError),

    /// Writing a result (in memory) failed.
    #[error("cannot write the output: {0}")]
    OutputFailed(#[source] std::io::Error),
    #[error(transparent)]
    EmailFailed(EmailError),
}

impl StepError {
    /// The stable name (`SourceFileMissing`, `SftpUnavailable`, ...): the Lambda error type.
    pub fn error_type(&self) -> &'static str {
        match self {
            StepError::InvalidConfig(_) => "InvalidConfig",
            StepError::InvalidInput { .. } => "InvalidInput",
            StepError::UnknownFunction(_) => "UnknownFunction",
            StepError::SecretsUnavailable(_) => "SecretsUnavailable",
            StepError::SecretInvalid(_) => "SecretInvalid",
            StepError::ArtefactMissing(_) => "ArtefactMissing",
            StepError::ArtefactInvalid(_) => "ArtefactInvalid",
            StepError::StoreUnavailable(_) => "StoreUnavailable",
            StepError::SourceFileMissing { .. } => "SourceFileMissing",
            StepError::SftpUnavailable(_) => "SftpUnavailable",
            StepError::HostKeyMismatch(_) => "HostKeyMismatch",
            StepError::SftpAuthFailed(_) => "SftpAuthFailed",
            StepError::SftpNotFound(_) => "SftpNotFound",
            StepError::SftpPermissionDenied(_) => "SftpPermissionDenied",
            StepError::SftpConflict(_) => "SftpConflict",
            StepError::SftpSizeMismatch(_) => "SftpSizeMismatch",
            StepError::SftpLoginInvalid(_) => "SftpLoginInvalid",
            StepError::SftpFailed(_) => "SftpFailed",
            StepError::AlmaUnavailable(_) => "AlmaUnavailable",
            StepError::AlmaQuotaExhausted(_) => "AlmaQuotaExhausted",
            StepError::AlmaUnauthorized(_) => "AlmaUnauthorized",
            StepError::AlmaApiError(_) => "AlmaApiError",
            StepError::AlmaInvalidResponse(_) => "AlmaInvalidResponse",
            StepError::AlmaInvalidConfig(_) => "AlmaInvalidConfig",
            StepError::OutputFailed(_) => "OutputFailed",
            StepError::EmailFailed(_) => "EmailFailed",
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
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            // Several adapters already print their source in their own message.
            if !cause_text.is_empty() && !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        text
    }
}

impl From<ConfigError> for StepError {
    fn from(e: ConfigError) -> Self {
        StepError::InvalidConfig(e)
    }
}

impl From<SecretsError> for StepError {
    fn from(e: SecretsError) -> Self {
        match e {
            SecretsError::Unavailable { .. } => StepError::SecretsUnavailable(e),
            _ => StepError::SecretInvalid(e),
        }
    }
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => StepError::ArtefactMissing(e),
            StoreError::BadJson { .. } => StepError::ArtefactInvalid(e),
            StoreError::Unavailable { .. } => StepError::StoreUnavailable(e),
        }
    }
}

impl From<SftpError> for StepError {
    fn from(e: SftpError) -> Self {
        match e {
            SftpError::HostKeyMismatch { .. } => StepError::HostKeyMismatch(e),
            SftpError::Unavailable { .. } => StepError::SftpUnavailable(e),
            SftpError::AuthenticationFailed { .. } => StepError::SftpAuthFailed(e),
            SftpError::NotFound { .. } => StepError::SftpNotFound(e),
            SftpError::PermissionDenied { .. } => StepError::SftpPermissionDenied(e),
            SftpError::Conflict { .. } => StepError::SftpConflict(e),
            SftpError::SizeMismatch { .. } => StepError::SftpSizeMismatch(e),
            SftpError::LoginInvalid { .. } => StepError::SftpLoginInvalid(e),
            SftpError::InvalidName { .. } => StepError::InvalidInput {
                message: e.to_string(),
                source: Some(Box::new(e)),
            },
            SftpError::Remote { .. } | SftpError::Task { .. } => StepError::SftpFailed(e),
        }
    }
}

impl From<AlmaError> for StepError {
    fn from(e: AlmaError) -> Self {
        match e {
            AlmaError::Unavailable { .. } => StepError::AlmaUnavailable(e),
            AlmaError::QuotaExhausted { .. } => StepError::AlmaQuotaExhausted(e),
            AlmaError::Unauthorized { .. } => StepError::AlmaUnauthorized(e),
            AlmaError::Api { .. } => StepError::AlmaApiError(e),
            AlmaError::InvalidResponse { .. } => StepError::AlmaInvalidResponse(e),
            AlmaError::InvalidConfig { .. } => StepError::AlmaInvalidConfig(e),
        }
    }
}

impl From<PipelineError> for StepError {
    fn from(e: PipelineError) -> Self {
        use crate::domain::RunError;
        match e {
            PipelineError::Alma(e) => e.into(),
            PipelineError::Run(RunError::Input(e)) => StepError::InvalidInput {
                message: format!("the CEM export cannot be used: {e}"),
                source: Some(Box::new(e)),
            },
            PipelineError::Run(RunError::Output(e)) => StepError::OutputFailed(e),
        }
    }
}

impl From<EmailError> for StepError {
    fn from(e: EmailError) -> Self {
        StepError::EmailFailed(e)
    }
}

/// What the Lambda runtime sends back: `{"errorType": "<stable name>", "errorMessage": ...}`.
impl From<StepError> for lambda_runtime::Diagnostic {
    fn from(e: StepError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().into(),
            error_message: e.message(),
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
        assert_eq!(err.error_type(), "ArtefactMissing");
        let diagnostic = lambda_runtime::Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "ArtefactMissing");
        assert!(diagnostic
            .error_message
            .contains("reports/2026/11/28/run-summary.json"));
    }

    #[test]
    fn error_names_follow_the_adapters_names() {
        let alma = AlmaError::QuotaExhausted { detail: "d".into() };
        let name = crate::error::ErrorName::error_name(&alma);
        assert_eq!(StepError::from(alma).error_type(), name);
        let sftp = SftpError::Conflict {
            path: "/x".into(),
            existing_size: 1,
            new_size: 2,
        };
        let name = sftp.kind_name();
        assert_eq!(StepError::from(sftp).error_type(), name);
        let secret = SecretsError::MissingField { field: "x".into() };
        assert_eq!(StepError::from(secret).error_type(), "SecretInvalid");
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
