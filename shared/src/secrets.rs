//! The run's secrets: one Secrets Manager secret per purpose, so each function's role can
//! read only what its step uses.
//!
//! | purpose | setting (the secret's name or ARN) | SecretString |
//! | --- | --- | --- |
//! | Alma API key | `ALMA_API_KEY_SECRET_ID` | `{"api_key": "l8xx..."}` |
//! | CEM SFTP login | `CEM_SFTP_SECRET_ID` | the login object of [`crate::sftp`] |
//! | Alma SFTP login | `ALMA_SFTP_SECRET_ID` | the login object of [`crate::sftp`] |
//! | Slack webhook | `SLACK_WEBHOOK_SECRET_ID` | `{"webhook_url": "https://hooks.slack.com/services/..."}` |
//!
//! The SFTP login object:
//! ```json
//! {"host": "...", "port": 22, "user": "...", "password": "..." | "private_key": "...",
//!  "host_key_sha256": "SHA256:..." | ["SHA256:<old>", "SHA256:<new>"], "directory": "/..."}
//! ```
//! A warm Lambda keeps what it fetched for [`SECRET_CACHE_TTL`] ([`SecretCache`]). Values
//! live in `SecretString`s; `Debug` shows `[redacted]`, and errors name the secret and the
//! field at fault, never a value.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use tracing::instrument;

use crate::error::BoxError;
use crate::sftp::SftpLogin;

/// How long a warm Lambda reuses a fetched secret. Short, so a rotated key or password
/// applies within minutes without waiting for a cold start; long enough that a run's
/// steps (and Map iterations in one container) fetch each secret about once.
pub const SECRET_CACHE_TTL: Duration = Duration::from_secs(5 * 60);

/// The four secrets, each named by its own setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretPurpose {
    AlmaApiKey,
    CemSftp,
    AlmaSftp,
    SlackWebhook,
}

impl SecretPurpose {
    pub const ALL: [SecretPurpose; 4] = [
        SecretPurpose::AlmaApiKey,
        SecretPurpose::CemSftp,
        SecretPurpose::AlmaSftp,
        SecretPurpose::SlackWebhook,
    ];

    /// The environment variable holding the secret's name or ARN.
    pub fn setting(self) -> &'static str {
        match self {
            SecretPurpose::AlmaApiKey => "ALMA_API_KEY_SECRET_ID",
            SecretPurpose::CemSftp => "CEM_SFTP_SECRET_ID",
            SecretPurpose::AlmaSftp => "ALMA_SFTP_SECRET_ID",
            SecretPurpose::SlackWebhook => "SLACK_WEBHOOK_SECRET_ID",
        }
    }
}

/// The Alma API key: `{"api_key": "..."}`. Sent only in the `Authorization: apikey …` header.
#[derive(Clone)]
pub struct AlmaApiKey {
    pub api_key: SecretString,
}

impl fmt::Debug for AlmaApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlmaApiKey")
            .field("api_key", &format_args!("[redacted]"))
            .finish()
    }
}

/// The Slack incoming webhook: `{"webhook_url": "https://hooks.slack.com/services/..."}`
/// (the URL is the credential).
#[derive(Clone)]
pub struct SlackWebhookUrl {
    pub webhook_url: SecretString,
}

impl fmt::Debug for SlackWebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackWebhookUrl")
            .field("webhook_url", &format_args!("[redacted]"))
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("could not read secret {secret_id} from Secrets Manager")]
    Unavailable {
        secret_id: String,
        #[source]
        source: BoxError,
    },
    #[error("secret {secret_id} has no SecretString (binary secrets are not supported)")]
    NotText { secret_id: String },
    #[error("secret {secret_id} is not a JSON object (line {line}, column {column})")]
    NotJson {
        secret_id: String,
        line: usize,
        column: usize,
    },
    #[error("secret {secret_id} lacks the field `{field}`")]
    MissingField { secret_id: String, field: String },
    #[error("secret {secret_id}: field `{field}` is invalid: {reason}")]
    BadField {
        secret_id: String,
        field: String,
        reason: String,
    },
    /// The object as a whole (an unknown field, a login with two ways in, ...).
    #[error("secret {secret_id} is invalid: {reason}")]
    Invalid { secret_id: String, reason: String },
}

impl crate::error::ErrorName for SecretsError {
    fn error_name(&self) -> &'static str {
        match self {
            SecretsError::Unavailable { .. } => "SecretsUnavailable",
            _ => "SecretInvalid",
        }
    }
}

