//! What to do with an Alma answer (use it, retry it, give up) and how long to wait between
//! tries. Pure functions, so the policy is tested without a server.

use std::time::Duration;

use rand::Rng;

use super::error::{parse_error_body, AlmaError};

/// First backoff ceiling; doubles per retry.
pub(crate) const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Largest backoff ceiling.
pub(crate) const BACKOFF_CAP: Duration = Duration::from_secs(10);

/// The verdict on one HTTP answer.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// 2xx without `errorsExist`: read the body.
    Success,
    /// Worth another try (GETs only): 429 PER_SECOND_THRESHOLD, 5xx. Holds what happened.
    Transient(String),
    /// Final.
    Fail(AlmaError),
}

/// Classifies an answer by status and Alma's error JSON. `errorsExist: true` is a failure
/// even with HTTP 200; DAILY_THRESHOLD ends the run whatever the status says.
pub(crate) fn classify(status: u16, body: &[u8], method: &str, path: &str) -> Verdict {
    let err = parse_error_body(body);
    let code = err.as_ref().map(|e| e.code.as_str()).unwrap_or("");
    if code == "DAILY_THRESHOLD" {
        return Verdict::Fail(AlmaError::QuotaExhausted {
            detail: format!("Alma answered {method} {path} with HTTP {status} DAILY_THRESHOLD"),
        });
    }
    if (200..300).contains(&status) && err.is_none() {
        return Verdict::Success;
    }
    let message = match &err {
        Some(e) if !e.message.is_empty() => e.message.clone(),
        _ => snippet(body),
    };
    if status == 401 || status == 403 || code == "UNAUTHORIZED" {
        return Verdict::Fail(AlmaError::Unauthorized {
            status,
            method: method.to_string(),
            path: path.to_string(),
            message,
        });
    }
    if status == 429 || code == "PER_SECOND_THRESHOLD" {
        let code = if code.is_empty() {
            "too many requests"
        } else {
            code
        };
        return Verdict::Transient(format!("HTTP {status} {code}"));
    }
    if status >= 500 {
        return Verdict::Transient(format!("HTTP {status}: {message}"));
    }
    Verdict::Fail(AlmaError::Api {
        status,
        code: code.to_string(),
        message,
    })
}

/// Backoff ceiling before retry number `retry` (0-based): base × 2^retry, capped.
pub(crate) fn backoff_ceiling(retry: u32) -> Duration {
    let factor = 1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX);
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_CAP)
}

/// "Full jitter": uniform in [0, ceiling], so clients that failed together do not retry
/// together.
pub(crate) fn backoff_delay(retry: u32, rng: &mut impl Rng) -> Duration {
    let ceiling = backoff_ceiling(retry).as_millis() as u64;
    Duration::from_millis(rng.gen_range(0..=ceiling))
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
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn err_json(code: &str) -> Vec<u8> {
        format!(
            r#"{{"errorsExist":true,"errorList":{{"error":[{{"errorCode":"{code}","errorMessage":"msg {code}"}}]}}}}"#
        )
        .into_bytes()
    }

    fn verdict(status: u16, body: &[u8]) -> Verdict {
        classify(status, body, "GET", "/almaws/v1/courses")
    }

    #[test]
    fn ok_without_errors_is_success() {
        assert!(matches!(
            verdict(200, br#"{"total_record_count":0}"#),
            Verdict::Success
        ));
        assert!(matches!(verdict(204, b""), Verdict::Success));
    }

    #[test]
    fn errors_exist_with_http_200_is_an_api_error() {
        match verdict(200, &err_json("402203")) {
            Verdict::Fail(AlmaError::Api {
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
            Verdict::Transient(why) => assert!(why.contains("PER_SECOND_THRESHOLD"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn daily_threshold_is_quota_exhausted_at_once() {
        let v = verdict(429, &err_json("DAILY_THRESHOLD"));
        assert!(
            matches!(v, Verdict::Fail(AlmaError::QuotaExhausted { .. })),
            "{v:?}"
        );
    }

    #[test]
    fn server_errors_are_transient_even_without_json() {
        assert!(matches!(
            verdict(503, b"<html>down</html>"),
            Verdict::Transient(_)
        ));
        assert!(matches!(
            verdict(500, &err_json("INTERNAL")),
            Verdict::Transient(_)
        ));
    }

    #[test]
    fn http_401_is_unauthorized_with_advice() {
        match verdict(401, &err_json("UNAUTHORIZED")) {
            Verdict::Fail(e @ AlmaError::Unauthorized { .. }) => {
                assert_eq!(e.kind_name(), "AlmaUnauthorized");
                assert!(e.to_string().contains("check the API key"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_client_errors_are_final_api_errors_with_the_body() {
        match verdict(400, b"limit must be 0-100") {
            Verdict::Fail(AlmaError::Api {
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
        assert_eq!(backoff_ceiling(0), Duration::from_millis(200));
        assert_eq!(backoff_ceiling(1), Duration::from_millis(400));
        assert_eq!(backoff_ceiling(3), Duration::from_millis(1600));
        assert_eq!(backoff_ceiling(6), BACKOFF_CAP);
        assert_eq!(backoff_ceiling(u32::MAX), BACKOFF_CAP);
    }

    #[test]
    fn backoff_delay_is_jittered_within_the_ceiling() {
        let mut rng = StdRng::seed_from_u64(7);
        let delays: Vec<Duration> = (0..200).map(|_| backoff_delay(2, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= backoff_ceiling(2)));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(
            distinct.len() > 50,
            "full jitter spreads retries: {}",
            distinct.len()
        );
    }
}
