//! Key formats a campus server may hand out: OpenSSH ed25519, RSA PEM, with a passphrase.

use leganto_shared::error::ErrorName as _;
use leganto_shared::sftp::{SftpClient, UploadOutcome};
use leganto_tests::sshd::{Account, ClientKeyType, LoginAuth, SshServer, SshServerOptions};

use super::{login, TIMEOUT, USER};

fn server_with(kind: ClientKeyType, passphrase: Option<&str>) -> SshServer {
    SshServer::start(SshServerOptions {
        accounts: vec![Account::new(USER).key_only()],
        client_key_type: kind,
        client_key_passphrase: passphrase.map(str::to_string),
        ..SshServerOptions::default()
    })
    .unwrap()
}

async fn key_login_uploads(server: &SshServer) {
    let sftp = SftpClient::new(login(server, USER, LoginAuth::Key), TIMEOUT);
    let outcome = sftp
        .upload_atomic("k.txt", b"key login".to_vec())
        .await
        .unwrap();
    assert_eq!(outcome, UploadOutcome::Uploaded);
    assert_eq!(server.read_file(USER, "k.txt").unwrap(), b"key login");
}

#[tokio::test]
async fn openssh_ed25519_key_text_logs_in() {
    let server = server_with(ClientKeyType::Ed25519, None);
    assert!(server
        .client_private_key()
        .contains("BEGIN OPENSSH PRIVATE KEY"));
    key_login_uploads(&server).await;
}

#[tokio::test]
async fn rsa_pem_key_text_logs_in() {
    let server = server_with(ClientKeyType::RsaPem, None);
    assert!(server
        .client_private_key()
        .contains("BEGIN RSA PRIVATE KEY"));
    key_login_uploads(&server).await;
}

#[tokio::test]
async fn passphrase_protected_key_logs_in_with_its_passphrase() {
    let server = server_with(ClientKeyType::Ed25519, Some("key-Passphrase-1"));
    // The key really is encrypted: an OpenSSH key names its KDF ("bcrypt", not "none").
    let pem = server.client_private_key();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .unwrap();
    assert!(key.starts_with(b"openssh-key-v1\0"), "{pem}");
    assert!(
        key.windows(b"bcrypt".len()).any(|w| w == b"bcrypt"),
        "the key is not passphrase-encrypted"
    );
    key_login_uploads(&server).await;
}

#[tokio::test]
async fn passphrase_protected_key_with_the_wrong_passphrase_is_refused_without_showing_it() {
    let server = server_with(ClientKeyType::RsaPem, Some("key-Passphrase-2"));
    let mut json = server.login_json(USER, LoginAuth::Key);
    json["passphrase"] = "Not-The-Passphrase".into();
    let sftp = SftpClient::new(serde_json::from_value(json).unwrap(), TIMEOUT);
    let err = sftp.list().await.unwrap_err();
    assert!(
        matches!(err.error_name(), "SftpLoginInvalid" | "SftpAuthFailed"),
        "{err}"
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("Not-The-Passphrase") && !shown.contains("key-Passphrase-2"));
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
}

#[tokio::test]
async fn password_login_is_refused_where_the_account_is_key_only() {
    let server = server_with(ClientKeyType::Ed25519, None);
    let sftp = SftpClient::new(
        login(
            &server,
            USER,
            LoginAuth::PasswordText(leganto_tests::sshd::default_password(USER)),
        ),
        TIMEOUT,
    );
    let err = sftp.list().await.unwrap_err();
    assert_eq!(err.error_name(), "SftpAuthFailed", "{err}");
}
