//! The SFTP client over libssh2 (the `sftp` feature): one connection per call, opened on
//! the blocking pool, with the host key checked before any credential is sent.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use chrono::DateTime;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use ssh2::{HashType, HostKeyType, OpenFlags, OpenType, RenameFlags, Session, Sftp};
use tracing::{info, warn, Instrument as _};

use super::login::{self, format_fingerprint, SftpAuth, SftpLogin};
use super::{
    checked_name, is_stale_upload, temporary_name, Copied, RemoteFile, SftpError, UploadOutcome,
    DEFAULT_MAX_DOWNLOAD_BYTES,
};
use crate::error::{BoxError, ErrorName as _};

/// SFTP client for one login's directory. Cheap to clone; holds no connection.
#[derive(Debug, Clone)]
pub struct SftpClient {
    login: Arc<SftpLogin>,
    timeout: Duration,
    max_download: u64,
}

impl SftpClient {
    /// `timeout` bounds name resolution, the TCP connect and, separately, every SSH/SFTP
    /// operation.
    pub fn new(login: SftpLogin, timeout: Duration) -> Self {
        Self {
            login: Arc::new(login),
            timeout,
            max_download: DEFAULT_MAX_DOWNLOAD_BYTES,
        }
    }

    /// A download over `bytes` fails with [`SftpError::TooLarge`] instead of filling memory.
    pub fn with_max_download(mut self, bytes: u64) -> Self {
        self.max_download = bytes;
        self
    }

    pub fn max_download(&self) -> u64 {
        self.max_download
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

    /// Reads `name` in parts of `part_bytes` into `parts`, never holding more than one part:
    /// over the download limit is [`SftpError::TooLarge`] (from its size before reading, and
    /// while reading); a file that is not the size listed when opened is
    /// [`SftpError::SizeMismatch`] (never hand on a part of it). When `parts` is closed (its
    /// reader failed) the read stops with [`SftpError::Abandoned`].
    pub async fn download_parts(
        &self,
        name: &str,
        part_bytes: usize,
        parts: tokio::sync::mpsc::Sender<bytes::Bytes>,
    ) -> Result<Copied, SftpError> {
        let name = checked_name(name)?.to_string();
        let copied = self
            .run("download", move |conn| {
                conn.download_parts(&name, part_bytes, &parts)
            })
            .await?;
        info!(bytes = copied.bytes, "downloaded SFTP file");
        Ok(copied)
    }

    /// Writes what arrives on `parts` to `name` (created or truncated), until `parts` is
    /// closed; checks that the server holds as many bytes as were sent. Meant for a
    /// [`temporary_name`](super::temporary_name), renamed by [`SftpClient::rename_new`] once
    /// the sender says all is well. First removes stale temporary uploads.
    pub async fn upload_parts(
        &self,
        name: &str,
        mut parts: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    ) -> Result<Copied, SftpError> {
        let name = checked_name(name)?.to_string();
        let copied = self
            .run("upload", move |conn| conn.upload_parts(&name, &mut parts))
            .await?;
        info!(bytes = copied.bytes, "uploaded SFTP file");
        Ok(copied)
    }

    /// The size and SHA-256 of `name`, read through once (a part at a time); `None` when
    /// there is no such file.
    pub async fn digest(&self, name: &str) -> Result<Option<Copied>, SftpError> {
        let name = checked_name(name)?.to_string();
        self.run("digest", move |conn| conn.digest(&conn.path(&name)))
            .await
    }

    /// Renames `from` to `to` without ever replacing a file there: `to` already holding
    /// the same bytes is [`UploadOutcome::AlreadyPresent`] (and `from` is removed), other
    /// bytes are [`SftpError::Conflict`].
    pub async fn rename_new(&self, from: &str, to: &str) -> Result<UploadOutcome, SftpError> {
        let (from, to) = (
            checked_name(from)?.to_string(),
            checked_name(to)?.to_string(),
        );
        self.run("rename", move |conn| conn.rename_new(&from, &to))
            .await
    }

    /// Removes `name`; one that is not there is no error.
    pub async fn remove(&self, name: &str) -> Result<(), SftpError> {
        let name = checked_name(name)?.to_string();
        self.run("remove", move |conn| {
            conn.remove_if_there(&conn.path(&name))
        })
        .await
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

    /// Writes `name` (a few bytes) in the login's directory and removes it again: whether
    /// the account may write there. Name it so the loader never takes it (a dotfile).
    pub async fn write_and_remove(&self, name: &str) -> Result<(), SftpError> {
        let name = checked_name(name)?.to_string();
        self.run("write and remove", move |conn| conn.write_and_remove(&name))
            .await?;
        info!("wrote and removed a test file");
        Ok(())
    }

    /// Connects, runs `op` and disconnects, all on the blocking pool.
    async fn run<T, F>(&self, operation: &'static str, op: F) -> Result<T, SftpError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, SftpError> + Send + 'static,
    {
        let login = Arc::clone(&self.login);
        let timeout = self.timeout;
        let max_download = self.max_download;
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
                let conn = Connection::open(&login, timeout, max_download)?;
                let result = op(&conn);
                conn.close();
                result
            })
        });
        let result = async { task.await.map_err(|source| SftpError::Task { source })? }
            .instrument(span.clone())
            .await;
        if let Err(err) = &result {
            span.in_scope(|| warn!(error = %err, kind = err.error_name(), "SFTP call failed"));
        }
        result
    }
}

