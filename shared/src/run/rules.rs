//! Which institution rules a run follows, and the record of them each run keeps.
//!
//! The stack reads its rules from `config/rules.toml` in its bucket (`leganto rules push`
//! writes it; the bucket keeps its earlier versions), else follows the ASU rules shipped in
//! the binary. `RULES_FILE` pins a file instead, for a local host. Each day's summary and
//! page name the version followed ([`RulesVersion`]: the S3 version id and the text's
//! SHA-256), so a day can always be matched with the rules it ran under.

use std::fmt;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::rules::ASU_RULES_TOML;
use crate::domain::{Rules, RulesError};
use crate::run::receipt::sha256_hex;
use crate::store::{Store, StoreError, VersionedObject};

/// The stack's rules in its bucket.
pub const RULES_KEY: &str = "config/rules.toml";

/// Digits of the SHA-256 people are shown; the summary keeps the whole digest.
const SHORT_SHA256: usize = 12;

/// Where the rules a run followed came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RulesOrigin {
    /// `config/rules.toml` in the bucket.
    S3,
    /// The ASU rules built into the binary: the bucket has no rules object.
    Shipped,
    /// `RULES_FILE`, a file on the machine (local use).
    File,
}

/// The record of the rules a run followed, in its summary and on its page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesVersion {
    pub origin: RulesOrigin,
    /// The S3 key, or the file's path; none for the shipped rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// S3's version id (none from a bucket without versioning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Lower-case hex SHA-256 of the text: the same text has the same digest wherever it is
    /// kept, so a push of an old text can be recognised as that text.
    pub sha256: String,
}

impl RulesVersion {
    /// The digest's first digits, as people compare them.
    pub fn short_sha256(&self) -> &str {
        self.sha256.get(..SHORT_SHA256).unwrap_or(&self.sha256)
    }
}

impl fmt::Display for RulesVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sha = self.short_sha256();
        let location = self.location.as_deref().unwrap_or(RULES_KEY);
        match (self.origin, &self.version_id) {
            (RulesOrigin::Shipped, _) => write!(f, "shipped rules (sha256 {sha}…)"),
            (RulesOrigin::File, _) => write!(f, "rules file {location} (sha256 {sha}…)"),
            (RulesOrigin::S3, Some(version)) => {
                write!(f, "{location} version {version} (sha256 {sha}…)")
            }
            (RulesOrigin::S3, None) => write!(f, "{location} (sha256 {sha}…)"),
        }
    }
}

/// Rules as text, with where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesText {
    pub text: String,
    pub version: RulesVersion,
    /// When the object was written (S3 only).
    pub last_modified: Option<DateTime<Utc>>,
    /// S3's ETag, so that a push replaces exactly this version (S3 only).
    pub etag: Option<String>,
}

impl RulesText {
    /// The ASU rules built into the binary.
    pub fn shipped() -> RulesText {
        RulesText {
            text: ASU_RULES_TOML.to_string(),
            version: RulesVersion {
                origin: RulesOrigin::Shipped,
                location: None,
                version_id: None,
                sha256: sha256_hex(ASU_RULES_TOML.as_bytes()),
            },
            last_modified: None,
            etag: None,
        }
    }

    /// A rules file on this machine.
    pub fn read_file(path: &Path) -> Result<RulesText, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
            path: path.to_owned(),
            source,
        })?;
        Ok(RulesText {
            version: RulesVersion {
                origin: RulesOrigin::File,
                location: Some(path.display().to_string()),
                version_id: None,
                sha256: sha256_hex(text.as_bytes()),
            },
            text,
            last_modified: None,
            etag: None,
        })
    }

    /// The rules object as S3 gave it; not UTF-8 (so not TOML) is an error naming it.
    fn from_object(bucket: &str, object: VersionedObject) -> Result<RulesText, RulesError> {
        let version = version_of(&object);
        let text = String::from_utf8(object.bytes.to_vec()).map_err(|e| RulesError::Read {
            path: format!("s3://{bucket}/{RULES_KEY}").into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        Ok(RulesText {
            text,
            version,
            last_modified: object.last_modified,
            etag: Some(object.etag).filter(|e| !e.is_empty()),
        })
    }

    /// The rules the text says; an error names the version at fault.
    pub fn compile(&self) -> Result<Rules, RulesError> {
        Rules::from_toml(&self.text, &self.origin())
    }

    /// The rules as errors name them ("rules file {origin}: ...").
    fn origin(&self) -> String {
        let v = &self.version;
        let location = v.location.as_deref().unwrap_or(RULES_KEY);
        match (v.origin, &v.version_id) {
            (RulesOrigin::Shipped, _) => "(built-in ASU rules)".to_string(),
            (RulesOrigin::File, _) | (RulesOrigin::S3, None) => location.to_string(),
            (RulesOrigin::S3, Some(id)) => format!("{location} version {id}"),
        }
    }
}

/// The version of the rules object S3 gave.
pub fn version_of(object: &VersionedObject) -> RulesVersion {
    RulesVersion {
        origin: RulesOrigin::S3,
        location: Some(RULES_KEY.to_string()),
        version_id: object.version_id.clone(),
        sha256: sha256_hex(&object.bytes),
    }
}

/// Why the rules in force cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum RulesLoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rules(#[from] RulesError),
}

