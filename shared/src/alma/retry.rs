//! What to do with an Alma answer (use it, retry it, give up) and how long to wait between
//! tries. Pure functions, so the policy is tested without a server.

use std::time::Duration;

use rand::{Rng, RngExt};

use super::error::{parse_error_body, AlmaError, TransientReason};

/// First backoff ceiling; doubles per retry.
pub(crate) const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Largest backoff ceiling.
pub(crate) const BACKOFF_CAP: Duration = Duration::from_secs(10);

/// The verdict on one HTTP answer.
#[derive(Debug)]
pub(crate) enum AnswerVerdict {
    /// 2xx without `errorsExist`: read the body.
    Success,
    /// Worth another try (GETs only): 429 PER_SECOND_THRESHOLD, 5xx. Holds what happened.
    Transient(TransientReason),
    /// Final.
    Fail(AlmaError),
}

/// Classifies an answer by status and Alma's error JSON. `errorsExist: true` is a failure
/// even with HTTP 200; DAILY_THRESHOLD ends the run whatever the status says.
pub(crate) fn classify(status: u16, body: &[u8], method: &str, path: &str) -> AnswerVerdict {
    let err = parse_error_body(body);
    let code = err.as_ref().map(|e| e.code.as_str()).unwrap_or("");
    if code == "DAILY_THRESHOLD" {
        return AnswerVerdict::Fail(AlmaError::QuotaExhausted {
            detail: format!("Alma answered {method} {path} with HTTP {status} DAILY_THRESHOLD"),
        });
    }
    if (200..300).contains(&status) && err.is_none() {
        return AnswerVerdict::Success;
    }
    let message = match &err {
        Some(e) if !e.message.is_empty() => e.message.clone(),
        _ => snippet(body),
    };
    if status == 401 || status == 403 || code == "UNAUTHORIZED" {
        return AnswerVerdict::Fail(AlmaError::Unauthorized {
            status,
            method: method.to_string(),
            path: path.to_string(),
            message,
        });
    }
    if status == 429 || code == "PER_SECOND_THRESHOLD" {
        return AnswerVerdict::Transient(TransientReason::RateLimited {
            status,
            code: Some(code.to_string()).filter(|c| !c.is_empty()),
        });
    }
    if status >= 500 {
        return AnswerVerdict::Transient(TransientReason::ServerError { status, message });
    }
    AnswerVerdict::Fail(AlmaError::Api {
        status,
        code: code.to_string(),
        message,
    })
}

/// How long to wait between tries: a ceiling of `base` × 2^retry, at most `cap`, and a
/// delay drawn under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: BACKOFF_BASE,
            cap: BACKOFF_CAP,
        }
    }
}

impl Backoff {
    /// Backoff ceiling before retry number `retry` (0-based): base × 2^retry, capped.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// "Full jitter": uniform in [0, ceiling], so clients that failed together do not
    /// retry together.
    pub fn delay(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(retry).as_millis() as u64;
        Duration::from_millis(rng.random_range(0..=ceiling))
    }
}

