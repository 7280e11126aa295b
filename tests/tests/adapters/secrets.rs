use leganto_shared::error::ErrorName as _;
use leganto_shared::secrets::{Secrets, SecretsError};
use leganto_shared::sftp::SftpAuth;
use leganto_tests::moto::Moto;
use secrecy::ExposeSecret;

const PIN: &str = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

fn secret_json() -> serde_json::Value {
    serde_json::json!({
        "alma_api_key": "l8xx-alma-key-VALUE",
        "cem_sftp": {"host": "127.0.0.1", "port": 2222, "user": "cem",
                     "password": "cem-password-VALUE", "host_key_sha256": PIN,
                     "directory": "/outgoing"},
        "alma_sftp": {"host": "127.0.0.1", "port": 2222, "user": "alma",
                      "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nalma-key-VALUE\n-----END OPENSSH PRIVATE KEY-----\n",
                      "host_key_sha256": PIN, "directory": "/incoming"},
        "slack_webhook_url": "http://127.0.0.1:9/services/T/B/webhook-VALUE"
    })
}

async fn client(moto: &Moto) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await)
}

async fn create(client: &aws_sdk_secretsmanager::Client, name: &str, text: &str) {
    client
        .create_secret()
        .name(name)
        .secret_string(text)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn secrets_load_from_secrets_manager_and_print_as_redacted() {
    let moto = Moto::start();
    let client = client(&moto).await;
    create(&client, "leganto/test", &secret_json().to_string()).await;

    let secrets = Secrets::load(&client, "leganto/test").await.unwrap();
    assert_eq!(secrets.alma_api_key.expose_secret(), "l8xx-alma-key-VALUE");
    assert_eq!(secrets.cem_sftp.user, "cem");
    assert_eq!(secrets.cem_sftp.port, 2222);
    assert!(matches!(secrets.cem_sftp.auth, SftpAuth::Password(_)));
    assert!(matches!(
        secrets.alma_sftp.auth,
        SftpAuth::PrivateKey { .. }
    ));
    assert_eq!(secrets.alma_sftp.directory, "/incoming");

    let shown = format!("{secrets:?}");
    assert!(!shown.contains("VALUE"), "a secret value leaked: {shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[tokio::test]
async fn a_secret_without_the_slack_webhook_names_the_missing_field() {
    let moto = Moto::start();
    let client = client(&moto).await;
    let mut json = secret_json();
    json.as_object_mut().unwrap().remove("slack_webhook_url");
    create(&client, "leganto/partial", &json.to_string()).await;

    let err = Secrets::load(&client, "leganto/partial").await.unwrap_err();
    assert!(
        matches!(&err, SecretsError::MissingField { field } if field == "slack_webhook_url"),
        "{err:?}"
    );
    assert_eq!(err.error_name(), "SecretInvalid");
    assert!(!format!("{err} {err:?}").contains("VALUE"));
}

#[tokio::test]
async fn a_secret_that_does_not_exist_is_unavailable_and_named() {
    let moto = Moto::start();
    let client = client(&moto).await;
    let err = Secrets::load(&client, "leganto/absent").await.unwrap_err();
    assert!(matches!(err, SecretsError::Unavailable { .. }), "{err:?}");
    assert_eq!(err.error_name(), "SecretsUnavailable");
    assert!(err.to_string().contains("leganto/absent"), "{err}");
}