/// The rules in force in the stack's bucket: `config/rules.toml`, else the shipped ones.
pub async fn in_force(store: &Store) -> Result<RulesText, RulesLoadError> {
    match store.get_with_version(RULES_KEY).await? {
        Some(object) => Ok(RulesText::from_object(store.bucket(), object)?),
        None => Ok(RulesText::shipped()),
    }
}

/// The rules a run follows now, compiled, and their version: `pinned_file` (`RULES_FILE`)
/// when set, else [`in_force`]. An object that is not valid rules fails the run rather than
/// falling back to the shipped ones: a day run under rules nobody chose is worse than a
/// day that stops and says why.
pub async fn load(
    store: &Store,
    pinned_file: Option<&Path>,
) -> Result<(Rules, RulesVersion), RulesLoadError> {
    let text = match pinned_file {
        Some(path) => RulesText::read_file(path)?,
        None => in_force(store).await?,
    };
    let rules = text.compile()?;
    Ok((rules, text.version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(origin: RulesOrigin, location: Option<&str>, id: Option<&str>) -> RulesVersion {
        RulesVersion {
            origin,
            location: location.map(str::to_string),
            version_id: id.map(str::to_string),
            sha256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
        }
    }

    #[test]
    fn a_version_reads_as_where_the_rules_came_from_and_a_short_digest() {
        let s3 = version(
            RulesOrigin::S3,
            Some(RULES_KEY),
            Some("3HL4kqtJlcpXroDTDmJ"),
        );
        assert_eq!(
            s3.to_string(),
            "config/rules.toml version 3HL4kqtJlcpXroDTDmJ (sha256 0123456789ab…)"
        );
        let unversioned = version(RulesOrigin::S3, Some(RULES_KEY), None);
        assert_eq!(
            unversioned.to_string(),
            "config/rules.toml (sha256 0123456789ab…)"
        );
        let shipped = version(RulesOrigin::Shipped, None, None);
        assert_eq!(shipped.to_string(), "shipped rules (sha256 0123456789ab…)");
        let file = version(RulesOrigin::File, Some("/opt/rules.toml"), None);
        assert_eq!(
            file.to_string(),
            "rules file /opt/rules.toml (sha256 0123456789ab…)"
        );
    }

    #[test]
    fn a_version_is_recorded_as_json_without_empty_fields() {
        let shipped = RulesText::shipped().version;
        let json = serde_json::to_value(&shipped).unwrap();
        assert_eq!(json["origin"], "shipped");
        assert!(json.get("version_id").is_none(), "{json}");
        assert_eq!(json["sha256"].as_str().unwrap().len(), 64);
        let s3 = version(RulesOrigin::S3, Some(RULES_KEY), Some("v1"));
        let back: RulesVersion =
            serde_json::from_value(serde_json::to_value(&s3).unwrap()).unwrap();
        assert_eq!(back, s3);
    }

    #[test]
    fn the_shipped_rules_compile_and_their_digest_is_of_their_text() {
        let shipped = RulesText::shipped();
        assert!(shipped.compile().is_ok());
        assert_eq!(
            shipped.version.sha256,
            sha256_hex(ASU_RULES_TOML.as_bytes())
        );
    }

    #[test]
    fn a_rules_object_that_is_not_utf8_is_an_error_naming_it() {
        let object = VersionedObject {
            bytes: bytes::Bytes::from_static(b"date_format = \"\xff\""),
            etag: "\"e\"".into(),
            version_id: Some("v2".into()),
            last_modified: None,
        };
        let err = RulesText::from_object("runs", object).unwrap_err();
        assert!(
            err.to_string().contains("s3://runs/config/rules.toml"),
            "{err}"
        );
    }

    #[test]
    fn an_object_keeps_its_version_etag_and_digest() {
        let object = VersionedObject {
            bytes: bytes::Bytes::from(ASU_RULES_TOML),
            etag: "\"abc\"".into(),
            version_id: Some("v7".into()),
            last_modified: None,
        };
        let text = RulesText::from_object("runs", object).unwrap();
        assert_eq!(text.version.origin, RulesOrigin::S3);
        assert_eq!(text.version.version_id.as_deref(), Some("v7"));
        assert_eq!(text.etag.as_deref(), Some("\"abc\""));
        assert_eq!(text.version.sha256, RulesText::shipped().version.sha256);
        let err = RulesText {
            text: "date_format = 1".into(),
            ..text
        }
        .compile()
        .unwrap_err();
        assert!(
            err.to_string().contains("config/rules.toml version v7"),
            "{err}"
        );
    }

    #[test]
    fn a_pinned_file_is_read_with_its_path_and_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        std::fs::write(&path, ASU_RULES_TOML).unwrap();
        let text = RulesText::read_file(&path).unwrap();
        assert_eq!(text.version.origin, RulesOrigin::File);
        assert_eq!(
            text.version.location.as_deref(),
            Some(path.display().to_string().as_str())
        );
        assert!(RulesText::read_file(&dir.path().join("none.toml")).is_err());
    }
}