/// What one secret holds, parsed from its JSON object.
pub trait SecretValue: Sized {
    /// `secret_id` only names the secret in errors.
    fn from_object(
        secret_id: &str,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, SecretsError>;
}

impl SecretValue for AlmaApiKey {
    fn from_object(
        secret_id: &str,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, SecretsError> {
        Ok(AlmaApiKey {
            api_key: one_string(secret_id, fields, "api_key")?,
        })
    }
}

impl SecretValue for SlackWebhookUrl {
    fn from_object(
        secret_id: &str,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, SecretsError> {
        Ok(SlackWebhookUrl {
            webhook_url: one_string(secret_id, fields, "webhook_url")?,
        })
    }
}

impl SecretValue for SftpLogin {
    fn from_object(
        secret_id: &str,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, SecretsError> {
        deserialize(secret_id, serde_json::Value::Object(fields))
    }
}

/// Parses a secret's JSON text.
pub fn parse<T: SecretValue>(secret_id: &str, text: &str) -> Result<T, SecretsError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| SecretsError::NotJson {
            secret_id: secret_id.to_string(),
            line: e.line(),
            column: e.column(),
        })?;
    let serde_json::Value::Object(fields) = value else {
        return Err(SecretsError::NotJson {
            secret_id: secret_id.to_string(),
            line: 1,
            column: 1,
        });
    };
    if let Some(field) = placeholder_field(&fields) {
        return Err(SecretsError::BadField {
            secret_id: secret_id.to_string(),
            field,
            reason: format!("still holds the placeholder {PLACEHOLDER}"),
        });
    }
    T::from_object(secret_id, fields)
}

/// What the stack's own secrets hold until someone fills them in (template.yaml).
pub const PLACEHOLDER: &str = "REPLACE_ME";

/// The first field whose text (or any text in its list) still holds [`PLACEHOLDER`]: a
/// fresh deployment's secret fails here, named, before any login is tried with it.
fn placeholder_field(fields: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    let holds = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.contains(PLACEHOLDER),
        serde_json::Value::Array(items) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|s| s.contains(PLACEHOLDER))),
        _ => false,
    };
    fields
        .iter()
        .find(|(_, v)| holds(v))
        .map(|(k, _)| k.clone())
}

/// Fetches and parses the secret `secret_id` (name or ARN).
#[instrument(skip(client), err)]
pub async fn load<T: SecretValue>(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<T, SecretsError> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| SecretsError::Unavailable {
            secret_id: secret_id.to_string(),
            source: e.into(),
        })?;
    let text = output
        .secret_string()
        .ok_or_else(|| SecretsError::NotText {
            secret_id: secret_id.to_string(),
        })?;
    parse(secret_id, text)
}

/// One secret as a warm Lambda keeps it: reused for [`SECRET_CACHE_TTL`] after it was
/// fetched, then fetched again. A failed fetch leaves nothing cached.
pub struct SecretCache<T> {
    slot: tokio::sync::Mutex<Option<(Arc<T>, DateTime<Utc>)>>,
}

impl<T> Default for SecretCache<T> {
    fn default() -> Self {
        SecretCache {
            slot: tokio::sync::Mutex::new(None),
        }
    }
}

impl<T> SecretCache<T> {
    /// The cached value if fetched less than the TTL before `now`, else `fetch`'s.
    /// Concurrent callers wait for one fetch rather than each making their own.
    pub async fn get_or_fetch<F, Fut>(
        &self,
        now: DateTime<Utc>,
        fetch: F,
    ) -> Result<Arc<T>, SecretsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, SecretsError>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((value, fetched_at)) = slot.as_ref() {
            // A clock that went backwards counts as expired: fetching again is harmless.
            let fresh = (now - *fetched_at)
                .to_std()
                .is_ok_and(|age| age < SECRET_CACHE_TTL);
            if fresh {
                return Ok(Arc::clone(value));
            }
        }
        *slot = None;
        let value = Arc::new(fetch().await?);
        *slot = Some((Arc::clone(&value), now));
        Ok(value)
    }

    /// Drops the value held, so the next use fetches the secret again.
    pub async fn clear(&self) {
        *self.slot.lock().await = None;
    }

    /// Whether a value is held (expired or not); for `Debug` output.
    pub fn is_loaded(&self) -> bool {
        self.slot.try_lock().map(|s| s.is_some()).unwrap_or(true)
    }
}

/// The one string field of a single-value secret; any other field is a mistake worth naming.
fn one_string(
    secret_id: &str,
    mut fields: serde_json::Map<String, serde_json::Value>,
    name: &'static str,
) -> Result<SecretString, SecretsError> {
    let value = fields
        .remove(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| SecretsError::MissingField {
            secret_id: secret_id.to_string(),
            field: name.to_string(),
        })?;
    if let Some(other) = fields.keys().next() {
        return Err(SecretsError::BadField {
            secret_id: secret_id.to_string(),
            field: other.clone(),
            reason: format!("unexpected; this secret holds only `{name}`"),
        });
    }
    let bad = |reason: &str| SecretsError::BadField {
        secret_id: secret_id.to_string(),
        field: name.to_string(),
        reason: reason.into(),
    };
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Ok(SecretString::from(s)),
        serde_json::Value::String(_) => Err(bad("is empty")),
        _ => Err(bad("must be a string")),
    }
}

