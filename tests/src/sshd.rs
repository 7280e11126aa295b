//! A real OpenSSH `sshd` on loopback serving SFTP, for adapter, handler and end-to-end tests.
//!
//! [`SshServer::start`] generates an ed25519 host key and a client key pair in a fresh temp
//! directory, makes sure each account exists as a local system user (`useradd`, needs root),
//! creates one directory per account owned by that user, writes an `sshd_config`
//! (loopback, free port, `UsePAM no`, `Subsystem sftp internal-sftp`, per account
//! `ForceCommand internal-sftp -d DIR`) and runs `/usr/sbin/sshd -D -e` as a child until
//! [`SshServer::stop`] or drop. Several servers can run at once (own port, keys and dirs).
//! With `trace_file_syscalls` sshd runs under `strace`, so a test can see exactly which file
//! calls the server made (e.g. that an upload only ever renamed into its final name).
//!
//! System users and their passwords are machine-wide, so a user's password must be the same
//! everywhere it is used: [`Account::new`] uses [`default_password`] for that reason.
//! Accounts are left on the machine after the tests (creating them again is a no-op).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::support::free_port;

const SSHD: &str = "/usr/sbin/sshd";
const STRACE: &str = "strace";
const START_ATTEMPTS: usize = 5;
const START_DEADLINE: Duration = Duration::from_secs(15);

/// The password [`Account::new`] gives `user`: fixed per user name so that concurrent tests
/// (and other test binaries) agree on it.
pub fn default_password(user: &str) -> String {
    format!("{user}-Pw#2026")
}

/// One SFTP account on the server.
#[derive(Debug, Clone)]
pub struct Account {
    /// Local system user name (created if missing), e.g. `cem_sftp`.
    pub user: String,
    /// Sets the system password and enables password login for this account on this server.
    /// `None`: password login is off for the account (the system password is left alone).
    pub password: Option<String>,
    /// Whether the server's client public key may log in as this user.
    pub authorized_key: bool,
    /// The account's SFTP start directory; `None` makes `<server temp dir>/<user>`.
    pub directory: Option<PathBuf>,
}

impl Account {
    /// Password ([`default_password`]) and key login, directory in the server's temp dir.
    pub fn new(user: &str) -> Self {
        Self {
            user: user.to_string(),
            password: Some(default_password(user)),
            authorized_key: true,
            directory: None,
        }
    }

    pub fn key_only(mut self) -> Self {
        self.password = None;
        self.authorized_key = true;
        self
    }

    pub fn password_only(mut self) -> Self {
        self.authorized_key = false;
        self
    }
}

/// The client key pair the server trusts for accounts with `authorized_key`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientKeyType {
    /// OpenSSH-format ed25519 (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    #[default]
    Ed25519,
    /// RSA 2048 in PEM (`-----BEGIN RSA PRIVATE KEY-----`), what older servers hand out.
    RsaPem,
}

#[derive(Debug, Clone, Default)]
pub struct SshServerOptions {
    pub accounts: Vec<Account>,
    pub client_key_type: ClientKeyType,
    /// Encrypts the client private key with this passphrase.
    pub client_key_passphrase: Option<String>,
    /// Runs sshd under `strace` recording file system calls (open, link, rename, unlink) of
    /// every session, readable with [`SshServer::file_syscalls`]: what the server really did
    /// to the files, in order. Needs `/usr/bin/strace` (apt `strace`) and ptrace.
    pub trace_file_syscalls: bool,
}

impl SshServerOptions {
    /// The product's two servers' accounts on one sshd: `cem_sftp` and `alma_sftp`, each with
    /// password and key login.
    pub fn cem_and_alma() -> Self {
        Self {
            accounts: vec![Account::new("cem_sftp"), Account::new("alma_sftp")],
            ..Self::default()
        }
    }
}

/// How [`SshServer::login_json`] logs in.
#[derive(Debug, Clone)]
pub enum LoginAuth {
    /// The account's configured password.
    Password,
    /// Any password (for "wrong password" tests).
    PasswordText(String),
    /// The server's client private key (with its passphrase, if any).
    Key,
}

/// A running sshd; stopped (with its sessions) and its temp dir removed on drop.
#[derive(Debug)]
pub struct SshServer {
    child: Option<Child>,
    port: u16,
    root: TempDir,
    host_public_key: String,
    host_key_sha256: String,
    client_private_key: String,
    client_public_key: String,
    client_key_passphrase: Option<String>,
    trace_file_syscalls: bool,
    accounts: BTreeMap<String, (Account, PathBuf)>,
}

