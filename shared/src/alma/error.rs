//! Alma's failures as typed errors (with what a failed try ran into), and the parsing of
//! Alma's error JSON.

use serde::Deserialize;
use serde_json::Value;

use super::model::MalformedBody;
use crate::error::ErrorName;

/// What went wrong talking to Alma. [`ErrorName::error_name`] gives the stable name that
/// Step Functions `Retry`/`Catch` rules match on.
#[derive(Debug, thiserror::Error)]
pub enum AlmaError {
    /// `UNAUTHORIZED` (Alma answers a bad key HTTP 400 or 403, often in XML whatever was
    /// asked for), or HTTP 401/403: the key is wrong, expired, for another region, or lacks
    /// permissions. Never retried.
    #[error(
        "Alma rejected the API key (HTTP {status} on {method} {path}: {message}): check the API \
         key (ALMA_API_KEY or the run's secret) is valid for this Alma region and has read/write \
         permission for Courses and read permission for Configuration"
    )]
    Unauthorized {
        status: u16,
        method: String,
        path: String,
        message: String,
    },

    /// The daily quota is used up (429 DAILY_THRESHOLD) or `X-Exl-Api-Remaining` fell below
    /// the floor we keep for other integrations. No further calls are made by this client.
    #[error(
        "Alma API daily quota exhausted: {detail}; this run stopped calling Alma. Wait for the \
         daily quota to reset (midnight UTC) and re-run, or ask Ex Libris for a larger quota"
    )]
    QuotaExhausted { detail: String },

    /// Transient failures (429 PER_SECOND_THRESHOLD, 5xx, timeouts, connection errors) that
    /// outlasted the retries, or hit a call that is never retried.
    #[error(
        "Alma unavailable: {method} {path} failed after {attempts} {tries}, last: {last}; check \
         the Alma URL, the network and Alma's status page, then re-run",
        tries = if *attempts == 1 { "try" } else { "tries" }
    )]
    Unavailable {
        method: String,
        path: String,
        attempts: u32,
        last: TransientReason,
        #[source]
        source: Option<reqwest::Error>,
    },

    /// Alma answered with an error that retrying will not fix (400, 404, `errorsExist`...).
    #[error("Alma API error (HTTP {status}, {code}): {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },

    /// Alma answered 2xx with a body we cannot read, or without a field it always carries.
    /// Never read as "nothing there": an unreadable reading-list answer deletes nothing.
    #[error(
        "unexpected response from Alma to {method} {path}: {source}; nothing was decided on it. \
         Check Alma's status page and re-run; if it persists, report the answer to Ex Libris"
    )]
    InvalidResponse {
        method: String,
        path: String,
        #[source]
        source: MalformedBody,
    },

    /// The caller's stop time came before the call's turn (see
    /// [`super::AlmaClient::stopping_at`]): nothing was sent. A resumable step answers
    /// `"more": true` instead; anywhere else Alma did not answer in time.
    #[error(
        "no Alma call was made: the step's time ran out first; run the step again, it \
         resumes from the answers it saved"
    )]
    OutOfTime,

    /// The client settings cannot work (zero rate, malformed base URL...).
    #[error("invalid Alma client settings: {detail}")]
    InvalidConfig {
        detail: String,
        #[source]
        source: Option<reqwest::Error>,
    },
}

impl ErrorName for AlmaError {
    /// Stable name for Step Functions `Retry`/`Catch` `ErrorEquals`.
    fn error_name(&self) -> &'static str {
        match self {
            AlmaError::Unauthorized { .. } => "AlmaUnauthorized",
            AlmaError::QuotaExhausted { .. } => "AlmaQuotaExhausted",
            AlmaError::Unavailable { .. } | AlmaError::OutOfTime => "AlmaUnavailable",
            AlmaError::Api { .. } => "AlmaApiError",
            AlmaError::InvalidResponse { .. } => "AlmaInvalidResponse",
            AlmaError::InvalidConfig { .. } => "AlmaInvalidConfig",
        }
    }
}

/// Why a try failed in a way another try may not: what the last try of an
/// [`AlmaError::Unavailable`] ran into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransientReason {
    /// HTTP 429 or PER_SECOND_THRESHOLD: over the per-second limit. `code` is Alma's error
    /// code, when it sent one.
    RateLimited { status: u16, code: Option<String> },
    /// HTTP 5xx; `message` is Alma's error message or the start of the body.
    ServerError { status: u16, message: String },
    /// No answer: the exchange timed out, could not connect or broke off.
    Transport {
        failure: TransportFailure,
        /// The innermost cause, when there is one.
        cause: Option<String>,
    },
}

