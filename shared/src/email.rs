//! The rollover report e-mail: raw MIME sent through SES v2.
//!
//! `multipart/mixed { multipart/alternative { text/plain, text/html }, attachment }`, built
//! by [`build_report_email`] (a plain function) and sent by [`send_raw`] with
//! `SendEmail` + `Content::Raw`. The sender must be a verified SES identity.

use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use mail_builder::headers::content_type::ContentType;
use mail_builder::MessageBuilder;
use tracing::instrument;

/// What the report e-mail says and carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportEmail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    /// Plain-text summary.
    pub text: String,
    /// HTML summary (escape any data with [`html_escape`]).
    pub html: String,
    /// e.g. `rollover_20261128113002.txt`
    pub attachment_name: String,
    pub attachment_bytes: Vec<u8>,
}

/// Content type of the attached report: tab-separated UTF-8 text with a `.txt` name, which
/// mail clients open as text and spreadsheets import.
pub const ATTACHMENT_CONTENT_TYPE: &str = "text/plain";

use crate::error::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("the report e-mail has no recipients")]
    NoRecipients,
    #[error("could not build the report e-mail")]
    Build(#[source] std::io::Error),
    #[error("SES refused or failed to send the report e-mail from {from}")]
    Send {
        from: String,
        #[source]
        source: BoxError,
    },
}

impl crate::error::ErrorName for EmailError {
    fn error_name(&self) -> &'static str {
        "EmailFailed"
    }
}

/// The raw MIME message (CRLF line ends; non-ASCII encoded, so the bytes are 7-bit).
pub fn build_report_email(email: &ReportEmail) -> Result<Vec<u8>, EmailError> {
    if email.to.is_empty() {
        return Err(EmailError::NoRecipients);
    }
    let to: Vec<&str> = email.to.iter().map(String::as_str).collect();
    MessageBuilder::new()
        .from(email.from.as_str())
        .to(to)
        .subject(email.subject.as_str())
        .text_body(email.text.as_str())
        .html_body(email.html.as_str())
        .attachment(
            ContentType::new(ATTACHMENT_CONTENT_TYPE).attribute("charset", "utf-8"),
            email.attachment_name.as_str(),
            email.attachment_bytes.as_slice(),
        )
        .write_to_vec()
        .map_err(EmailError::Build)
}

/// A plain-text notice without attachment (a held day), as raw MIME.
pub fn build_notice_email(
    from: &str,
    to: &[String],
    subject: &str,
    text: &str,
) -> Result<Vec<u8>, EmailError> {
    if to.is_empty() {
        return Err(EmailError::NoRecipients);
    }
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    MessageBuilder::new()
        .from(from)
        .to(to)
        .subject(subject)
        .text_body(text)
        .write_to_vec()
        .map_err(EmailError::Build)
}

/// Sends a built message; returns SES's message id.
#[instrument(skip(client, raw), fields(recipients = to.len(), bytes = raw.len()), err)]
pub async fn send_raw(
    client: &aws_sdk_sesv2::Client,
    from: &str,
    to: &[String],
    raw: Vec<u8>,
) -> Result<String, EmailError> {
    if to.is_empty() {
        return Err(EmailError::NoRecipients);
    }
    let send_error = |source: BoxError| EmailError::Send {
        from: from.to_string(),
        source,
    };
    let message = RawMessage::builder()
        .data(Blob::new(raw))
        .build()
        .map_err(|e| send_error(e.into()))?;
    let output = client
        .send_email()
        .from_email_address(from)
        .destination(
            Destination::builder()
                .set_to_addresses(Some(to.to_vec()))
                .build(),
        )
        .content(EmailContent::builder().raw(message).build())
        .send()
        .await
        .map_err(|e| send_error(e.into()))?;
    Ok(output.message_id().unwrap_or_default().to_string())
}

/// Builds and sends the report e-mail; returns SES's message id.
pub async fn send_report_email(
    client: &aws_sdk_sesv2::Client,
    email: &ReportEmail,
) -> Result<String, EmailError> {
    let raw = build_report_email(email)?;
    send_raw(client, &email.from, &email.to, raw).await
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName as _;

    fn sample() -> ReportEmail {
        ReportEmail {
            from: "library@example.edu".into(),
            to: vec!["a@example.edu".into(), "b@example.edu".into()],
            subject: "Rollover report 2026-11-28 — 3 found".into(),
            text: "Rollovers found: 3\n".into(),
            html: "<p>Rollovers found: <b>3</b></p>".into(),
            attachment_name: "rollover_20261128113002.txt".into(),
            attachment_bytes: "Course Code\tTitle\r\nX\tThéorie\r\n".as_bytes().to_vec(),
        }
    }

    #[test]
    fn message_is_mixed_with_alternative_bodies_and_the_named_attachment() {
        let raw = String::from_utf8(build_report_email(&sample()).unwrap()).unwrap();
        assert!(raw.contains("Content-Type: multipart/mixed"), "{raw}");
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        assert!(raw.contains("text/html"), "{raw}");
        assert!(raw.contains("rollover_20261128113002.txt"), "{raw}");
        assert!(raw.contains("a@example.edu") && raw.contains("b@example.edu"));
        // Everything non-ASCII is encoded: SES and moto take the message as 7-bit text.
        assert!(raw.is_ascii());
    }

    #[test]
    fn no_recipients_is_an_error_with_the_stable_name() {
        let mut email = sample();
        email.to.clear();
        let err = build_report_email(&email).unwrap_err();
        assert!(matches!(err, EmailError::NoRecipients));
        assert_eq!(err.error_name(), "EmailFailed");
    }

    #[test]
    fn html_escape_escapes_markup() {
        assert_eq!(html_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
    }
}
