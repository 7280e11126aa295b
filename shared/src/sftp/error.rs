//! SFTP errors with stable names for the state machine's `Retry`/`Catch`.
//!
//! No variant carries a password, key or passphrase: only host, port, user, paths, the
//! fingerprints and the underlying library's message.

use std::io;

/// Library errors are boxed so one variant can hold an I/O error or an ssh2 error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    #[error(
        "host key of {host}:{port} does not match the pinned fingerprint: expected {expected}, \
         server presented {actual} ({key_type})"
    )]
    HostKeyMismatch {
        host: String,
        port: u16,
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
        source: ssh2::Error,
    },

    #[error("no such file on the SFTP server: {path}")]
    NotFound {
        path: String,
        #[source]
        source: ssh2::Error,
    },

    #[error("permission denied on the SFTP server during {operation} of {path}: {source}")]
    PermissionDenied {
        operation: &'static str,
        path: String,
        #[source]
        source: ssh2::Error,
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

    #[error("invalid remote file name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },

    #[error("invalid SFTP login: {reason}")]
    LoginInvalid { reason: String },

    #[error("SFTP {operation} of {path} failed: {source}")]
    Remote {
        operation: &'static str,
        path: String,
        #[source]
        source: ssh2::Error,
    },

    #[error("SFTP task did not finish: {source}")]
    Task {
        #[source]
        source: tokio::task::JoinError,
    },
}

impl SftpError {
    /// Stable name used as the Lambda error type (matched by `Retry`/`Catch`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            SftpError::HostKeyMismatch { .. } => "HostKeyMismatch",
            SftpError::Unavailable { .. } => "SftpUnavailable",
            SftpError::AuthenticationFailed { .. } => "SftpAuthFailed",
            SftpError::NotFound { .. } => "SftpNotFound",
            SftpError::PermissionDenied { .. } => "SftpPermissionDenied",
            SftpError::Conflict { .. } => "SftpConflict",
            SftpError::SizeMismatch { .. } => "SftpSizeMismatch",
            SftpError::InvalidName { .. } => "InvalidInput",
            SftpError::LoginInvalid { .. } => "SftpLoginInvalid",
            SftpError::Remote { .. } => "SftpFailed",
            SftpError::Task { .. } => "SftpFailed",
        }
    }

    /// Worth retrying: the network, the server or a transfer that may go through next time.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SftpError::Unavailable { .. } | SftpError::SizeMismatch { .. }
        )
    }
}

// libssh2's session error codes (LIBSSH2_ERROR_*), as `ssh2::ErrorCode::Session` carries them.
pub(crate) const LIBSSH2_ERROR_PASSWORD_EXPIRED: i32 = -15;
pub(crate) const LIBSSH2_ERROR_FILE: i32 = -16;
pub(crate) const LIBSSH2_ERROR_AUTHENTICATION_FAILED: i32 = -18;
pub(crate) const LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED: i32 = -19;
pub(crate) const LIBSSH2_ERROR_KEYFILE_AUTH_FAILED: i32 = -48;

// SFTP status codes (SSH_FX_*), as `ssh2::ErrorCode::SFTP` carries them.
pub(crate) const SSH_FX_NO_SUCH_FILE: i32 = 2;
pub(crate) const SSH_FX_PERMISSION_DENIED: i32 = 3;
pub(crate) const SSH_FX_NO_SUCH_PATH: i32 = 10;

/// Where a failing call sits, so one ssh2 error maps to the right variant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site<'a> {
    pub host: &'a str,
    pub port: u16,
}

impl Site<'_> {
    pub fn unavailable(&self, operation: &'static str, source: impl Into<BoxError>) -> SftpError {
        SftpError::Unavailable {
            host: self.host.to_string(),
            port: self.port,
            operation,
            source: source.into(),
        }
    }

    /// Maps an error from an SFTP request on an established session: SFTP status codes say
    /// what the server refused; session codes mean the transport broke or timed out.
    pub fn sftp_error(&self, operation: &'static str, path: &str, err: ssh2::Error) -> SftpError {
        match err.code() {
            ssh2::ErrorCode::SFTP(SSH_FX_NO_SUCH_FILE | SSH_FX_NO_SUCH_PATH) => {
                SftpError::NotFound {
                    path: path.to_string(),
                    source: err,
                }
            }
            ssh2::ErrorCode::SFTP(SSH_FX_PERMISSION_DENIED) => SftpError::PermissionDenied {
                operation,
                path: path.to_string(),
                source: err,
            },
            ssh2::ErrorCode::SFTP(_) => SftpError::Remote {
                operation,
                path: path.to_string(),
                source: err,
            },
            ssh2::ErrorCode::Session(_) => self.unavailable(operation, err),
        }
    }

    /// Maps an `io::Error` from reading or writing a remote file. ssh2 keeps only the
    /// message (no status code) in these, so they count as a broken transfer.
    pub fn io_error(&self, operation: &'static str, err: io::Error) -> SftpError {
        self.unavailable(operation, err)
    }
}

/// True for libssh2 codes that mean "the server said no to these credentials".
pub(crate) fn is_auth_refusal(err: &ssh2::Error) -> bool {
    matches!(
        err.code(),
        ssh2::ErrorCode::Session(
            LIBSSH2_ERROR_AUTHENTICATION_FAILED
                | LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED
                | LIBSSH2_ERROR_PASSWORD_EXPIRED
        )
    )
}

/// True for libssh2 codes that mean the private key text itself could not be used.
pub(crate) fn is_unusable_key(err: &ssh2::Error) -> bool {
    matches!(
        err.code(),
        ssh2::ErrorCode::Session(LIBSSH2_ERROR_FILE | LIBSSH2_ERROR_KEYFILE_AUTH_FAILED)
    )
}