/// A TCP connection to the first of the host's addresses that answers; resolving the name
/// and trying its addresses together take at most `timeout`.
fn connect(site: Site<'_>, timeout: Duration) -> Result<TcpStream, SftpError> {
    let deadline = Instant::now() + timeout;
    let addrs = resolve(site, timeout)?;
    let mut last_err = None;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_err = Some(e),
        }
    }
    Err(match last_err {
        Some(e) => site.unavailable("connect", e),
        None => site.unavailable(
            "connect",
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no address answered within {timeout:?}"),
            ),
        ),
    })
}

/// The host's addresses. The system resolver has no timeout of its own, so it runs on its
/// own thread and is abandoned (it ends by itself) when it takes longer than `timeout`.
fn resolve(site: Site<'_>, timeout: Duration) -> Result<Vec<SocketAddr>, SftpError> {
    let (host, port) = (site.host.to_string(), site.port);
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("sftp-resolve".into())
        .spawn(move || {
            // The receiver may have given up; then nobody needs the answer.
            let _ = tx.send((host.as_str(), port).to_socket_addrs().map(Vec::from_iter));
        })
        .map_err(|e| site.unavailable("resolve", e))?;
    let addrs = match rx.recv_timeout(timeout) {
        Ok(result) => result.map_err(|e| site.unavailable("resolve", e))?,
        Err(_) => {
            return Err(site.unavailable(
                "resolve",
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("name resolution took longer than {timeout:?}"),
                ),
            ))
        }
    };
    if addrs.is_empty() {
        return Err(site.unavailable(
            "resolve",
            io::Error::new(io::ErrorKind::NotFound, "host has no address"),
        ));
    }
    Ok(addrs)
}

/// The SSH session over `tcp`, every later libssh2 call bounded by `timeout`.
fn handshake(site: Site<'_>, tcp: TcpStream, timeout: Duration) -> Result<Session, SftpError> {
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
    Ok(session)
}

/// The server's host key must hash to one of the pinned SHA-256 fingerprints.
fn verify_host_key(
    site: Site<'_>,
    session: &Session,
    pinned: &[[u8; 32]],
) -> Result<(), SftpError> {
    let actual = session.host_key_hash(HashType::Sha256).ok_or_else(|| {
        site.unavailable(
            "host key check",
            io::Error::other("server presented no host key"),
        )
    })?;
    if pinned.iter().any(|pin| pin[..] == *actual) {
        return Ok(());
    }
    let key_type = session
        .host_key()
        .map_or("unknown", |(_, kind)| key_type_name(kind));
    Err(SftpError::HostKeyMismatch {
        host: site.host.to_string(),
        port: site.port,
        expected: pinned
            .iter()
            .map(|pin| format_fingerprint(pin))
            .collect::<Vec<_>>()
            .join(", "),
        actual: format_fingerprint(actual),
        key_type: key_type.to_string(),
    })
}

