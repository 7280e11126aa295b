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
//! from the file's size before reading and enforced while reading. Large files go a part
//! at a time ([`SftpClient::download_parts`], [`SftpClient::upload_parts`]) through a
//! bounded channel, so memory holds a few parts whatever the size.
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
//! content → [`SftpError::Conflict`]; otherwise the bytes go to `.NAME.part` (hidden and not
//! ending in `.txt`/`.csv`, so Alma's loader never takes it), its size is checked, and it is
//! renamed to `NAME`. Each upload first removes our temporary files that a push which died
//! before its rename left, once older than [`STALE_UPLOAD_AGE`] (logged).

mod error;
mod login;

#[cfg(feature = "sftp")]
mod client;

use chrono::{DateTime, Utc};

#[cfg(feature = "sftp")]
pub use client::SftpClient;
pub use error::SftpError;
pub use login::{fingerprint_of_public_key, format_fingerprint, SftpAuth, SftpLogin};

/// Largest file a download reads unless told otherwise (`SftpClient::with_max_download`;
/// the functions take `SFTP_MAX_DOWNLOAD_MB`, the stack's `ExportMaxMegabytes`): 2 GB, far
/// above a large campus's day. [`SftpClient::download_parts`] holds a few parts whatever
/// the size; [`SftpClient::download`] holds the whole file, for small files only.
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 2048 * 1024 * 1024;

/// One regular file in the login's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub name: String,
    pub size: u64,
    /// Modification time as the server reports it (second precision).
    pub mtime: Option<DateTime<Utc>>,
}

/// A file read or written through once: its size and SHA-256 (lower-case hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub bytes: u64,
    pub sha256: String,
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

/// The temporary name an upload is written under before its rename: hidden, and ending in
/// `.part`, so it is never a loader file (Alma's loader takes only `[datestamp].txt` or
/// `[datestamp].csv`), even when a push dies before the rename.
pub fn temporary_name(name: &str) -> String {
    format!(".{name}.part")
}

/// The loader file a temporary upload name stands for, when it is one of ours: the
/// [`temporary_name`] of a `[datestamp].txt` or `[datestamp].csv`. Other dotfiles and other
/// tools' `.part` files are not.
pub fn upload_of_temporary_name(name: &str) -> Option<&str> {
    let upload = name.strip_prefix('.')?.strip_suffix(".part")?;
    let stamp = upload
        .strip_suffix(".txt")
        .or_else(|| upload.strip_suffix(".csv"))?;
    let is_datestamp = !stamp.is_empty() && stamp.bytes().all(|b| b.is_ascii_digit());
    is_datestamp.then_some(upload)
}

/// A temporary upload left this long is stale: no push runs longer than a Lambda may
/// (15 minutes), so none is still writing it.
pub const STALE_UPLOAD_AGE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Whether `file` is one of our temporary uploads, left by a push that died, as of `now`.
pub fn is_stale_upload(file: &RemoteFile, now: DateTime<Utc>) -> bool {
    upload_of_temporary_name(&file.name).is_some()
        && file
            .mtime
            .and_then(|mtime| (now - mtime).to_std().ok())
            .is_some_and(|age| age >= STALE_UPLOAD_AGE)
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

    #[test]
    fn a_temporary_name_is_never_a_loader_file_name() {
        for name in ["20261128092514.txt", "20261128092514.csv", "x.txt", "a.csv"] {
            let temp = temporary_name(name);
            assert!(temp.starts_with('.'), "{temp}");
            assert!(
                !temp.ends_with(".txt") && !temp.ends_with(".csv"),
                "Alma's loader would take {temp}"
            );
        }
    }

    #[test]
    fn only_our_own_temporary_uploads_are_recognised() {
        assert_eq!(
            upload_of_temporary_name(&temporary_name("20261128092514.txt")),
            Some("20261128092514.txt")
        );
        assert_eq!(
            upload_of_temporary_name(".20261128092514.csv.part"),
            Some("20261128092514.csv")
        );
        for other in [
            "20261128092514.txt",
            ".20261128092514.txt",
            "20261128092514.txt.part",
            ".notes.txt.part",
            ".download.part",
            "..txt.part",
            ".bashrc",
        ] {
            assert_eq!(upload_of_temporary_name(other), None, "{other}");
        }
    }

    #[test]
    fn a_temporary_upload_is_stale_only_after_the_longest_push() {
        let now = DateTime::from_timestamp(100_000, 0).unwrap();
        let file = |name: &str, age_seconds: i64| RemoteFile {
            name: name.into(),
            size: 1,
            mtime: DateTime::from_timestamp(100_000 - age_seconds, 0),
        };
        let temp = temporary_name("20261127092514.txt");
        assert!(is_stale_upload(&file(&temp, 15 * 60), now));
        assert!(!is_stale_upload(&file(&temp, 15 * 60 - 1), now));
        assert!(!is_stale_upload(&file(&temp, -3600), now));
        assert!(!is_stale_upload(&file(".notes.part", 86_400), now));
        assert!(!is_stale_upload(&file("20261127092514.txt", 86_400), now));
    }
}
