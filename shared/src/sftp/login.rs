//! An SFTP login as held in its secret, and the pinned host key fingerprint.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use secrecy::SecretString;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::SftpError;

/// Where and how to log in to one SFTP server. Deserialized from the secret's JSON (see the
/// module docs for the shape); `Debug` never shows the password, key or passphrase.
#[derive(Clone, Deserialize)]
#[serde(try_from = "RawLogin")]
pub struct SftpLogin {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: SftpAuth,
    /// The host keys the server may present, each `SHA256:<base64 without padding>` as
    /// `ssh-keygen -l` prints it; any one of them passes. Several let a server's key be
    /// rotated without a failed day (pin the new key beside the old, then drop the old).
    pub host_key_sha256: Vec<String>,
    /// Absolute remote directory the client lists, reads and writes.
    pub directory: String,
}

/// How to authenticate. Both variants hold their secrets in `SecretString`.
#[derive(Clone)]
pub enum SftpAuth {
    Password(SecretString),
    /// Private key text (OpenSSH `-----BEGIN OPENSSH PRIVATE KEY-----` or PEM), not a path.
    PrivateKey {
        key: SecretString,
        passphrase: Option<SecretString>,
    },
}

impl SftpAuth {
    /// Short name for logs and errors.
    pub fn method(&self) -> &'static str {
        match self {
            SftpAuth::Password(_) => "password",
            SftpAuth::PrivateKey { .. } => "private_key",
        }
    }
}

impl fmt::Debug for SftpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SftpAuth::Password(_) => f.write_str("Password([REDACTED])"),
            SftpAuth::PrivateKey { passphrase, .. } => f
                .debug_struct("PrivateKey")
                .field("key", &"[REDACTED]")
                .field("passphrase", &passphrase.as_ref().map(|_| "[REDACTED]"))
                .finish(),
        }
    }
}

impl fmt::Debug for SftpLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SftpLogin")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("auth", &self.auth)
            .field("host_key_sha256", &self.host_key_sha256)
            .field("directory", &self.directory)
            .finish()
    }
}

fn default_port() -> u16 {
    22
}

/// The secret's flat JSON shape; turned into `SftpLogin` so that exactly one way to log in
/// is given and the error says which field is wrong (never its value).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogin {
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    user: String,
    #[serde(default)]
    password: Option<SecretString>,
    #[serde(default)]
    private_key: Option<SecretString>,
    #[serde(default)]
    passphrase: Option<SecretString>,
    host_key_sha256: Pins,
    directory: String,
}

/// `host_key_sha256` as the secret may give it: one fingerprint, or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum Pins {
    One(String),
    Many(Vec<String>),
}

impl TryFrom<RawLogin> for SftpLogin {
    type Error = String;

    fn try_from(raw: RawLogin) -> Result<Self, Self::Error> {
        let auth = match (raw.password, raw.private_key, raw.passphrase) {
            (Some(password), None, None) => SftpAuth::Password(password),
            (None, Some(key), passphrase) => SftpAuth::PrivateKey { key, passphrase },
            (Some(_), Some(_), _) => {
                return Err("give either `password` or `private_key`, not both".into())
            }
            (Some(_), None, Some(_)) => {
                return Err("`passphrase` belongs to `private_key`, not to `password`".into())
            }
            (None, None, _) => return Err("one of `password` or `private_key` is required".into()),
        };
        let host_key_sha256 = match raw.host_key_sha256 {
            Pins::One(pin) => vec![pin],
            Pins::Many(pins) => pins,
        };
        if host_key_sha256.is_empty() {
            return Err("`host_key_sha256` lists no fingerprint; give at least one".into());
        }
        parse_fingerprints(&host_key_sha256).map_err(|e| e.to_string())?;
        if !raw.directory.starts_with('/') {
            return Err("`directory` must be an absolute path".into());
        }
        Ok(SftpLogin {
            host: raw.host,
            port: raw.port,
            user: raw.user,
            auth,
            host_key_sha256,
            directory: raw.directory,
        })
    }
}

/// Decodes `SHA256:<base64>` (padding optional) to the 32 digest bytes.
pub(crate) fn parse_fingerprint(text: &str) -> Result<[u8; 32], SftpError> {
    let invalid = |reason: &str| SftpError::LoginInvalid {
        reason: format!(
            "host_key_sha256 {reason}; expected `SHA256:<base64>` as ssh-keygen -l prints it"
        ),
    };
    let b64 = text
        .trim()
        .strip_prefix("SHA256:")
        .ok_or_else(|| invalid("lacks the `SHA256:` prefix"))?;
    let bytes = STANDARD_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|_| invalid("is not valid base64"))?;
    bytes
        .try_into()
        .map_err(|_| invalid("is not 32 bytes long"))
}

/// Every pinned fingerprint as digest bytes; the first malformed one is the error.
pub(crate) fn parse_fingerprints(pins: &[String]) -> Result<Vec<[u8; 32]>, SftpError> {
    pins.iter().map(|pin| parse_fingerprint(pin)).collect()
}

/// OpenSSH's fingerprint text for a SHA-256 host key digest.
pub fn format_fingerprint(digest: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(digest))
}

