//! `leganto doctor`: start a preflight execution (`{"preflight": true}`: the functions
//! check their peers from inside AWS instead of running a day) and read its checklist.

use chrono::{DateTime, Utc};

use super::rerun::{self, Outcome, Started};
use super::OpsError;
use crate::run::preflight::{self, Check};

/// `preflight-20261130T162005Z`: says what it was and when.
pub fn execution_name(now: DateTime<Utc>) -> String {
    format!("preflight-{}", now.format("%Y%m%dT%H%M%SZ"))
}

/// Starts the preflight execution.
#[tracing::instrument(skip(sfn), err)]
pub async fn start(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    now: DateTime<Utc>,
) -> Result<Started, OpsError> {
    let input = serde_json::json!({"preflight": true}).to_string();
    let started = rerun::start_named(
        sfn,
        state_machine_arn,
        execution_name(now),
        input.clone(),
        now,
    )
    .await;
    match started {
        // Names go by the second: a second doctor within the same second takes the next.
        Err(e) if e.is_execution_already_exists() => {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let next = now + chrono::Duration::seconds(1);
            rerun::start_named(sfn, state_machine_arn, execution_name(next), input, next).await
        }
        other => other,
    }
}

/// The checklist of a finished preflight execution; one failed check when the execution
/// itself failed or gave no checklist (an older definition without the preflight).
pub fn checklist(outcome: &Outcome) -> Vec<Check> {
    let output: serde_json::Value = outcome
        .output
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    let checks = preflight::checklist(&output);
    if outcome.succeeded() && !checks.is_empty() {
        return checks;
    }
    let error = outcome.error.as_deref().unwrap_or_default();
    let detail = match (&outcome.cause, outcome.succeeded()) {
        (_, true) => "the execution gave no checklist".to_string(),
        (Some(cause), false) => format!(
            "the execution {}: {error}: {}",
            outcome.status,
            crate::run::readable_cause(cause)
        ),
        (None, false) => format!("the execution {}: {error}", outcome.status),
    };
    vec![Check::failed(
        "the preflight execution",
        detail,
        "Deploy this version of the stack (its state machine runs the preflight), then run `leganto doctor` again.",
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_execution_name_says_preflight_and_when() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 16, 20, 5).unwrap();
        assert_eq!(execution_name(now), "preflight-20261130T162005Z");
    }

    #[test]
    fn an_execution_without_a_checklist_is_one_failed_check() {
        let outcome = Outcome {
            status: "SUCCEEDED".into(),
            error: None,
            cause: None,
            output: Some(r#"{"run": {}}"#.into()),
        };
        let checks = checklist(&outcome);
        assert_eq!(checks.len(), 1);
        assert!(!checks[0].ok);
        let failed = Outcome {
            status: "FAILED".into(),
            error: Some("States.Runtime".into()),
            cause: Some("boom".into()),
            output: None,
        };
        assert_eq!(
            checklist(&failed)[0].detail,
            "the execution FAILED: States.Runtime: boom"
        );
    }
}
