//! Wrong password, pinned host key mismatch, server gone, closed port, silent server.

use leganto_shared::error::ErrorName as _;
use std::error::Error as _;
use std::net::TcpListener;
use std::time::Duration;

use leganto_shared::sftp::{format_fingerprint, SftpClient, SftpError, SftpLogin, UploadOutcome};
use leganto_tests::sshd::{default_password, LoginAuth};

use super::{client, login, server, TIMEOUT, USER};

/// Display, Debug and every source in the chain.
fn everything_shown(err: &SftpError) -> String {
    let mut shown = format!("{err}\n{err:?}");
    let mut source = err.source();
    while let Some(inner) = source {
        shown.push_str(&format!("\n{inner}"));
        source = inner.source();
    }
    shown
}

#[tokio::test]
async fn wrong_password_is_authentication_failed_and_the_password_is_not_shown() {
    let server = server();
    let wrong = "Wr0ng-Secret-Value";
    let sftp = client(&server, LoginAuth::PasswordText(wrong.into()));
    let err = sftp.list().await.unwrap_err();
    assert!(
        matches!(err, SftpError::AuthenticationFailed { .. }),
        "{err:?}"
    );
    assert_eq!(err.error_name(), "SftpAuthFailed");
    assert!(!err.is_transient());
    let shown = everything_shown(&err);
    assert!(shown.contains(USER), "{shown}");
    assert!(!shown.contains(wrong), "{shown}");
    assert!(!shown.contains(&default_password(USER)), "{shown}");
}

#[tokio::test]
async fn key_login_for_an_account_without_the_key_is_authentication_failed() {
    let server = leganto_tests::sshd::SshServer::start(leganto_tests::sshd::SshServerOptions {
        accounts: vec![leganto_tests::sshd::Account::new(USER).password_only()],
        ..Default::default()
    })
    .unwrap();
    let err = client(&server, LoginAuth::Key).list().await.unwrap_err();
    assert_eq!(err.error_name(), "SftpAuthFailed", "{err}");
    assert!(!everything_shown(&err).contains("PRIVATE KEY"));
}

#[tokio::test]
async fn host_key_mismatch_is_refused_before_login_and_nothing_is_transferred() {
    let server = server();
    server
        .put_file(USER, "leganto_export_20261128.csv", b"data")
        .unwrap();
    let before = server.files(USER).unwrap();
    let pinned = format_fingerprint(&[7u8; 32]);
    let mut wrong_pin = login(&server, USER, LoginAuth::Password);
    wrong_pin.host_key_sha256 = vec![pinned.clone()];
    let sftp = SftpClient::new(wrong_pin, TIMEOUT);

    let err = sftp
        .upload_atomic("20261128092514.txt", b"loader".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "HostKeyMismatch", "{err}");
    let shown = everything_shown(&err);
    assert!(
        shown.contains(&pinned),
        "expected fingerprint shown: {shown}"
    );
    assert!(
        shown.contains(server.host_key_sha256()),
        "actual fingerprint shown: {shown}"
    );
    assert!(shown.contains("ssh-ed25519"), "key type shown: {shown}");
    assert!(!shown.contains(&default_password(USER)), "{shown}");

    let err = sftp
        .download("leganto_export_20261128.csv")
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "HostKeyMismatch", "{err}");
    assert_eq!(server.files(USER).unwrap(), before, "directory unchanged");
    let log = server.log();
    assert!(
        !log.contains("Accepted") && !log.contains("Failed password"),
        "no credential reached the server; log:\n{log}"
    );
}

#[tokio::test]
async fn a_rotated_host_key_pinned_second_in_the_list_connects() {
    let server = server();
    let mut json = server.login_json(USER, LoginAuth::Password);
    let old_key = format_fingerprint(&[3u8; 32]);
    json["host_key_sha256"] = serde_json::json!([old_key, server.host_key_sha256()]);
    let login: SftpLogin = serde_json::from_value(json).unwrap();
    let outcome = SftpClient::new(login, TIMEOUT)
        .upload_atomic("20261128092514.txt", b"loader".to_vec())
        .await
        .unwrap();
    assert_eq!(outcome, UploadOutcome::Uploaded);
    assert_eq!(server.files(USER).unwrap(), ["20261128092514.txt"]);
}