/// Fingerprint of a public key line (`ssh-ed25519 AAAA... comment`) as OpenSSH prints it.
pub fn fingerprint_of_public_key(line: &str) -> Option<String> {
    let blob = line.split_whitespace().nth(1)?;
    let bytes = STANDARD.decode(blob).ok()?;
    Some(format_fingerprint(&Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const PIN: &str = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

    #[test]
    fn password_login_reads_from_flat_json_with_default_port() {
        let login: SftpLogin = serde_json::from_str(&format!(
            r#"{{"host":"sftp.example.edu","user":"cem","password":"s3cret!","host_key_sha256":"{PIN}","directory":"/out"}}"#
        ))
        .unwrap();
        assert_eq!(login.port, 22);
        match &login.auth {
            SftpAuth::Password(p) => assert_eq!(p.expose_secret(), "s3cret!"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn key_login_reads_key_and_passphrase() {
        let login: SftpLogin = serde_json::from_str(&format!(
            r#"{{"host":"h","port":2222,"user":"u","private_key":"-----BEGIN KEY-----\nabc\n","passphrase":"pp","host_key_sha256":"{PIN}","directory":"/in"}}"#
        ))
        .unwrap();
        assert_eq!(login.port, 2222);
        match &login.auth {
            SftpAuth::PrivateKey { key, passphrase } => {
                assert!(key.expose_secret().starts_with("-----BEGIN KEY"));
                assert_eq!(passphrase.as_ref().unwrap().expose_secret(), "pp");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn debug_output_redacts_password_key_and_passphrase() {
        let login: SftpLogin = serde_json::from_str(&format!(
            r#"{{"host":"h","user":"u","password":"hunter2-pw","host_key_sha256":"{PIN}","directory":"/in"}}"#
        ))
        .unwrap();
        let shown = format!("{login:?}");
        assert!(!shown.contains("hunter2-pw"), "{shown}");
        assert!(shown.contains("REDACTED"));
        let key = SftpAuth::PrivateKey {
            key: "PRIVATE-KEY-TEXT".into(),
            passphrase: Some("the-passphrase".into()),
        };
        let shown = format!("{key:?}");
        assert!(!shown.contains("PRIVATE-KEY-TEXT") && !shown.contains("the-passphrase"));
    }

    #[test]
    fn login_with_both_password_and_key_is_refused_without_echoing_them() {
        let err = serde_json::from_str::<SftpLogin>(&format!(
            r#"{{"host":"h","user":"u","password":"pw-value","private_key":"key-value","host_key_sha256":"{PIN}","directory":"/in"}}"#
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("not both"), "{err}");
        assert!(!err.contains("pw-value") && !err.contains("key-value"));
    }

    #[test]
    fn login_without_any_credential_is_refused() {
        let err = serde_json::from_str::<SftpLogin>(&format!(
            r#"{{"host":"h","user":"u","host_key_sha256":"{PIN}","directory":"/in"}}"#
        ))
        .unwrap_err();
        assert!(err.to_string().contains("required"), "{err}");
    }

    #[test]
    fn relative_directory_is_refused() {
        let err = serde_json::from_str::<SftpLogin>(&format!(
            r#"{{"host":"h","user":"u","password":"p","host_key_sha256":"{PIN}","directory":"in"}}"#
        ))
        .unwrap_err();
        assert!(err.to_string().contains("absolute"), "{err}");
    }

    const NEW_PIN: &str = "SHA256:/ovT1au57hVjCZU3SKB3nQyuARMrpvqS69u26H2PD5M";

    #[test]
    fn a_single_pinned_fingerprint_still_reads_and_a_list_reads_in_order() {
        let one: SftpLogin = serde_json::from_str(&format!(
            r#"{{"host":"h","user":"u","password":"p","host_key_sha256":"{PIN}","directory":"/in"}}"#
        ))
        .unwrap();
        assert_eq!(one.host_key_sha256, [PIN]);
        let two: SftpLogin = serde_json::from_str(&format!(
            r#"{{"host":"h","user":"u","password":"p","host_key_sha256":["{PIN}","{NEW_PIN}"],"directory":"/in"}}"#
        ))
        .unwrap();
        assert_eq!(two.host_key_sha256, [PIN, NEW_PIN]);
    }

    #[test]
    fn an_empty_or_partly_malformed_pin_list_is_refused() {
        let err = serde_json::from_str::<SftpLogin>(
            r#"{"host":"h","user":"u","password":"p","host_key_sha256":[],"directory":"/in"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("at least one"), "{err}");
        let err = serde_json::from_str::<SftpLogin>(&format!(
            r#"{{"host":"h","user":"u","password":"p","host_key_sha256":["{PIN}","MD5:aa:bb"],"directory":"/in"}}"#
        ))
        .unwrap_err();
        assert!(err.to_string().contains("SHA256:"), "{err}");
    }

    #[test]
    fn fingerprint_parses_with_or_without_padding() {
        let a = parse_fingerprint(PIN).unwrap();
        let b = parse_fingerprint(&format!("{PIN}=")).unwrap();
        assert_eq!(a, b);
        assert_eq!(format_fingerprint(&a), PIN);
    }

    #[test]
    fn fingerprint_without_prefix_or_of_wrong_length_is_refused() {
        assert!(parse_fingerprint("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU").is_err());
        assert!(parse_fingerprint("SHA256:AAAA").is_err());
        assert!(parse_fingerprint("MD5:aa:bb").is_err());
    }

    #[test]
    fn fingerprint_of_public_key_matches_ssh_keygen() {
        // `ssh-keygen -lf` on this key prints the fingerprint below.
        let line =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIxNnJSkCaXOaJVHSvk8JKER+TYckLwTSZA4viQ0WgQb test";
        assert_eq!(
            fingerprint_of_public_key(line).unwrap(),
            "SHA256:/ovT1au57hVjCZU3SKB3nQyuARMrpvqS69u26H2PD5M"
        );
    }
}