/// How an exchange failed without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    TimedOut,
    CouldNotConnect,
    BrokeOff,
    Other,
}

impl std::fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportFailure::TimedOut => "timed out",
            TransportFailure::CouldNotConnect => "could not connect",
            TransportFailure::BrokeOff => "the answer broke off",
            TransportFailure::Other => "request failed",
        })
    }
}

impl std::fmt::Display for TransientReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransientReason::RateLimited { status, code } => {
                let code = code.as_deref().unwrap_or("too many requests");
                write!(f, "HTTP {status} {code}")
            }
            TransientReason::ServerError { status, message } => {
                write!(f, "HTTP {status}: {message}")
            }
            TransientReason::Transport {
                failure,
                cause: Some(cause),
            } => write!(f, "{failure}: {cause}"),
            TransientReason::Transport {
                failure,
                cause: None,
            } => write!(f, "{failure}"),
        }
    }
}

impl TransientReason {
    /// A failed exchange, described without its URL: the kind of failure and the innermost
    /// cause.
    pub(crate) fn transport(e: &reqwest::Error) -> TransientReason {
        let failure = if e.is_timeout() {
            TransportFailure::TimedOut
        } else if e.is_connect() {
            TransportFailure::CouldNotConnect
        } else if e.is_body() || e.is_decode() {
            TransportFailure::BrokeOff
        } else {
            TransportFailure::Other
        };
        let mut cause = None;
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            cause = Some(s.to_string()).filter(|c| !c.is_empty());
            source = s.source();
        }
        TransientReason::Transport { failure, cause }
    }
}

/// One entry of Alma's `errorList`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct AlmaErrorBody {
    pub code: String,
    pub message: String,
    pub tracking_id: String,
}

/// Reads Alma's error JSON: `{"errorsExist": true, "errorList": {"error": [..] | {..}}}`,
/// possibly wrapped in `web_service_result`. Returns `None` when the body reports no error
/// (or is not JSON); otherwise the first error listed (a blank one if the list is empty).
pub(crate) fn parse_error_body(body: &[u8]) -> Option<AlmaErrorBody> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        // Alma's gateway may answer in XML whatever was asked for (its governance
        // answers among them).
        return parse_xml_error_body(body);
    };
    let root = value.get("web_service_result").unwrap_or(&value);
    let exists = match root.get("errorsExist") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let first = match root.get("errorList").and_then(|l| l.get("error")) {
        Some(Value::Array(items)) => items.first(),
        Some(one @ Value::Object(_)) => Some(one),
        _ => None,
    };
    if !exists && first.is_none() {
        return None;
    }
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    Some(match first {
        Some(e) => AlmaErrorBody {
            code: text(e.get("errorCode")),
            message: text(e.get("errorMessage")),
            tracking_id: text(e.get("trackingId")),
        },
        None => AlmaErrorBody::default(),
    })
}

/// Alma's XML error: `<web_service_result><errorsExist>true</errorsExist><errorList>
/// <error><errorCode>…</errorCode><errorMessage>…</errorMessage><trackingId>…</trackingId>
/// </error>…</errorList></web_service_result>` (XSD `web_service_result`).
#[derive(Debug, Default, Deserialize)]
struct XmlResult {
    #[serde(rename = "errorsExist", default)]
    errors_exist: String,
    #[serde(rename = "errorList", default)]
    error_list: XmlErrorList,
}

#[derive(Debug, Default, Deserialize)]
struct XmlErrorList {
    #[serde(default)]
    error: Vec<XmlError>,
}

#[derive(Debug, Default, Deserialize)]
struct XmlError {
    #[serde(rename = "errorCode", default)]
    code: String,
    #[serde(rename = "errorMessage", default)]
    message: String,
    #[serde(rename = "trackingId", default)]
    tracking_id: String,
}