#[tokio::test]
async fn a_host_key_in_no_pin_of_the_list_is_refused_before_login() {
    let server = server();
    let pins = [
        format_fingerprint(&[3u8; 32]),
        format_fingerprint(&[4u8; 32]),
    ];
    let mut json = server.login_json(USER, LoginAuth::Password);
    json["host_key_sha256"] = serde_json::json!(pins);
    let login: SftpLogin = serde_json::from_value(json).unwrap();
    let err = SftpClient::new(login, TIMEOUT).list().await.unwrap_err();
    assert!(matches!(err, SftpError::HostKeyMismatch { .. }), "{err:?}");
    let shown = everything_shown(&err);
    for pin in &pins {
        assert!(shown.contains(pin.as_str()), "each pin shown: {shown}");
    }
    assert!(shown.contains(server.host_key_sha256()), "{shown}");
    assert!(shown.contains("add the new fingerprint"), "{shown}");
    let log = server.log();
    assert!(
        !log.contains("Accepted") && !log.contains("Failed password"),
        "no credential reached the server; log:\n{log}"
    );
}

#[tokio::test]
async fn a_host_name_that_does_not_resolve_is_unavailable_within_the_timeout() {
    let server = server();
    let mut nowhere = login(&server, USER, LoginAuth::Key);
    // `.invalid` never resolves (RFC 6761).
    nowhere.host = "sftp.leganto.invalid".into();
    let started = std::time::Instant::now();
    let err = SftpClient::new(nowhere, Duration::from_secs(2))
        .list()
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "SftpUnavailable", "{err}");
    assert!(err.to_string().contains("resolve"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_malformed_pinned_fingerprint_is_a_login_error() {
    let server = server();
    let mut json = server.login_json(USER, LoginAuth::Key);
    json["host_key_sha256"] = "ab:cd:ef".into();
    let err = serde_json::from_value::<leganto_shared::sftp::SftpLogin>(json).unwrap_err();
    assert!(err.to_string().contains("SHA256"), "{err}");
}

#[tokio::test]
async fn server_gone_mid_run_is_unavailable() {
    let mut server = server();
    let sftp = client(&server, LoginAuth::Key);
    sftp.upload_atomic("first.txt", b"1".to_vec())
        .await
        .unwrap();
    server.stop();

    let err = tokio::time::timeout(TIMEOUT * 3, sftp.upload_atomic("second.txt", b"2".to_vec()))
        .await
        .expect("returns instead of hanging")
        .unwrap_err();
    assert_eq!(err.error_name(), "SftpUnavailable", "{err}");
    assert!(err.is_transient());
    assert_eq!(server.files(USER).unwrap(), ["first.txt"]);
}

#[tokio::test]
async fn connecting_to_a_closed_port_is_unavailable() {
    let server = server();
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut closed = login(&server, USER, LoginAuth::Key);
    closed.port = port;
    let err = SftpClient::new(closed, TIMEOUT).list().await.unwrap_err();
    assert_eq!(err.error_name(), "SftpUnavailable", "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.to_string().contains("connect"), "{err}");
}

#[tokio::test]
async fn a_server_that_accepts_but_never_answers_times_out_as_unavailable() {
    let server = server();
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    // Keep accepted connections open and silent until the test ends.
    let holder = std::thread::spawn(move || {
        let (stream, _) = silent.accept().unwrap();
        std::thread::sleep(Duration::from_secs(5));
        drop(stream);
    });
    let mut login = login(&server, USER, LoginAuth::Key);
    login.port = port;
    let err = SftpClient::new(login, Duration::from_millis(500))
        .list()
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "SftpUnavailable", "{err}");
    assert!(err.to_string().contains("handshake"), "{err}");
    holder.join().unwrap();
}
