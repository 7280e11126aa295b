//! SFTP adapter: list, download and atomic upload in one remote directory.
//!
//! Takes an [`SftpLogin`] (from its secret) and a timeout; touches one SFTP server over
//! SSH with the `ssh2` crate (libssh2, vendored OpenSSL). Every call opens its own
//! connection inside one `spawn_blocking`, so the async runtime never blocks.
//!
//! Per connection, in this order: name resolution and TCP connect (together bounded by the
//! timeout), SSH handshake, the server's host key checked against the pinned SHA-256
//! fingerprints (none matching is [`SftpError::HostKeyMismatch`] before any credential is
//! sent), login, then the operation. The same timeout bounds every libssh2 call after
//! connect. A download larger than the client's limit is [`SftpError::TooLarge`], checked
//! from the file's size before reading and enforced while reading.
//!
//! # Login JSON (the whole of each SFTP login secret, one per server)
//!
//! ```json
//! {"host": "sftp.example.edu", "port": 22, "user": "cem",
//!  "password": "…",
//!  "host_key_sha256": "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
//!  "directory": "/outgoing"}
//! ```
//! or, for key login, `"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\n…"` (OpenSSH or
//! PEM text, not a path) with an optional `"passphrase"` instead of `"password"`. `port`
//! defaults to 22; `directory` is absolute. `host_key_sha256` is the fingerprint as
//! `ssh-keygen -l -E sha256` prints it, of the host key type libssh2 negotiates (a mismatch
//! error names the type the server presented; `ssh-keyscan -p PORT HOST | ssh-keygen -lf -`
//! lists them all), or a list of such fingerprints, any of which passes:
//! `"host_key_sha256": ["SHA256:<current key>", "SHA256:<the key it is rotated to>"]`.
//!
//! # Atomic upload
//!
//! [`SftpClient::upload_atomic`] never leaves a partial file under the final name and never
//! overwrites: identical content already there → [`UploadOutcome::AlreadyPresent`]; different
//! content → [`SftpError::Conflict`]; otherwise the bytes go to `.NAME.part` (hidden, so
//! loaders ignore it), its size is checked, and it is renamed to `NAME`.

mod error;
mod login;

#[cfg(feature = "sftp")]
mod client;

use chrono::{DateTime, Utc};

#[cfg(feature = "sftp")]
pub use client::SftpClient;
pub use error::SftpError;
pub use login::{fingerprint_of_public_key, format_fingerprint, SftpAuth, SftpLogin};

/// Largest file [`SftpClient::download`] reads unless told otherwise
/// (`SftpClient::with_max_download`; the functions take `SFTP_MAX_DOWNLOAD_MB`): far above a
/// day's export (the sample day is half a megabyte), far below the functions' memory.
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 64 * 1024 * 1024;

/// One regular file in the login's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub name: String,
    pub size: u64,
    /// Modification time as the server reports it (second precision).
    pub mtime: Option<DateTime<Utc>>,
}

/// What [`SftpClient::upload_atomic`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOutcome {
    /// The file is now there under its final name.
    Uploaded,
    /// A file with that name and identical content was already there; nothing written.
    AlreadyPresent,
}

/// A remote file name inside the login's directory: no path separators, not `.`/`..`.
#[cfg_attr(not(feature = "sftp"), allow(dead_code))]
pub(crate) fn checked_name(name: &str) -> Result<&str, SftpError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.contains('/') {
        "contains `/`"
    } else if name.contains('\0') {
        "contains NUL"
    } else if name == "." || name == ".." {
        "is a directory reference"
    } else {
        return Ok(name);
    };
    Err(SftpError::InvalidName {
        name: name.to_string(),
        reason,
    })
}

/// The temporary name an upload is written under before its rename.
pub fn temporary_name(name: &str) -> String {
    format!(".{name}.part")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName as _;

    #[test]
    fn names_with_separators_or_dots_are_refused() {
        for bad in ["", "a/b", "/etc/passwd", ".", "..", "a\0b"] {
            let err = checked_name(bad).unwrap_err();
            assert_eq!(err.error_name(), "InvalidInput", "{bad:?}");
        }
        assert_eq!(
            checked_name("20261128092514.txt").unwrap(),
            "20261128092514.txt"
        );
    }

    #[test]
    fn temporary_name_is_hidden_and_in_the_same_directory() {
        assert_eq!(temporary_name("a.txt"), ".a.txt.part");
    }
}
