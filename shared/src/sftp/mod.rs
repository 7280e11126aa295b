//! SFTP adapter: list, download and atomic upload in one remote directory.
//!
//! Takes an [`SftpLogin`] (from the run's secret) and a timeout; touches one SFTP server over
//! SSH with the `ssh2` crate (libssh2, vendored OpenSSL). Every call opens its own
//! connection inside one `spawn_blocking`, so the async runtime never blocks.
//!
//! Per connection, in this order: TCP connect (bounded by the timeout), SSH handshake, the
//! server's host key checked against the pinned SHA-256 fingerprint (a mismatch is
//! [`SftpError::HostKeyMismatch`] before any credential is sent), login, then the operation.
//! The same timeout bounds every libssh2 call after connect.
//!
//! # Login JSON (one object per server inside the secret)
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
//! lists them all).
//!
//! # Atomic upload
//!
//! [`SftpClient::upload_atomic`] never leaves a partial file under the final name and never
//! overwrites: identical content already there → [`UploadOutcome::AlreadyPresent`]; different
//! content → [`SftpError::Conflict`]; otherwise the bytes go to `.NAME.part` (hidden, so
//! loaders ignore it), its size is checked, and it is renamed to `NAME`.

mod error;
mod login;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use ssh2::{HashType, HostKeyType, OpenFlags, OpenType, RenameFlags, Session, Sftp};
use tracing::{info, warn, Instrument as _};

use error::{is_auth_refusal, is_unusable_key, Site};
pub use error::{BoxError, SftpError};
pub use login::{fingerprint_of_public_key, format_fingerprint, SftpAuth, SftpLogin};

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

/// SFTP client for one login's directory. Cheap to clone; holds no connection.
#[derive(Debug, Clone)]
pub struct SftpClient {
    login: Arc<SftpLogin>,
    timeout: Duration,
}

impl SftpClient {
    /// `timeout` bounds the TCP connect and, separately, every SSH/SFTP operation.
    pub fn new(login: SftpLogin, timeout: Duration) -> Self {
        Self {
            login: Arc::new(login),
            timeout,
        }
    }

    pub fn login(&self) -> &SftpLogin {
        &self.login
    }

    /// Regular files in the login's directory, sorted by name.
    pub async fn list(&self) -> Result<Vec<RemoteFile>, SftpError> {
        let files = self.run("list", |conn| conn.list()).await?;
        info!(files = files.len(), "listed SFTP directory");
        Ok(files)
    }

    /// The whole content of `name` in the login's directory.
    pub async fn download(&self, name: &str) -> Result<Vec<u8>, SftpError> {
        let name = checked_name(name)?.to_string();
        let bytes = self
            .run("download", move |conn| conn.download(&name))
            .await?;
        info!(bytes = bytes.len(), "downloaded SFTP file");
        Ok(bytes)
    }