impl SshServer {
    /// Starts sshd; fails with the reason (and sshd's log) if it cannot.
    pub fn start(options: SshServerOptions) -> io::Result<Self> {
        if options.accounts.is_empty() {
            return Err(io::Error::other("SshServer needs at least one account"));
        }
        let root = TempDir::new("leganto-sshd")?;
        // sshd reads authorized keys as the user and sftp users walk into their directory.
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755))?;
        fs::create_dir_all("/run/sshd")?;

        let host_key = root.path().join("ssh_host_ed25519_key");
        keygen(&host_key, &["-t", "ed25519"], "")?;
        let host_public_key = fs::read_to_string(host_key.with_extension("pub"))?;
        let host_key_sha256 = fingerprint(&host_key.with_extension("pub"))?;

        let client_key = root.path().join("client_key");
        let passphrase = options.client_key_passphrase.clone().unwrap_or_default();
        match options.client_key_type {
            ClientKeyType::Ed25519 => keygen(&client_key, &["-t", "ed25519"], &passphrase)?,
            ClientKeyType::RsaPem => keygen(
                &client_key,
                &["-t", "rsa", "-b", "2048", "-m", "PEM"],
                &passphrase,
            )?,
        }
        let client_private_key = fs::read_to_string(&client_key)?;
        let client_public_key = fs::read_to_string(client_key.with_extension("pub"))?;

        let keys_dir = root.path().join("authorized_keys");
        fs::create_dir(&keys_dir)?;
        fs::set_permissions(&keys_dir, fs::Permissions::from_mode(0o755))?;

        let mut accounts = BTreeMap::new();
        for account in &options.accounts {
            ensure_user(&account.user, account.password.as_deref())?;
            let (uid, gid) = (id(&account.user, "-u")?, id(&account.user, "-g")?);
            let dir = match &account.directory {
                Some(dir) => dir.clone(),
                None => root.path().join(&account.user),
            };
            fs::create_dir_all(&dir)?;
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
            if account.authorized_key {
                let file = keys_dir.join(&account.user);
                fs::write(&file, &client_public_key)?;
                fs::set_permissions(&file, fs::Permissions::from_mode(0o644))?;
            }
            accounts.insert(account.user.clone(), (account.clone(), dir));
        }

        let mut server = SshServer {
            child: None,
            port: 0,
            root,
            host_public_key,
            host_key_sha256,
            client_private_key,
            client_public_key,
            client_key_passphrase: options.client_key_passphrase.clone(),
            trace_file_syscalls: options.trace_file_syscalls,
            accounts,
        };
        let mut last_failure = String::new();
        // A free port can be taken by someone else before sshd binds it: try another.
        for _ in 0..START_ATTEMPTS {
            server.port = free_port()?;
            match server.spawn_sshd(&host_key, &keys_dir) {
                Ok(()) => return Ok(server),
                Err(reason) => {
                    last_failure = format!("{reason}; sshd log:\n{}", server.log());
                    server.stop();
                }
            }
        }
        Err(io::Error::other(format!(
            "sshd did not start after {START_ATTEMPTS} attempts: {last_failure}"
        )))
    }

    fn spawn_sshd(&mut self, host_key: &Path, keys_dir: &Path) -> Result<(), String> {
        let config_path = self.root.path().join("sshd_config");
        let config = sshd_config(
            self.port,
            self.root.path(),
            host_key,
            keys_dir,
            &self.accounts,
        );
        fs::write(&config_path, config).map_err(|e| format!("writing sshd_config: {e}"))?;
        let log = fs::File::create(self.root.path().join("sshd.log"))
            .map_err(|e| format!("creating sshd.log: {e}"))?;
        let log_err = log.try_clone().map_err(|e| format!("sshd.log: {e}"))?;
        let mut command = if self.trace_file_syscalls {
            let mut strace = Command::new(STRACE);
            strace
                .args(["-f", "-qq", "-s", "4096", "-e"])
                .arg("trace=open,openat,rename,renameat,renameat2,link,linkat,unlink,unlinkat")
                .arg("-o")
                .arg(self.root.path().join("fs.trace"))
                .arg(SSHD);
            strace
        } else {
            Command::new(SSHD)
        };
        let child = command
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| {
                format!(
                    "spawning {SSHD} (strace: {}): {e}",
                    self.trace_file_syscalls
                )
            })?;
        self.child = Some(child);
        self.wait_until_ready()
    }

    /// Waits until sshd sends its SSH banner on the port (or exits).
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_DEADLINE;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("sshd exited with {status}"));
                }
            }
            if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut banner = [0u8; 8];
                if stream.read_exact(&mut banner).is_ok() && banner.starts_with(b"SSH-2.0") {
                    // Say goodbye politely so sshd logs less noise.
                    let _ = stream.write_all(b"SSH-2.0-probe\r\n");
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err("sshd did not answer on its port in time".into());
            }
            sleep(Duration::from_millis(25));
        }
    }

    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `SHA256:<base64 without padding>`, as `ssh-keygen -l` prints it.
    pub fn host_key_sha256(&self) -> &str {
        &self.host_key_sha256
    }

    /// `ssh-ed25519 AAAA... comment`
    pub fn host_public_key(&self) -> &str {
        &self.host_public_key
    }

    /// The client private key text the server trusts.
    pub fn client_private_key(&self) -> &str {
        &self.client_private_key
    }

    pub fn client_public_key(&self) -> &str {
        &self.client_public_key
    }

    pub fn client_key_passphrase(&self) -> Option<&str> {
        self.client_key_passphrase.as_deref()
    }

    /// The account's directory (absolute; also its SFTP start directory).
    ///
    /// Panics for a user the server was not started with.
    pub fn directory(&self, user: &str) -> &Path {
        &self.account(user).1
    }

    pub fn password(&self, user: &str) -> Option<&str> {
        self.account(user).0.password.as_deref()
    }

    fn account(&self, user: &str) -> &(Account, PathBuf) {
        self.accounts
            .get(user)
            .unwrap_or_else(|| panic!("no account {user} on this SshServer"))
    }

    /// The login object as the run's secret holds it (see `leganto_shared::sftp` docs);
    /// `serde_json::from_value::<SftpLogin>` turns it into the adapter's login.
    pub fn login_json(&self, user: &str, auth: LoginAuth) -> serde_json::Value {
        let (account, dir) = self.account(user);
        let mut login = serde_json::json!({
            "host": self.host(),
            "port": self.port,
            "user": user,
            "host_key_sha256": self.host_key_sha256,
            "directory": dir.to_string_lossy(),
        });
        let fields = match auth {
            LoginAuth::Password => serde_json::json!({
                "password": account.password.clone()
                    .unwrap_or_else(|| panic!("account {user} has no password")),
            }),
            LoginAuth::PasswordText(password) => serde_json::json!({ "password": password }),
            LoginAuth::Key => match &self.client_key_passphrase {
                Some(passphrase) => serde_json::json!({
                    "private_key": self.client_private_key,
                    "passphrase": passphrase,
                }),
                None => serde_json::json!({ "private_key": self.client_private_key }),
            },
        };
        if let (Some(login), serde_json::Value::Object(fields)) = (login.as_object_mut(), fields) {
            login.extend(fields);
        }
        login
    }

    /// Names in the account's directory, sorted (hidden files included).
    pub fn files(&self, user: &str) -> io::Result<Vec<String>> {
        let mut names = fs::read_dir(self.directory(user))?
            .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<Vec<_>>>()?;
        names.sort();
        Ok(names)
    }

    /// Puts a file into the account's directory, owned by the account's user.
    pub fn put_file(&self, user: &str, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
        let path = self.directory(user).join(name);
        fs::write(&path, bytes)?;
        std::os::unix::fs::chown(&path, Some(id(user, "-u")?), Some(id(user, "-g")?))?;
        Ok(path)
    }

    pub fn read_file(&self, user: &str, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.directory(user).join(name))
    }

    /// sshd's own log (stderr, `-e`), for assertion messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.root.path().join("sshd.log")).unwrap_or_default()
    }

    /// File system calls of sshd and its sessions, one per line as strace prints them
    /// (`PID openat(AT_FDCWD, "/dir/.f.part", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 5`).
    /// Empty unless started with `trace_file_syscalls`.
    pub fn file_syscalls(&self) -> String {
        fs::read_to_string(self.root.path().join("fs.trace")).unwrap_or_default()
    }

    /// Stops sshd and every session it forked; the port then refuses connections.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Sessions run in forked children that outlive the listener: end them too.
        let pids: Vec<String> = descendants(child.id())
            .into_iter()
            .map(|pid| pid.to_string())
            .collect();
        let _ = child.kill();
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(&pids)
                .stderr(Stdio::null())
                .status();
        }
        let _ = child.wait();
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn sshd_config(
    port: u16,
    root: &Path,
    host_key: &Path,
    keys_dir: &Path,
    accounts: &BTreeMap<String, (Account, PathBuf)>,
) -> String {
    let users: Vec<&str> = accounts.keys().map(String::as_str).collect();
    let mut config = format!(
        "Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {pid}
UsePAM no
StrictModes no
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
AuthorizedKeysFile {keys}/%u
AllowUsers {users}
AllowTcpForwarding no
X11Forwarding no
MaxStartups 100:30:200
LogLevel VERBOSE
Subsystem sftp internal-sftp
",
        host_key = host_key.display(),
        pid = root.join("sshd.pid").display(),
        keys = keys_dir.display(),
        users = users.join(" "),
    );
    for (user, (account, dir)) in accounts {
        config.push_str(&format!(
            "Match User {user}\n    ForceCommand internal-sftp -d {dir}\n    PasswordAuthentication {pw}\n",
            dir = dir.display(),
            pw = if account.password.is_some() { "yes" } else { "no" },
        ));
    }
    config
}