/// The first 200 characters of a body that is not Alma's error JSON, for the error message.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn err_json(code: &str) -> Vec<u8> {
        format!(
            r#"{{"errorsExist":true,"errorList":{{"error":[{{"errorCode":"{code}","errorMessage":"msg {code}"}}]}}}}"#
        )
        .into_bytes()
    }

    fn verdict(status: u16, body: &[u8]) -> AnswerVerdict {
        classify(status, body, "GET", "/almaws/v1/courses")
    }

    #[test]
    fn ok_without_errors_is_success() {
        assert!(matches!(
            verdict(200, br#"{"total_record_count":0}"#),
            AnswerVerdict::Success
        ));
        assert!(matches!(verdict(204, b""), AnswerVerdict::Success));
    }

    #[test]
    fn errors_exist_with_http_200_is_an_api_error() {
        match verdict(200, &err_json("402203")) {
            AnswerVerdict::Fail(AlmaError::Api {
                status,
                code,
                message,
            }) => {
                assert_eq!(
                    (status, code.as_str(), message.as_str()),
                    (200, "402203", "msg 402203")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn per_second_threshold_is_transient() {
        match verdict(429, &err_json("PER_SECOND_THRESHOLD")) {
            AnswerVerdict::Transient(why) => {
                assert_eq!(why.to_string(), "HTTP 429 PER_SECOND_THRESHOLD");
            }
            other => panic!("{other:?}"),
        }
        match verdict(429, b"") {
            AnswerVerdict::Transient(why) => {
                assert_eq!(why.to_string(), "HTTP 429 too many requests")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn daily_threshold_is_quota_exhausted_at_once() {
        let v = verdict(429, &err_json("DAILY_THRESHOLD"));
        assert!(
            matches!(v, AnswerVerdict::Fail(AlmaError::QuotaExhausted { .. })),
            "{v:?}"
        );
    }

    #[test]
    fn daily_threshold_in_xml_is_quota_exhausted_at_once() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><web_service_result xmlns="http://com/exlibris/urm/general/xmlbeans"><errorsExist>true</errorsExist><errorList><error><errorCode>DAILY_THRESHOLD</errorCode><errorMessage>Daily API Request Threshold has been reached.</errorMessage></error></errorList></web_service_result>"#;
        let v = verdict(429, xml);
        assert!(
            matches!(v, AnswerVerdict::Fail(AlmaError::QuotaExhausted { .. })),
            "{v:?}"
        );
        let xml = String::from_utf8_lossy(xml).replace("DAILY", "PER_SECOND");
        match verdict(429, xml.as_bytes()) {
            AnswerVerdict::Transient(why) => {
                assert_eq!(why.to_string(), "HTTP 429 PER_SECOND_THRESHOLD");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn server_errors_are_transient_even_without_json() {
        match verdict(503, b"<html>down</html>") {
            AnswerVerdict::Transient(why) => {
                assert_eq!(why.to_string(), "HTTP 503: <html>down</html>")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            verdict(500, &err_json("INTERNAL")),
            AnswerVerdict::Transient(_)
        ));
    }

    #[test]
    fn http_401_is_unauthorized_with_advice() {
        // Alma itself answers 400 or 403; a proxy may answer 401.
        match verdict(401, &err_json("UNAUTHORIZED")) {
            AnswerVerdict::Fail(e @ AlmaError::Unauthorized { .. }) => {
                assert_eq!(e.error_name(), "AlmaUnauthorized");
                assert!(e.to_string().contains("check the API key"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bad_key_answered_400_or_403_in_xml_is_unauthorized_whatever_was_asked() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><web_service_result xmlns="http://com/exlibris/urm/general/xmlbeans"><errorsExist>true</errorsExist><errorList><error><errorCode>UNAUTHORIZED</errorCode><errorMessage>API-key not defined or not configured to allow this API.</errorMessage></error></errorList></web_service_result>"#;
        for (status, body) in [
            (400, xml.as_slice()),
            (403, xml.as_slice()),
            (400, err_json("UNAUTHORIZED").as_slice()),
            (403, b"Forbidden".as_slice()),
        ] {
            match verdict(status, body) {
                AnswerVerdict::Fail(e @ AlmaError::Unauthorized { .. }) => {
                    assert_eq!(e.error_name(), "AlmaUnauthorized");
                    assert!(e.to_string().contains(&format!("HTTP {status}")), "{e}");
                }
                other => panic!("{status}: {other:?}"),
            }
        }
        // A 400 for anything else stays an API error.
        assert!(matches!(
            verdict(400, &err_json("40166410")),
            AnswerVerdict::Fail(AlmaError::Api { .. })
        ));
    }

    #[test]
    fn other_client_errors_are_final_api_errors_with_the_body() {
        match verdict(400, b"limit must be 0-100") {
            AnswerVerdict::Fail(AlmaError::Api {
                status,
                code,
                message,
            }) => {
                assert_eq!((status, code.as_str()), (400, ""));
                assert_eq!(message, "limit must be 0-100");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn backoff_ceiling_doubles_then_caps() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(0), Duration::from_millis(200));
        assert_eq!(b.ceiling(1), Duration::from_millis(400));
        assert_eq!(b.ceiling(3), Duration::from_millis(1600));
        assert_eq!(b.ceiling(6), BACKOFF_CAP);
        assert_eq!(b.ceiling(u32::MAX), BACKOFF_CAP);
        let short = Backoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(50),
        };
        assert_eq!(short.ceiling(2), Duration::from_millis(20));
        assert_eq!(short.ceiling(4), Duration::from_millis(50));
    }

    #[test]
    fn backoff_delay_is_jittered_within_the_ceiling() {
        let mut rng = StdRng::seed_from_u64(7);
        let b = Backoff::default();
        let delays: Vec<Duration> = (0..200).map(|_| b.delay(2, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= b.ceiling(2)));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(
            distinct.len() > 50,
            "full jitter spreads retries: {}",
            distinct.len()
        );
    }
}
