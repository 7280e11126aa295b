//! The run's secrets: one Secrets Manager secret holding one JSON object.
//!
//! ```json
//! { "alma_api_key": "...",
//!   "cem_sftp":  { "host": "...", "port": 22, "user": "...", "password": "..." | "private_key": "...",
//!                  "host_key_sha256": "SHA256:...", "directory": "/..." },
//!   "alma_sftp": { ... same shape ... },
//!   "slack_webhook_url": "https://hooks.slack.com/services/..." }
//! ```
//! Fetched once per cold start. Values live in `SecretString`s; `Debug` shows `[redacted]`,
//! and errors name the field at fault, never a value.

use std::fmt;

use secrecy::SecretString;
use serde::de::DeserializeOwned;
use tracing::instrument;

use crate::sftp::SftpLogin;

/// Everything secret the run needs.
#[derive(Clone)]
pub struct Secrets {
    /// Sent only in the `Authorization: apikey …` header.
    pub alma_api_key: SecretString,
    pub cem_sftp: SftpLogin,
    pub alma_sftp: SftpLogin,
    pub slack_webhook_url: SecretString,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("alma_api_key", &format_args!("[redacted]"))
            .field("cem_sftp", &self.cem_sftp)
            .field("alma_sftp", &self.alma_sftp)
            .field("slack_webhook_url", &format_args!("[redacted]"))
            .finish()
    }
}

use crate::error::BoxError;

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
    #[error("secret is not a JSON object (line {line}, column {column})")]
    NotJson { line: usize, column: usize },
    #[error("secret lacks the field `{field}`")]
    MissingField { field: String },
    #[error("secret field `{field}` is invalid: {reason}")]
    BadField { field: String, reason: String },
}

impl crate::error::ErrorName for SecretsError {
    fn error_name(&self) -> &'static str {
        match self {
            SecretsError::Unavailable { .. } => "SecretsUnavailable",
            _ => "SecretInvalid",
        }
    }
}

impl Secrets {
    /// Parses the secret's JSON text.
    pub fn from_json(text: &str) -> Result<Secrets, SecretsError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| SecretsError::NotJson {
                line: e.line(),
                column: e.column(),
            })?;
        let serde_json::Value::Object(mut fields) = value else {
            return Err(SecretsError::NotJson { line: 1, column: 1 });
        };
        let mut take = |field: &'static str| {
            fields
                .remove(field)
                .filter(|v| !v.is_null())
                .ok_or_else(|| SecretsError::MissingField {
                    field: field.to_string(),
                })
        };
        Ok(Secrets {
            alma_api_key: non_empty_string("alma_api_key", take("alma_api_key")?)?,
            cem_sftp: field("cem_sftp", take("cem_sftp")?)?,
            alma_sftp: field("alma_sftp", take("alma_sftp")?)?,
            slack_webhook_url: non_empty_string("slack_webhook_url", take("slack_webhook_url")?)?,
        })
    }

    /// Fetches and parses the secret `secret_id` (name or ARN).
    #[instrument(skip(client), err)]
    pub async fn load(
        client: &aws_sdk_secretsmanager::Client,
        secret_id: &str,
    ) -> Result<Secrets, SecretsError> {
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
        Secrets::from_json(text)
    }
}

fn non_empty_string(
    name: &'static str,
    value: serde_json::Value,
) -> Result<SecretString, SecretsError> {
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Ok(SecretString::from(s)),
        serde_json::Value::String(_) => Err(SecretsError::BadField {
            field: name.to_string(),
            reason: "is empty".into(),
        }),
        _ => Err(SecretsError::BadField {
            field: name.to_string(),
            reason: "must be a string".into(),
        }),
    }
}

fn field<T: DeserializeOwned>(
    name: &'static str,
    value: serde_json::Value,
) -> Result<T, SecretsError> {
    serde_json::from_value(value).map_err(|e| {
        let message = e.to_string();
        match message.strip_prefix("missing field `") {
            Some(rest) => SecretsError::MissingField {
                field: format!("{name}.{}", rest.split('`').next().unwrap_or_default()),
            },
            None => SecretsError::BadField {
                field: name.to_string(),
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
    use secrecy::ExposeSecret;

    const PIN: &str = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

    pub(crate) fn sample_json() -> serde_json::Value {
        serde_json::json!({
            "alma_api_key": "l8xx-ALMA-KEY-VALUE",
            "cem_sftp": {"host": "cem.example.edu", "port": 22, "user": "leganto",
                         "password": "CEM-PASSWORD-VALUE", "host_key_sha256": PIN,
                         "directory": "/outgoing"},
            "alma_sftp": {"host": "alma.example.edu", "user": "asu",
                          "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nALMA-KEY-TEXT\n",
                          "passphrase": "ALMA-PASSPHRASE", "host_key_sha256": PIN,
                          "directory": "/incoming/courses"},
            "slack_webhook_url": "https://hooks.slack.com/services/T0/B0/WEBHOOK-TOKEN"
        })
    }

    #[test]
    fn a_complete_secret_parses() {
        let secrets = Secrets::from_json(&sample_json().to_string()).unwrap();
        assert_eq!(secrets.alma_api_key.expose_secret(), "l8xx-ALMA-KEY-VALUE");
        assert_eq!(secrets.cem_sftp.host, "cem.example.edu");
        assert_eq!(secrets.alma_sftp.directory, "/incoming/courses");
        assert!(secrets
            .slack_webhook_url
            .expose_secret()
            .ends_with("WEBHOOK-TOKEN"));
    }

    #[test]
    fn debug_output_shows_no_secret_value() {
        let secrets = Secrets::from_json(&sample_json().to_string()).unwrap();
        let shown = format!("{secrets:?} {secrets:#?}");
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
    fn each_missing_top_level_field_is_named() {
        for name in ["alma_api_key", "cem_sftp", "alma_sftp", "slack_webhook_url"] {
            let mut json = sample_json();
            json.as_object_mut().unwrap().remove(name);
            let err = Secrets::from_json(&json.to_string()).unwrap_err();
            assert!(
                matches!(&err, SecretsError::MissingField { field } if field == name),
                "{err:?}"
            );
            assert_eq!(err.error_name(), "SecretInvalid");
        }
    }

    #[test]
    fn a_missing_login_field_is_named_with_its_login() {
        let mut json = sample_json();
        json["alma_sftp"].as_object_mut().unwrap().remove("host");
        let err = Secrets::from_json(&json.to_string()).unwrap_err();
        assert_eq!(err.to_string(), "secret lacks the field `alma_sftp.host`");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_reported_without_the_value() {
        let mut json = sample_json();
        json["cem_sftp"]["port"] = serde_json::json!("PORT-SECRET-ISH");
        let err = Secrets::from_json(&json.to_string()).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("cem_sftp"), "{shown}");
        assert!(!shown.contains("PORT-SECRET-ISH"), "{shown}");

        let mut json = sample_json();
        json["alma_api_key"] = serde_json::json!(12345);
        let err = Secrets::from_json(&json.to_string()).unwrap_err();
        assert!(err.to_string().contains("alma_api_key"), "{err}");
    }

    #[test]
    fn text_that_is_not_json_gives_a_position_not_the_text() {
        let err = Secrets::from_json("{\"alma_api_key\": \"VALUE-XYZ\" oops").unwrap_err();
        assert!(matches!(err, SecretsError::NotJson { .. }));
        assert!(!format!("{err} {err:?}").contains("VALUE-XYZ"));
        assert!(matches!(
            Secrets::from_json("[1,2]").unwrap_err(),
            SecretsError::NotJson { .. }
        ));
    }
}