    /// Puts `bytes` under `name` in the login's directory so that the name only ever shows
    /// complete content; see the module docs.
    pub async fn upload_atomic(
        &self,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<UploadOutcome, SftpError> {
        let name = checked_name(name)?.to_string();
        let size = bytes.len();
        let outcome = self
            .run("upload", move |conn| conn.upload_atomic(&name, &bytes))
            .await?;
        info!(bytes = size, outcome = ?outcome, "uploaded SFTP file");
        Ok(outcome)
    }

    /// Connects, runs `op` and disconnects, all on the blocking pool.
    async fn run<T, F>(&self, operation: &'static str, op: F) -> Result<T, SftpError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, SftpError> + Send + 'static,
    {
        let login = Arc::clone(&self.login);
        let timeout = self.timeout;
        let span = tracing::info_span!(
            "sftp",
            operation,
            host = %login.host,
            port = login.port,
            user = %login.user,
            directory = %login.directory,
        );
        let blocking_span = span.clone();
        let task = tokio::task::spawn_blocking(move || {
            blocking_span.in_scope(|| {
                let conn = Connection::open(&login, timeout)?;
                let result = op(&conn);
                conn.close();
                result
            })
        });
        let result = async { task.await.map_err(|source| SftpError::Task { source })? }
            .instrument(span.clone())
            .await;
        if let Err(err) = &result {
            span.in_scope(|| warn!(error = %err, kind = err.kind_name(), "SFTP call failed"));
        }
        result
    }
}

/// A remote file name inside the login's directory: no path separators, not `.`/`..`.
fn checked_name(name: &str) -> Result<&str, SftpError> {
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

/// OpenSSH's name for the host key algorithm, for the mismatch message.
fn key_type_name(kind: HostKeyType) -> &'static str {
    match kind {
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Unknown => "unknown",
    }
}

/// An authenticated SFTP session (blocking).
struct Connection {
    session: Session,
    sftp: Sftp,
    host: String,
    port: u16,
    directory: String,
}

impl Connection {
    fn open(login: &SftpLogin, timeout: Duration) -> Result<Self, SftpError> {
        let site = Site {
            host: &login.host,
            port: login.port,
        };
        // A malformed pin is a configuration error, found before touching the network.
        let expected = login::parse_fingerprint(&login.host_key_sha256)?;

        let addrs = (login.host.as_str(), login.port)
            .to_socket_addrs()
            .map_err(|e| site.unavailable("resolve", e))?;
        let mut last_err = None;
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let tcp = match (tcp, last_err) {
            (Some(tcp), _) => tcp,
            (None, Some(e)) => return Err(site.unavailable("connect", e)),
            (None, None) => {
                return Err(site.unavailable(
                    "resolve",
                    std::io::Error::new(std::io::ErrorKind::NotFound, "host has no address"),
                ))
            }
        };

        let mut session = Session::new().map_err(|e| site.unavailable("session setup", e))?;
        session.set_timeout(
            u32::try_from(timeout.as_millis())
                .unwrap_or(u32::MAX)
                .max(1),
        );
        session.set_tcp_stream(tcp);
        session
            .handshake()
            .map_err(|e| site.unavailable("handshake", e))?;

        let actual = session.host_key_hash(HashType::Sha256).ok_or_else(|| {
            site.unavailable(
                "host key check",
                std::io::Error::other("server presented no host key"),
            )
        })?;
        if actual != expected.as_slice() {
            let key_type = session
                .host_key()
                .map_or("unknown", |(_, kind)| key_type_name(kind));
            return Err(SftpError::HostKeyMismatch {
                host: login.host.clone(),
                port: login.port,
                expected: format_fingerprint(&expected),
                actual: format_fingerprint(actual),
                key_type: key_type.to_string(),
            });
        }

        let auth_result = match &login.auth {
            login::SftpAuth::Password(password) => {
                session.userauth_password(&login.user, password.expose_secret())
            }
            login::SftpAuth::PrivateKey { key, passphrase } => session.userauth_pubkey_memory(
                &login.user,
                None,
                key.expose_secret(),
                passphrase.as_ref().map(|p| p.expose_secret()),
            ),
        };
        let refused = |source: ssh2::Error| SftpError::AuthenticationFailed {
            host: login.host.clone(),
            port: login.port,
            user: login.user.clone(),
            method: login.auth.method(),
            source,
        };
        match auth_result {
            Ok(()) => {}
            Err(e) if is_auth_refusal(&e) => return Err(refused(e)),
            Err(e) if is_unusable_key(&e) => {
                return Err(SftpError::LoginInvalid {
                    reason: format!(
                        "the private key could not be used (format or passphrase): {}",
                        e.message()
                    ),
                })
            }
            Err(e) => return Err(site.unavailable("authentication", e)),
        }
        if !session.authenticated() {
            return Err(refused(ssh2::Error::new(
                ssh2::ErrorCode::Session(error::LIBSSH2_ERROR_AUTHENTICATION_FAILED),
                "server did not accept the login",
            )));
        }

        let sftp = session
            .sftp()
            .map_err(|e| site.unavailable("sftp subsystem", e))?;
        Ok(Self {
            session,
            sftp,
            host: login.host.clone(),
            port: login.port,
            directory: login.directory.trim_end_matches('/').to_string(),
        })
    }

    fn site(&self) -> Site<'_> {
        Site {
            host: &self.host,
            port: self.port,
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}/{}", self.directory, name)
    }

    fn close(self) {
        drop(self.sftp);
        // Best effort: the server cleans up either way.
        let _ = self.session.disconnect(None, "done", None);
    }

    fn list(&self) -> Result<Vec<RemoteFile>, SftpError> {
        let dir = if self.directory.is_empty() {
            "/"
        } else {
            &self.directory
        };
        let entries = self
            .sftp
            .readdir(Path::new(dir))
            .map_err(|e| self.site().sftp_error("list", dir, e))?;
        let mut files: Vec<RemoteFile> = entries
            .into_iter()
            .filter(|(_, stat)| stat.is_file())
            .filter_map(|(path, stat)| {
                let name = path.file_name()?.to_str()?.to_string();
                Some(RemoteFile {
                    name,
                    // OpenSSH always reports size and mtime; absent means the server hid it.
                    size: stat.size.unwrap_or(0),
                    mtime: stat
                        .mtime
                        .and_then(|s| i64::try_from(s).ok())
                        .and_then(|s| DateTime::from_timestamp(s, 0)),
                })
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    fn size_of(&self, path: &str) -> Result<u64, SftpError> {
        let stat = self
            .sftp
            .stat(Path::new(path))
            .map_err(|e| self.site().sftp_error("stat", path, e))?;
        Ok(stat.size.unwrap_or(0))
    }

    fn download(&self, name: &str) -> Result<Vec<u8>, SftpError> {
        let path = self.path(name);
        let expected = self.size_of(&path)?;
        let mut file = self
            .sftp
            .open(Path::new(&path))
            .map_err(|e| self.site().sftp_error("open", &path, e))?;
        let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
        file.read_to_end(&mut bytes)
            .map_err(|e| self.site().io_error("download", e))?;
        // A short read means the file changed or the transfer broke: never hand on a part.
        let actual = bytes.len() as u64;
        if actual != expected {
            return Err(SftpError::SizeMismatch {
                path,
                expected,
                actual,
            });
        }
        Ok(bytes)
    }

    /// `Some(true)` if `path` holds exactly `bytes`, `Some(false)` if it holds something
    /// else, `None` if there is no such file.
    fn holds(&self, path: &str, bytes: &[u8]) -> Result<Option<(bool, u64)>, SftpError> {
        let size = match self.size_of(path) {
            Ok(size) => size,
            Err(SftpError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if size != bytes.len() as u64 {
            return Ok(Some((false, size)));
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        let existing = self.download(name)?;
        Ok(Some((
            Sha256::digest(&existing) == Sha256::digest(bytes),
            size,
        )))
    }

    fn upload_atomic(&self, name: &str, bytes: &[u8]) -> Result<UploadOutcome, SftpError> {
        let path = self.path(name);
        let new_size = bytes.len() as u64;
        match self.holds(&path, bytes)? {
            Some((true, _)) => return Ok(UploadOutcome::AlreadyPresent),
            Some((false, existing_size)) => {
                return Err(SftpError::Conflict {
                    path,
                    existing_size,
                    new_size,
                })
            }
            None => {}
        }

        let temp = self.path(&temporary_name(name));
        let result = self.write_then_rename(&temp, &path, bytes);
        if result.is_err() {
            if let Err(e) = self.sftp.unlink(Path::new(&temp)) {
                // NotFound is expected when the write never created it.
                if !matches!(e.code(), ssh2::ErrorCode::SFTP(error::SSH_FX_NO_SUCH_FILE)) {
                    warn!(temp = %temp, error = %e, "could not remove temporary upload");
                }
            }
        }
        result
    }

    fn write_then_rename(
        &self,
        temp: &str,
        path: &str,
        bytes: &[u8],
    ) -> Result<UploadOutcome, SftpError> {
        let site = self.site();
        let mut file = self
            .sftp
            .open_mode(
                Path::new(temp),
                OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
                0o644,
                OpenType::File,
            )
            .map_err(|e| site.sftp_error("create", temp, e))?;
        file.write_all(bytes)
            .map_err(|e| site.io_error("upload", e))?;
        file.close()
            .map_err(|e| site.sftp_error("close", temp, e))?;

        let written = self.size_of(temp)?;
        if written != bytes.len() as u64 {
            return Err(SftpError::SizeMismatch {
                path: temp.to_string(),
                expected: bytes.len() as u64,
                actual: written,
            });
        }

        // No OVERWRITE flag: OpenSSH's server then refuses to replace an existing name.
        match self.sftp.rename(
            Path::new(temp),
            Path::new(path),
            Some(RenameFlags::ATOMIC | RenameFlags::NATIVE),
        ) {
            Ok(()) => Ok(UploadOutcome::Uploaded),
            Err(rename_err) => match self.holds(path, bytes)? {
                // Someone put the same file there in the meantime.
                Some((true, _)) => {
                    self.sftp
                        .unlink(Path::new(temp))
                        .map_err(|e| site.sftp_error("remove", temp, e))?;
                    Ok(UploadOutcome::AlreadyPresent)
                }
                Some((false, existing_size)) => Err(SftpError::Conflict {
                    path: path.to_string(),
                    existing_size,
                    new_size: bytes.len() as u64,
                }),
                None => Err(site.sftp_error("rename", path, rename_err)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_separators_or_dots_are_refused() {
        for bad in ["", "a/b", "/etc/passwd", ".", "..", "a\0b"] {
            let err = checked_name(bad).unwrap_err();
            assert_eq!(err.kind_name(), "InvalidInput", "{bad:?}");
        }
        assert_eq!(
            checked_name("20261128092514.txt").unwrap(),
            "20261128092514.txt"
        );
    }

    #[test]
    fn client_futures_can_be_spawned_by_handlers() {
        fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
        let login: SftpLogin = serde_json::from_value(serde_json::json!({
            "host": "127.0.0.1", "user": "u", "password": "p", "directory": "/d",
            "host_key_sha256": "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
        }))
        .unwrap();
        let client = SftpClient::new(login, Duration::from_secs(1));
        spawnable(async move {
            client.list().await?;
            client.download("a").await?;
            client.upload_atomic("a", Vec::new()).await
        });
    }

    #[test]
    fn temporary_name_is_hidden_and_in_the_same_directory() {
        assert_eq!(temporary_name("a.txt"), ".a.txt.part");
    }
}
