//! SFTP errors with stable names for the state machine's `Retry`/`Catch`.
//!
//! No variant carries a password, key or passphrase: only host, port, user, paths, the
//! fingerprints and the underlying library's message.

use crate::error::{BoxError, ErrorName};

#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    #[error(
        "host key of {host}:{port} matches no pinned fingerprint: pinned {expected}, server \
         presented {actual} ({key_type}); nothing was sent to it. If the server's key was \
         rotated, add the new fingerprint to host_key_sha256 in the login secret"
    )]
    HostKeyMismatch {
        host: String,
        port: u16,
        /// Every pinned fingerprint, comma-separated.
        expected: String,
        actual: String,
        key_type: String,
    },

    #[error("SFTP server {host}:{port} unavailable during {operation}: {source}")]
    Unavailable {
        host: String,
        port: u16,
        operation: &'static str,
        #[source]
        source: BoxError,
    },

    #[error("SFTP login as {user} at {host}:{port} by {method} was refused: {source}")]
    AuthenticationFailed {
        host: String,
        port: u16,
        user: String,
        method: &'static str,
        #[source]
        source: BoxError,
    },

    #[error("no such file on the SFTP server: {path}")]
    NotFound {
        path: String,
        #[source]
        source: BoxError,
    },

    #[error("permission denied on the SFTP server during {operation} of {path}: {source}")]
    PermissionDenied {
        operation: &'static str,
        path: String,
        #[source]
        source: BoxError,
    },

    #[error(
        "{path} already exists on the SFTP server with different content \
         ({existing_size} bytes there, {new_size} bytes to upload); not overwritten"
    )]
    Conflict {
        path: String,
        existing_size: u64,
        new_size: u64,
    },

    #[error("{path} on the SFTP server has {actual} bytes, expected {expected}")]
    SizeMismatch {
        path: String,
        expected: u64,
        actual: u64,
    },

    #[error(
        "{path} on the SFTP server has {size} bytes or more, over the download limit of \
         {limit} bytes (the stack's ExportMaxMegabytes, SFTP_MAX_DOWNLOAD_MB); nothing was \
         stored. Check that it is the right file; if it is, raise ExportMaxMegabytes"
    )]
    TooLarge {
        path: String,
        /// Its size as listed, or what arrived before the read was cut off.
        size: u64,
        limit: u64,
    },

    #[error("invalid remote file name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },

    #[error("invalid SFTP login: {reason}")]
    LoginInvalid { reason: String },

    #[error("SFTP {operation} of {path} failed: {source}")]
    Remote {
        operation: &'static str,
        path: String,
        #[source]
        source: BoxError,
    },

    #[error("the copy of {path} stopped because its other end (S3) failed; see that error")]
    Abandoned { path: String },

    #[error("SFTP task did not finish: {source}")]
    Task {
        #[source]
        source: tokio::task::JoinError,
    },
}

/// Which of these names are transient is said once, in
/// [`TRANSIENT_ERRORS`](crate::error::TRANSIENT_ERRORS): `SftpUnavailable` and
/// `SftpSizeMismatch` ([`ErrorName::is_transient`]).
impl ErrorName for SftpError {
    fn error_name(&self) -> &'static str {
        match self {
            SftpError::HostKeyMismatch { .. } => "HostKeyMismatch",
            SftpError::Unavailable { .. } => "SftpUnavailable",
            SftpError::AuthenticationFailed { .. } => "SftpAuthFailed",
            SftpError::NotFound { .. } => "SftpNotFound",
            SftpError::PermissionDenied { .. } => "SftpPermissionDenied",
            SftpError::Conflict { .. } => "SftpConflict",
            SftpError::SizeMismatch { .. } => "SftpSizeMismatch",
            SftpError::TooLarge { .. } => "SftpFileTooLarge",
            SftpError::InvalidName { .. } => "InvalidInput",
            SftpError::LoginInvalid { .. } => "SftpLoginInvalid",
            SftpError::Remote { .. } => "SftpFailed",
            SftpError::Task { .. } => "SftpFailed",
            SftpError::Abandoned { .. } => "SftpFailed",
        }
    }
}