fn deserialize<T: DeserializeOwned>(
    secret_id: &str,
    value: serde_json::Value,
) -> Result<T, SecretsError> {
    serde_json::from_value(value).map_err(|e| {
        let message = e.to_string();
        match message.strip_prefix("missing field `") {
            Some(rest) => SecretsError::MissingField {
                secret_id: secret_id.to_string(),
                field: rest.split('`').next().unwrap_or_default().to_string(),
            },
            None => SecretsError::Invalid {
                secret_id: secret_id.to_string(),
                reason: without_values(&message),
            },
        }
    })
}

/// serde's "invalid type: string \"<value>\", expected u16" quotes the value; keep only
/// what was expected. Other messages (unknown or duplicate field, our own checks) name
/// fields only.
fn without_values(message: &str) -> String {
    let quotes_a_value = ["invalid type:", "invalid value:", "invalid length"]
        .iter()
        .any(|p| message.starts_with(p));
    if !quotes_a_value {
        return message.to_string();
    }
    match message.rsplit_once(", expected ") {
        Some((_, expected)) => format!("wrong type or value, expected {expected}"),
        None => "wrong type or value".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName as _;
    use crate::sftp::SftpAuth;
    use secrecy::ExposeSecret;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const PIN: &str = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
    const ID: &str = "leganto/test";

    fn cem_login() -> serde_json::Value {
        serde_json::json!({"host": "cem.example.edu", "port": 22, "user": "leganto",
                           "password": "CEM-PASSWORD-VALUE", "host_key_sha256": PIN,
                           "directory": "/outgoing"})
    }

    fn alma_login() -> serde_json::Value {
        serde_json::json!({"host": "alma.example.edu", "user": "asu",
                           "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nALMA-KEY-TEXT\n",
                           "passphrase": "ALMA-PASSPHRASE", "host_key_sha256": PIN,
                           "directory": "/incoming/courses"})
    }

    #[test]
    fn each_secret_parses_its_own_shape() {
        let key: AlmaApiKey = parse(ID, r#"{"api_key": "l8xx-ALMA-KEY-VALUE"}"#).unwrap();
        assert_eq!(key.api_key.expose_secret(), "l8xx-ALMA-KEY-VALUE");
        let slack: SlackWebhookUrl = parse(
            ID,
            r#"{"webhook_url": "https://hooks.slack.com/services/T0/B0/WEBHOOK-TOKEN"}"#,
        )
        .unwrap();
        assert!(slack.webhook_url.expose_secret().ends_with("WEBHOOK-TOKEN"));
        let cem: SftpLogin = parse(ID, &cem_login().to_string()).unwrap();
        assert_eq!(cem.host, "cem.example.edu");
        assert!(matches!(cem.auth, SftpAuth::Password(_)));
        let alma: SftpLogin = parse(ID, &alma_login().to_string()).unwrap();
        assert_eq!(alma.directory, "/incoming/courses");
        assert_eq!(alma.port, 22);
    }

    #[test]
    fn a_field_still_holding_the_placeholder_is_named_without_its_value() {
        let err = parse::<AlmaApiKey>(ID, r#"{"api_key": "REPLACE_ME"}"#).unwrap_err();
        assert!(
            matches!(&err, SecretsError::BadField { field, .. } if field == "api_key"),
            "{err:?}"
        );
        assert_eq!(err.error_name(), "SecretInvalid");
        let mut login = cem_login();
        login["host_key_sha256"] = serde_json::json!(["SHA256:REPLACE_ME"]);
        let err = parse::<SftpLogin>(ID, &login.to_string()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret leganto/test: field `host_key_sha256` is invalid: still holds the placeholder REPLACE_ME"
        );
    }

    #[test]
    fn debug_output_shows_no_secret_value() {
        let key: AlmaApiKey = parse(ID, r#"{"api_key": "l8xx-ALMA-KEY-VALUE"}"#).unwrap();
        let slack: SlackWebhookUrl =
            parse(ID, r#"{"webhook_url": "https://hooks/WEBHOOK-TOKEN"}"#).unwrap();
        let cem: SftpLogin = parse(ID, &cem_login().to_string()).unwrap();
        let alma: SftpLogin = parse(ID, &alma_login().to_string()).unwrap();
        let shown = format!("{key:?} {key:#?} {slack:?} {slack:#?} {cem:?} {alma:#?}");
        for value in [
            "l8xx-ALMA-KEY-VALUE",
            "CEM-PASSWORD-VALUE",
            "ALMA-KEY-TEXT",
            "ALMA-PASSPHRASE",
            "WEBHOOK-TOKEN",
        ] {
            assert!(!shown.contains(value), "{value} leaked: {shown}");
        }
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn a_missing_field_is_named_with_its_secret() {
        let err = parse::<AlmaApiKey>(ID, r#"{"alma_api_key": "VALUE"}"#).unwrap_err();
        assert!(
            matches!(&err, SecretsError::MissingField { field, .. } if field == "api_key"),
            "{err:?}"
        );
        assert_eq!(err.error_name(), "SecretInvalid");
        let err = parse::<SlackWebhookUrl>(ID, "{}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret leganto/test lacks the field `webhook_url`"
        );
        let mut login = alma_login();
        login.as_object_mut().unwrap().remove("host");
        let err = parse::<SftpLogin>(ID, &login.to_string()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret leganto/test lacks the field `host`"
        );
    }

    #[test]
    fn an_unexpected_field_beside_a_single_value_is_named_without_values() {
        let err =
            parse::<AlmaApiKey>(ID, r#"{"api_key": "KEY-VALUE", "extra": "X-VALUE"}"#).unwrap_err();
        assert!(
            matches!(&err, SecretsError::BadField { field, .. } if field == "extra"),
            "{err:?}"
        );
        assert!(!format!("{err} {err:?}").contains("VALUE"), "{err}");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_reported_without_the_value() {
        let mut login = cem_login();
        login["port"] = serde_json::json!("PORT-SECRET-ISH");
        let err = parse::<SftpLogin>(ID, &login.to_string()).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(shown.contains(ID), "{shown}");
        assert!(!shown.contains("PORT-SECRET-ISH"), "{shown}");

        let err = parse::<AlmaApiKey>(ID, r#"{"api_key": 12345}"#).unwrap_err();
        assert!(err.to_string().contains("api_key"), "{err}");
        let err = parse::<AlmaApiKey>(ID, r#"{"api_key": "  "}"#).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
    }

    #[test]
    fn text_that_is_not_json_gives_a_position_not_the_text() {
        let err = parse::<AlmaApiKey>(ID, "{\"api_key\": \"VALUE-XYZ\" oops").unwrap_err();
        assert!(matches!(err, SecretsError::NotJson { .. }));
        assert!(!format!("{err} {err:?}").contains("VALUE-XYZ"));
        assert!(matches!(
            parse::<SlackWebhookUrl>(ID, "[1,2]").unwrap_err(),
            SecretsError::NotJson { .. }
        ));
    }

    fn at(minutes: i64, seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_796_000_000 + minutes * 60 + seconds, 0).unwrap()
    }

    #[tokio::test]
    async fn a_cached_secret_is_reused_until_the_ttl_then_fetched_again() {
        let cache = SecretCache::<String>::default();
        let fetches = AtomicUsize::new(0);
        let fetch = || async {
            let n = fetches.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(format!("value {n}"))
        };
        assert_eq!(
            *cache.get_or_fetch(at(0, 0), fetch).await.unwrap(),
            "value 1"
        );
        assert_eq!(
            *cache.get_or_fetch(at(4, 59), fetch).await.unwrap(),
            "value 1"
        );
        assert_eq!(
            *cache.get_or_fetch(at(5, 0), fetch).await.unwrap(),
            "value 2"
        );
        assert_eq!(
            *cache.get_or_fetch(at(9, 59), fetch).await.unwrap(),
            "value 2"
        );
        // A clock set back does not keep a value forever.
        assert_eq!(
            *cache.get_or_fetch(at(1, 0), fetch).await.unwrap(),
            "value 3"
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_fetch_caches_nothing() {
        let cache = SecretCache::<String>::default();
        let err = cache
            .get_or_fetch(at(0, 0), || async {
                Err(SecretsError::NotText {
                    secret_id: ID.into(),
                })
            })
            .await
            .unwrap_err();
        assert_eq!(err.error_name(), "SecretInvalid");
        assert!(!cache.is_loaded());
        let value = cache
            .get_or_fetch(at(0, 1), || async { Ok("fixed".to_string()) })
            .await
            .unwrap();
        assert_eq!(*value, "fixed");
    }

    #[test]
    fn every_purpose_has_its_own_setting() {
        let settings: std::collections::BTreeSet<_> =
            SecretPurpose::ALL.iter().map(|p| p.setting()).collect();
        assert_eq!(settings.len(), 4);
        assert!(settings.iter().all(|s| s.ends_with("_SECRET_ID")));
    }
}
