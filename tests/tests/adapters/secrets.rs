//! Each secret from Secrets Manager (moto), parsed into its type and printed redacted, and
//! the step context's short-lived cache of them.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use leganto_shared::config::Config;
use leganto_shared::error::ErrorName as _;
use leganto_shared::secrets::{self, AlmaApiKey, SecretsError, SlackWebhookUrl};
use leganto_shared::sftp::{SftpAuth, SftpLogin};
use leganto_shared::steps::StepContext;
use leganto_tests::moto::{Moto, REGION};
use secrecy::ExposeSecret;

const PIN: &str = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

fn cem_login() -> serde_json::Value {
    serde_json::json!({"host": "127.0.0.1", "port": 2222, "user": "cem",
                       "password": "cem-password-VALUE", "host_key_sha256": PIN,
                       "directory": "/outgoing"})
}

fn alma_login() -> serde_json::Value {
    serde_json::json!({"host": "127.0.0.1", "port": 2222, "user": "alma",
                       "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nalma-key-VALUE\n-----END OPENSSH PRIVATE KEY-----\n",
                       "host_key_sha256": PIN, "directory": "/incoming"})
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
async fn each_secret_loads_from_secrets_manager_and_prints_as_redacted() {
    let moto = Moto::start();
    let client = client(&moto).await;
    create(
        &client,
        "leganto/alma-api-key",
        r#"{"api_key": "l8xx-alma-key-VALUE"}"#,
    )
    .await;
    create(&client, "leganto/cem-sftp", &cem_login().to_string()).await;
    create(&client, "leganto/alma-sftp", &alma_login().to_string()).await;
    create(
        &client,
        "leganto/slack-webhook",
        r#"{"webhook_url": "http://127.0.0.1:9/services/T/B/webhook-VALUE"}"#,
    )
    .await;

    let key: AlmaApiKey = secrets::load(&client, "leganto/alma-api-key")
        .await
        .unwrap();
    assert_eq!(key.api_key.expose_secret(), "l8xx-alma-key-VALUE");
    let cem: SftpLogin = secrets::load(&client, "leganto/cem-sftp").await.unwrap();
    assert_eq!(cem.user, "cem");
    assert_eq!(cem.port, 2222);
    assert!(matches!(cem.auth, SftpAuth::Password(_)));
    let alma: SftpLogin = secrets::load(&client, "leganto/alma-sftp").await.unwrap();
    assert!(matches!(alma.auth, SftpAuth::PrivateKey { .. }));
    assert_eq!(alma.directory, "/incoming");
    let slack: SlackWebhookUrl = secrets::load(&client, "leganto/slack-webhook")
        .await
        .unwrap();
    assert!(slack.webhook_url.expose_secret().ends_with("webhook-VALUE"));

    let shown = format!("{key:?} {cem:?} {alma:?} {slack:?}");
    assert!(!shown.contains("VALUE"), "a secret value leaked: {shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[tokio::test]
async fn a_secret_of_the_wrong_shape_names_the_secret_and_the_missing_field() {
    let moto = Moto::start();
    let client = client(&moto).await;
    // The Slack secret given the Alma key's shape.
    create(&client, "leganto/partial", r#"{"api_key": "key-VALUE"}"#).await;

    let err = secrets::load::<SlackWebhookUrl>(&client, "leganto/partial")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SecretsError::MissingField { field, .. } if field == "webhook_url"),
        "{err:?}"
    );
    assert_eq!(err.error_name(), "SecretInvalid");
    assert!(err.to_string().contains("leganto/partial"), "{err}");
    assert!(!format!("{err} {err:?}").contains("VALUE"));
}

#[tokio::test]
async fn a_secret_that_does_not_exist_is_unavailable_and_named() {
    let moto = Moto::start();
    let client = client(&moto).await;
    let err = secrets::load::<AlmaApiKey>(&client, "leganto/absent")
        .await
        .unwrap_err();
    assert!(matches!(err, SecretsError::Unavailable { .. }), "{err:?}");
    assert_eq!(err.error_name(), "SecretsUnavailable");
    assert!(err.to_string().contains("leganto/absent"), "{err}");
}

/// A step context reading only the Alma key's secret, on a clock the test moves.
async fn context(moto: &Moto, clock: Arc<Mutex<DateTime<Utc>>>) -> StepContext {
    let config = Config::from_lookup(|name| {
        let value = match name {
            "BUCKET" => "secrets-bucket",
            "ALMA_API_KEY_SECRET_ID" => "leganto/rotated",
            "ALMA_BASE_URL" => "http://127.0.0.1:9",
            "EMAIL_FROM" => "a@example.edu",
            "EMAIL_TO" => "b@example.edu",
            "AWS_REGION" => REGION,
            _ => return None,
        };
        Some(value.to_string())
    })
    .unwrap();
    StepContext::new(config, &moto.sdk_config().await)
        .with_clock(Arc::new(move || *clock.lock().unwrap()))
}

#[tokio::test]
async fn a_rotated_secret_applies_once_the_cached_one_is_five_minutes_old() {
    let moto = Moto::start();
    let client = client(&moto).await;
    create(&client, "leganto/rotated", r#"{"api_key": "old-key"}"#).await;
    let start = DateTime::parse_from_rfc3339("2026-11-28T16:20:00Z")
        .unwrap()
        .to_utc();
    let clock = Arc::new(Mutex::new(start));
    let ctx = context(&moto, Arc::clone(&clock)).await;
    assert_eq!(
        ctx.alma_api_key().await.unwrap().api_key.expose_secret(),
        "old-key"
    );
    client
        .put_secret_value()
        .secret_id("leganto/rotated")
        .secret_string(r#"{"api_key": "new-key"}"#)
        .send()
        .await
        .unwrap();

    *clock.lock().unwrap() = start + TimeDelta::seconds(4 * 60 + 59);
    assert_eq!(
        ctx.alma_api_key().await.unwrap().api_key.expose_secret(),
        "old-key",
        "a warm Lambda reuses the secret for a while"
    );
    *clock.lock().unwrap() = start + TimeDelta::minutes(5);
    assert_eq!(
        ctx.alma_api_key().await.unwrap().api_key.expose_secret(),
        "new-key",
        "the rotated key applies without a cold start"
    );

    // A secret this context is not told of is a setting error, before any fetch.
    let err = ctx.slack_webhook_url().await.unwrap_err();
    assert_eq!(err.error_name(), "InvalidConfig");
    assert!(
        err.message().contains("SLACK_WEBHOOK_SECRET_ID"),
        "{}",
        err.message()
    );
}
