//! The execution's state, read once: each section a step wrote (`$.run`, `$.pull`,
//! `$.transform`, ...) as its own type. Leniently: a section that does not parse is left
//! out and logged, so a failure notice or a page still goes out whatever broke. Slack, the
//! e-mail and the release read the state only through [`RunState`].

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::hold::HoldOutput;
use super::outputs::{
    AlmaJobOutput, CacheOutput, EmailOutput, PullOutput, PushOutput, ReportOutput,
};
use super::summary::TransformOutput;
use super::RunInfo;

/// `$.error` as a `Catch` writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// The state as far as it could be read.
#[derive(Debug, Clone, Default)]
pub struct RunState {
    pub run: Option<RunInfo>,
    pub pull: Option<PullOutput>,
    pub transform: Option<TransformOutput>,
    pub hold: Option<HoldOutput>,
    pub push: Option<PushOutput>,
    pub alma_job: Option<AlmaJobOutput>,
    pub caches: Option<Vec<CacheOutput>>,
    pub report: Option<ReportOutput>,
    pub email: Option<EmailOutput>,
    /// Present whenever the state has an `error`, even one that does not parse: the run
    /// failed.
    pub error: Option<CaughtError>,
    pub failed_state: Option<String>,
    /// The execution input's `run_date` when the plan itself failed.
    pub requested_run_date: Option<NaiveDate>,
}

impl RunState {
    pub fn from_value(state: &Value) -> RunState {
        let failed = state.get("error").is_some_and(|e| !e.is_null());
        RunState {
            run: section(state, "run"),
            pull: section(state, "pull"),
            transform: section(state, "transform"),
            hold: section(state, "hold"),
            push: section(state, "push"),
            alma_job: section(state, "alma_job"),
            caches: section(state, "caches"),
            report: section(state, "report"),
            email: section(state, "email"),
            error: failed.then(|| section(state, "error").unwrap_or_default()),
            failed_state: section(state, "failed_state"),
            requested_run_date: super::requested_run_date(state),
        }
    }

    /// The run's date, else the date the failed plan was asked for.
    pub fn run_date(&self) -> Option<NaiveDate> {
        self.run
            .as_ref()
            .map(|r| r.run_date)
            .or(self.requested_run_date)
    }

    pub fn dry_run(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.dry_run)
    }

    pub fn console_url(&self) -> Option<String> {
        self.run.as_ref().and_then(|r| r.console_url.clone())
    }
}

/// A step's input that is the state (or part of it) reads it the same lenient way.
impl<'de> Deserialize<'de> for RunState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RunState::from_value(&Value::deserialize(d)?))
    }
}

fn section<T: DeserializeOwned>(state: &Value, name: &str) -> Option<T> {
    let value = state.get(name).filter(|v| !v.is_null())?;
    match serde_json::from_value(value.clone()) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(section = name, error = %e, "state section unreadable; left out");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_section_that_does_not_parse_is_left_out_and_the_rest_is_read() {
        let state = RunState::from_value(&json!({
            "run": {"run_date": "2026-11-28", "execution_arn": "arn", "execution_name": "n",
                    "started_at": "2026-11-28T16:20:00Z"},
            "push": {"file_name": 7},
            "caches": [{"year": 2026, "cache_key": "k", "courses": 3, "api_calls": 2}],
        }));
        assert_eq!(state.run_date(), NaiveDate::from_ymd_opt(2026, 11, 28));
        assert!(state.push.is_none());
        assert_eq!(state.caches.as_ref().map(Vec::len), Some(1));
        assert!(state.error.is_none());
    }

    #[test]
    fn an_error_that_does_not_parse_still_says_the_run_failed() {
        let state = RunState::from_value(&json!({"error": "States.Timeout"}));
        assert_eq!(state.error, Some(CaughtError::default()));
        let state = RunState::from_value(&json!({"error": null}));
        assert_eq!(state.error, None);
    }

    #[test]
    fn a_failed_plans_state_gives_the_date_it_asked_for() {
        let state = RunState::from_value(&json!({"run_date": "2026-11-28", "error": {
            "Error": "InvalidInput", "Cause": "c"}, "failed_state": "Plan the run"}));
        assert_eq!(state.run_date(), NaiveDate::from_ymd_opt(2026, 11, 28));
        assert_eq!(state.error.unwrap().error, "InvalidInput");
    }
}
