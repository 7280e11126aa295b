//! The preflight's checklist (`leganto doctor`): each function's checks as its Task returns
//! them, read back from the execution's output.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub check: String,
    pub ok: bool,
    pub detail: String,
    /// One sentence; empty when the check passed.
    #[serde(default)]
    pub what_to_do: String,
}

impl Check {
    pub fn passed(check: &str, detail: impl Into<String>) -> Check {
        Check {
            check: check.to_string(),
            ok: true,
            detail: detail.into(),
            what_to_do: String::new(),
        }
    }

    pub fn failed(check: &str, detail: impl Into<String>, what_to_do: impl Into<String>) -> Check {
        Check {
            check: check.to_string(),
            ok: false,
            detail: detail.into(),
            what_to_do: what_to_do.into(),
        }
    }

    /// A check not tried because an earlier one it needs failed.
    pub fn not_tried(check: &str, because: &str) -> Check {
        Check::failed(
            check,
            format!("not tried: it needs \"{because}\", which failed"),
            format!("Fix the failed check \"{because}\" first, then run `leganto doctor` again."),
        )
    }
}

/// What one function's checks found (a Task's output in the preflight Parallel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightOutput {
    /// The function's folder name: `pull`, `check-job`, ...
    pub step: String,
    pub checks: Vec<Check>,
}

/// What to do about an error met during a preflight: the run's own advice for it
/// ([`crate::next_step`]), ending in another preflight rather than a rerun of a day.
pub fn advice(error_name: &str) -> String {
    let sentence = crate::next_step::next_step(error_name);
    match sentence.find(", then rerun") {
        Some(end) => format!("{}, then run `leganto doctor` again.", &sentence[..end]),
        None => sentence.to_string(),
    }
}

/// The checklist an execution's output holds: each function's checks, and for a function
/// that failed outright (`{"step", "error", "cause"}` from the Parallel's Catch) one failed
/// check naming the error.
pub fn checklist(output: &Value) -> Vec<Check> {
    let branches = output
        .get("preflight")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut checks = Vec::new();
    for branch in branches {
        if let Ok(found) = serde_json::from_value::<PreflightOutput>(branch.clone()) {
            checks.extend(found.checks);
            continue;
        }
        let text = |key: &str| branch.get(key).and_then(Value::as_str).unwrap_or_default();
        let error = text("error");
        checks.push(Check::failed(
            &format!("the {} function", text("step")),
            format!("it failed with {error}: {}", text("cause")),
            advice(error),
        ));
    }
    checks
}