fn keygen(path: &Path, kind: &[&str], passphrase: &str) -> io::Result<()> {
    let out = Command::new("ssh-keygen")
        .arg("-q")
        .args(kind)
        .arg("-N")
        .arg(passphrase)
        .arg("-C")
        .arg("leganto-test")
        .arg("-f")
        .arg(path)
        .stdin(Stdio::null())
        .output()?;
    check("ssh-keygen", &out)
}

fn fingerprint(public_key: &Path) -> io::Result<String> {
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(public_key)
        .output()?;
    check("ssh-keygen -l", &out)?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .filter(|f| f.starts_with("SHA256:"))
        .map(str::to_string)
        .ok_or_else(|| io::Error::other("ssh-keygen -l printed no SHA256 fingerprint"))
}

fn check(what: &str, out: &std::process::Output) -> io::Result<()> {
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn id(user: &str, flag: &str) -> io::Result<u32> {
    let out = Command::new("id").arg(flag).arg(user).output()?;
    check("id", &out)?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| io::Error::other(format!("id {flag} {user}: {e}")))
}

/// Creates the system user if missing and sets or unlocks its password. Tolerates other
/// processes doing the same at once (`useradd` exit 9 = exists; lock contention is retried).
fn ensure_user(user: &str, password: Option<&str>) -> io::Result<()> {
    let mut last = String::new();
    for attempt in 0..40 {
        if attempt > 0 {
            sleep(Duration::from_millis(50));
        }
        if id(user, "-u").is_err() {
            let out = Command::new("useradd")
                .args(["-M", "-s", "/usr/sbin/nologin", user])
                .output()?;
            if !out.status.success() && out.status.code() != Some(9) {
                last = format!("useradd: {}", String::from_utf8_lossy(&out.stderr).trim());
                continue;
            }
        }
        let result = match password {
            Some(password) => {
                let mut child = Command::new("chpasswd")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()?;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(format!("{user}:{password}\n").as_bytes())?;
                }
                child.wait_with_output()?
            }
            // A fresh user is locked (`!`), which sshd refuses even for key login; `*` is
            // "no password" without the lock. A password set elsewhere is kept.
            None if shadow_locked(user)? => {
                Command::new("usermod").args(["-p", "*", user]).output()?
            }
            None => return Ok(()),
        };
        if result.status.success() {
            return Ok(());
        }
        last = format!(
            "password: {}",
            String::from_utf8_lossy(&result.stderr).trim()
        );
    }
    Err(io::Error::other(format!(
        "could not set up user {user}: {last}"
    )))
}

fn shadow_locked(user: &str) -> io::Result<bool> {
    let shadow = fs::read_to_string("/etc/shadow")?;
    Ok(shadow
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| *name == user)
        .map(|(_, rest)| rest.starts_with('!'))
        .unwrap_or(true))
}

/// All processes below `root` (from /proc), deepest last.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // Field 4 (ppid) follows the parenthesised command name, which may hold spaces.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// A directory removed on drop (the tests crate's library does not depend on `tempfile`).
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> io::Result<Self> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&path)?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