/// Reads Alma's XML error body; only the first error is read, as for JSON. `None` when the
/// body is not XML or reports no error.
fn parse_xml_error_body(body: &[u8]) -> Option<AlmaErrorBody> {
    let text = std::str::from_utf8(body).ok()?;
    if !text.trim_start().starts_with('<') {
        return None;
    }
    let result: XmlResult = quick_xml::de::from_str(text).ok()?;
    let exists = result.errors_exist.trim().eq_ignore_ascii_case("true");
    let first = result.error_list.error.into_iter().next();
    if !exists && first.is_none() {
        return None;
    }
    let first = first.unwrap_or_default();
    Some(AlmaErrorBody {
        code: first.code.trim().to_string(),
        message: first.message.trim().to_string(),
        tracking_id: first.tracking_id.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_list_as_an_array_gives_the_first_error() {
        let body = br#"{"errorsExist":true,"errorList":{"error":[
            {"errorCode":"401861","errorMessage":"Course not found","trackingId":"E01-1"},
            {"errorCode":"X","errorMessage":"second"}]}}"#;
        let e = parse_error_body(body).unwrap();
        assert_eq!(e.code, "401861");
        assert_eq!(e.message, "Course not found");
        assert_eq!(e.tracking_id, "E01-1");
    }

    #[test]
    fn error_list_as_a_single_object_is_read_too() {
        let body = br#"{"errorsExist":true,"errorList":{"error":
            {"errorCode":"PER_SECOND_THRESHOLD","errorMessage":"slow down"}}}"#;
        let e = parse_error_body(body).unwrap();
        assert_eq!(e.code, "PER_SECOND_THRESHOLD");
        assert_eq!(e.tracking_id, "");
    }

    #[test]
    fn web_service_result_wrapper_and_string_flag_are_tolerated() {
        let body = br#"{"web_service_result":{"errorsExist":"true","errorList":{"error":
            {"errorCode":"DAILY_THRESHOLD","errorMessage":"quota"}}}}"#;
        assert_eq!(parse_error_body(body).unwrap().code, "DAILY_THRESHOLD");
    }

    #[test]
    fn errors_exist_without_a_list_still_counts_as_an_error() {
        let e = parse_error_body(br#"{"errorsExist":true}"#).unwrap();
        assert_eq!(e, AlmaErrorBody::default());
    }

    #[test]
    fn an_xml_error_gives_its_first_code_message_and_tracking_id() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
            <web_service_result xmlns="http://com/exlibris/urm/general/xmlbeans">
            <errorsExist>true</errorsExist><errorList>
            <error><errorCode>DAILY_THRESHOLD</errorCode>
            <errorMessage>Daily &amp; done</errorMessage><trackingId>E01-9</trackingId></error>
            <error><errorCode>X</errorCode></error></errorList></web_service_result>"#;
        let e = parse_error_body(body).unwrap();
        assert_eq!(e.code, "DAILY_THRESHOLD");
        assert_eq!(e.message, "Daily & done");
        assert_eq!(e.tracking_id, "E01-9");
        assert!(parse_error_body(b"<courses total_record_count=\"0\"/>").is_none());
        let no = br#"<web_service_result><errorsExist>false</errorsExist></web_service_result>"#;
        assert!(parse_error_body(no).is_none());
    }

    #[test]
    fn a_normal_body_or_non_json_is_not_an_error() {
        assert!(parse_error_body(br#"{"total_record_count":0}"#).is_none());
        assert!(parse_error_body(br#"{"errorsExist":false}"#).is_none());
        assert!(parse_error_body(b"<html>bad gateway</html>").is_none());
        assert!(parse_error_body(b"").is_none());
    }

    #[test]
    fn error_names_are_the_stable_step_functions_names() {
        let api = AlmaError::Api {
            status: 400,
            code: "c".into(),
            message: "m".into(),
        };
        assert_eq!(api.error_name(), "AlmaApiError");
        let q = AlmaError::QuotaExhausted { detail: "d".into() };
        assert_eq!(q.error_name(), "AlmaQuotaExhausted");
        let u = AlmaError::Unavailable {
            method: "GET".into(),
            path: "/almaws/v1/courses".into(),
            attempts: 6,
            last: TransientReason::ServerError {
                status: 503,
                message: "Service Unavailable".into(),
            },
            source: None,
        };
        assert_eq!(u.error_name(), "AlmaUnavailable");
        let text = u.to_string();
        assert!(
            text.contains("GET /almaws/v1/courses failed after 6 tries"),
            "{text}"
        );
        assert!(
            text.contains("last: HTTP 503: Service Unavailable"),
            "{text}"
        );
        assert!(text.contains("re-run"), "{text}");
    }
}
