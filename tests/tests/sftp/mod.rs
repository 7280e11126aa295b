//! The SFTP adapter against a real OpenSSH sshd on loopback (`leganto_tests::sshd`).
//!
//! Needs root (creates system users) and `/usr/sbin/sshd` (`infra/local/setup.sh`).

mod failures;
mod keys;
mod transfer;
mod upload;

use std::time::Duration;

use leganto_shared::sftp::{SftpClient, SftpLogin};
use leganto_tests::sshd::{Account, LoginAuth, SshServer, SshServerOptions};

/// Generous: only reached when something is wrong.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub const USER: &str = "alma_sftp";

/// One account (`alma_sftp`) with password and key login.
pub fn server() -> SshServer {
    SshServer::start(SshServerOptions {
        accounts: vec![Account::new(USER)],
        ..SshServerOptions::default()
    })
    .expect("sshd starts")
}

pub fn login(server: &SshServer, user: &str, auth: LoginAuth) -> SftpLogin {
    serde_json::from_value(server.login_json(user, auth)).expect("login JSON is valid")
}

pub fn client(server: &SshServer, auth: LoginAuth) -> SftpClient {
    SftpClient::new(login(server, USER, auth), TIMEOUT)
}

/// Deterministic bytes that are not all alike (xorshift).
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