/// Logs in by password or private key; a refusal, an unusable key and a broken transport
/// are told apart.
fn authenticate(site: Site<'_>, session: &Session, login: &SftpLogin) -> Result<(), SftpError> {
    let result = match &login.auth {
        SftpAuth::Password(password) => {
            session.userauth_password(&login.user, password.expose_secret())
        }
        SftpAuth::PrivateKey { key, passphrase } => session.userauth_pubkey_memory(
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
        source: source.into(),
    };
    match result {
        Ok(()) if session.authenticated() => Ok(()),
        Ok(()) => Err(refused(ssh2::Error::new(
            ssh2::ErrorCode::Session(LIBSSH2_ERROR_AUTHENTICATION_FAILED),
            "server did not accept the login",
        ))),
        Err(e) if is_auth_refusal(&e) => Err(refused(e)),
        Err(e) if is_unusable_key(&e) => Err(SftpError::LoginInvalid {
            reason: format!(
                "the private key could not be used (format or passphrase): {}",
                e.message()
            ),
        }),
        Err(e) => Err(site.unavailable("authentication", e)),
    }
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
    max_download: u64,
}

impl Connection {
    /// Connect, verify the host key, authenticate, start SFTP: in that order, so no
    /// credential ever reaches a server whose key does not match the pin.
    fn open(login: &SftpLogin, timeout: Duration, max_download: u64) -> Result<Self, SftpError> {
        let site = Site {
            host: &login.host,
            port: login.port,
        };
        // A malformed pin is a configuration error, found before touching the network.
        let pinned = login::parse_fingerprints(&login.host_key_sha256)?;
        let tcp = connect(site, timeout)?;
        let session = handshake(site, tcp, timeout)?;
        verify_host_key(site, &session, &pinned)?;
        authenticate(site, &session, login)?;
        let sftp = session
            .sftp()
            .map_err(|e| site.unavailable("sftp subsystem", e))?;
        Ok(Self {
            session,
            sftp,
            host: login.host.clone(),
            port: login.port,
            directory: login.directory.trim_end_matches('/').to_string(),
            max_download,
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
        let limit = self.max_download;
        if expected > limit {
            return Err(SftpError::TooLarge {
                path,
                size: expected,
                limit,
            });
        }
        let file = self
            .sftp
            .open(Path::new(&path))
            .map_err(|e| self.site().sftp_error("open", &path, e))?;
        let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
        // A file that grows after the stat is cut off one byte past the limit, so memory
        // stays bounded whatever the server sends.
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| self.site().io_error("download", e))?;
        if bytes.len() as u64 > limit {
            return Err(SftpError::TooLarge {
                path,
                size: bytes.len() as u64,
                limit,
            });
        }
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
        let existing = self.digest(path)?;
        let same = existing.is_some_and(|c| c.sha256 == hex(&Sha256::digest(bytes)));
        Ok(Some((same, size)))
    }

    fn download_parts(
        &self,
        name: &str,
        part_bytes: usize,
        parts: &tokio::sync::mpsc::Sender<bytes::Bytes>,
    ) -> Result<Copied, SftpError> {
        let path = self.path(name);
        let expected = self.size_of(&path)?;
        let limit = self.max_download;
        let too_large = |size| SftpError::TooLarge {
            path: path.clone(),
            size,
            limit,
        };
        if expected > limit {
            return Err(too_large(expected));
        }
        let mut file = self
            .sftp
            .open(Path::new(&path))
            .map_err(|e| self.site().sftp_error("open", &path, e))?;
        let (mut hasher, mut total) = (Sha256::new(), 0u64);
        loop {
            let mut part = Vec::with_capacity(part_bytes);
            (&mut file)
                .take(part_bytes as u64)
                .read_to_end(&mut part)
                .map_err(|e| self.site().io_error("download", e))?;
            if part.is_empty() {
                break;
            }
            total += part.len() as u64;
            // A file that grows while it is read is cut off past the limit.
            if total > limit {
                return Err(too_large(total));
            }
            hasher.update(&part);
            if parts.blocking_send(bytes::Bytes::from(part)).is_err() {
                return Err(SftpError::Abandoned { path });
            }
        }
        if total != expected {
            return Err(SftpError::SizeMismatch {
                path,
                expected,
                actual: total,
            });
        }
        Ok(Copied {
            bytes: total,
            sha256: hex(&hasher.finalize()),
        })
    }

    fn upload_parts(
        &self,
        name: &str,
        parts: &mut tokio::sync::mpsc::Receiver<bytes::Bytes>,
    ) -> Result<Copied, SftpError> {
        self.remove_stale_uploads();
        let path = self.path(name);
        let result = self.write_parts(&path, parts);
        if result.is_err() {
            if let Err(e) = self.remove_if_there(&path) {
                warn!(temp = %path, error = %e, "could not remove an unfinished upload");
            }
        }
        result
    }

    fn write_parts(
        &self,
        path: &str,
        parts: &mut tokio::sync::mpsc::Receiver<bytes::Bytes>,
    ) -> Result<Copied, SftpError> {
        let site = self.site();
        let mut file = self
            .sftp
            .open_mode(
                Path::new(path),
                OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
                0o644,
                OpenType::File,
            )
            .map_err(|e| site.sftp_error("create", path, e))?;
        let (mut hasher, mut total) = (Sha256::new(), 0u64);
        while let Some(part) = parts.blocking_recv() {
            file.write_all(&part)
                .map_err(|e| site.io_error("upload", e))?;
            hasher.update(&part);
            total += part.len() as u64;
        }
        file.close()
            .map_err(|e| site.sftp_error("close", path, e))?;
        let written = self.size_of(path)?;
        if written != total {
            return Err(SftpError::SizeMismatch {
                path: path.to_string(),
                expected: total,
                actual: written,
            });
        }
        Ok(Copied {
            bytes: total,
            sha256: hex(&hasher.finalize()),
        })
    }

    /// Size and SHA-256 of the file at `path`, or `None` when there is none.
    fn digest(&self, path: &str) -> Result<Option<Copied>, SftpError> {
        let mut file = match self.sftp.open(Path::new(path)) {
            Ok(file) => file,
            Err(e) => {
                return match self.site().sftp_error("open", path, e) {
                    SftpError::NotFound { .. } => Ok(None),
                    other => Err(other),
                }
            }
        };
        let (mut hasher, mut total) = (Sha256::new(), 0u64);
        let mut buffer = vec![0u8; 1024 * 1024];
        loop {
            let read = file
                .read(&mut buffer)
                .map_err(|e| self.site().io_error("read", e))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            total += read as u64;
        }
        Ok(Some(Copied {
            bytes: total,
            sha256: hex(&hasher.finalize()),
        }))
    }

    fn rename_new(&self, from: &str, to: &str) -> Result<UploadOutcome, SftpError> {
        let (from, to) = (self.path(from), self.path(to));
        // No OVERWRITE flag: OpenSSH's server then refuses to replace an existing name.
        let rename_err = match self.sftp.rename(
            Path::new(&from),
            Path::new(&to),
            Some(RenameFlags::ATOMIC | RenameFlags::NATIVE),
        ) {
            Ok(()) => return Ok(UploadOutcome::Uploaded),
            Err(e) => e,
        };
        let (Some(there), Some(ours)) = (self.digest(&to)?, self.digest(&from)?) else {
            return Err(self.site().sftp_error("rename", &to, rename_err));
        };
        if there.sha256 != ours.sha256 {
            return Err(SftpError::Conflict {
                path: to,
                existing_size: there.bytes,
                new_size: ours.bytes,
            });
        }
        self.remove_if_there(&from)?;
        Ok(UploadOutcome::AlreadyPresent)
    }

    fn remove_if_there(&self, path: &str) -> Result<(), SftpError> {
        match self.sftp.unlink(Path::new(path)) {
            Ok(()) => Ok(()),
            Err(e) => match self.site().sftp_error("remove", path, e) {
                SftpError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    fn upload_atomic(&self, name: &str, bytes: &[u8]) -> Result<UploadOutcome, SftpError> {
        self.remove_stale_uploads();
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
                if !matches!(e.code(), ssh2::ErrorCode::SFTP(SSH_FX_NO_SUCH_FILE)) {
                    warn!(temp = %temp, error = %e, "could not remove temporary upload");
                }
            }
        }
        result
    }

    /// Removes our temporary uploads that a push which died before its rename left behind
    /// ([`is_stale_upload`]). Alma never loads them; this keeps the directory clean. Best
    /// effort: a failure is logged and the upload goes on.
    fn remove_stale_uploads(&self) {
        let files = match self.list() {
            Ok(files) => files,
            Err(e) => {
                warn!(error = %e, "could not list for stale temporary uploads");
                return;
            }
        };
        let now = chrono::Utc::now();
        for file in files.iter().filter(|f| is_stale_upload(f, now)) {
            let path = self.path(&file.name);
            match self.sftp.unlink(Path::new(&path)) {
                Ok(()) => info!(
                    temp = %path,
                    bytes = file.size,
                    modified = ?file.mtime,
                    "removed a stale temporary upload an interrupted push left"
                ),
                Err(e) => {
                    warn!(temp = %path, error = %e, "could not remove a stale temporary upload")
                }
            }
        }
    }

    fn write_and_remove(&self, name: &str) -> Result<(), SftpError> {
        let site = self.site();
        let path = self.path(name);
        let mut file = self
            .sftp
            .open_mode(
                Path::new(&path),
                OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
                0o600,
                OpenType::File,
            )
            .map_err(|e| site.sftp_error("create", &path, e))?;
        file.write_all(b"leganto preflight\n")
            .map_err(|e| site.io_error("write", e))?;
        file.close()
            .map_err(|e| site.sftp_error("close", &path, e))?;
        self.sftp
            .unlink(Path::new(&path))
            .map_err(|e| site.sftp_error("remove", &path, e))
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

// libssh2's session error codes (LIBSSH2_ERROR_*), as `ssh2::ErrorCode::Session` carries them.
const LIBSSH2_ERROR_PASSWORD_EXPIRED: i32 = -15;
const LIBSSH2_ERROR_FILE: i32 = -16;
const LIBSSH2_ERROR_AUTHENTICATION_FAILED: i32 = -18;
const LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED: i32 = -19;
const LIBSSH2_ERROR_KEYFILE_AUTH_FAILED: i32 = -48;

// SFTP status codes (SSH_FX_*), as `ssh2::ErrorCode::SFTP` carries them.
const SSH_FX_NO_SUCH_FILE: i32 = 2;
const SSH_FX_PERMISSION_DENIED: i32 = 3;
const SSH_FX_NO_SUCH_PATH: i32 = 10;

/// Where a failing call sits, so one ssh2 error maps to the right variant.
#[derive(Debug, Clone, Copy)]
struct Site<'a> {
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
                    source: err.into(),
                }
            }
            ssh2::ErrorCode::SFTP(SSH_FX_PERMISSION_DENIED) => SftpError::PermissionDenied {
                operation,
                path: path.to_string(),
                source: err.into(),
            },
            ssh2::ErrorCode::SFTP(_) => SftpError::Remote {
                operation,
                path: path.to_string(),
                source: err.into(),
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
fn is_auth_refusal(err: &ssh2::Error) -> bool {
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
fn is_unusable_key(err: &ssh2::Error) -> bool {
    matches!(
        err.code(),
        ssh2::ErrorCode::Session(LIBSSH2_ERROR_FILE | LIBSSH2_ERROR_KEYFILE_AUTH_FAILED)
    )
}

/// Lower-case hex, as receipts record digests.
fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Handlers spawn the client's futures (`tokio::spawn`, an axum handler): this fails to
/// compile if they ever stop being `Send + 'static`.
#[allow(dead_code)]
fn client_futures_are_spawnable(client: SftpClient) {
    fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
    spawnable(async move {
        client.list().await?;
        client.download("a").await?;
        client.upload_atomic("a", Vec::new()).await
    });
}
