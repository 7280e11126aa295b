//! The run layer: what a run of the day is, beneath the steps, the operators' commands and
//! the day page. The run's identity and stages ([`RunInfo`], [`Stage`]), the execution
//! input ([`ExecutionInput`]), the transform's account (`summary`), the day's records in S3
//! (`lease`, `receipt`, `hold`), the preflight checklist, the state's limits and the Alma
//! rate live here, so `steps/`, `ops/` and `page/` all read them from one place and none of
//! them reaches up into another (docs/architecture.md).

pub mod alma_rate;
pub mod baseline;
pub mod brake;
pub mod export_wait;
pub mod full_load;
pub mod hold;
mod input;
pub mod lease;
pub mod limits;
pub mod outputs;
pub mod preflight;
pub mod receipt;
pub mod report;
pub mod rollovers;
pub mod rules;
pub mod state;
pub mod summary;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use input::{requested_run_date, ExecutionInput, InputError};

/// A failure's cause for people: a Lambda error's cause is the JSON text
/// `{"errorType", "errorMessage"}`, of which the message says it; anything else (a
/// `States.*` cause) as it is. Slack, the e-mail, the day page, `leganto status` and
/// `leganto rerun --wait` all show a cause through this.
pub fn readable_cause(cause: &str) -> String {
    serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| v.get("errorMessage")?.as_str().map(str::to_string))
        .unwrap_or_else(|| cause.to_string())
}

/// A stage a run can start at (`start_at`), in running order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    Pull,
    Transform,
    Push,
    WaitForAlma,
    RolloverReport,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Pull,
        Stage::Transform,
        Stage::Push,
        Stage::WaitForAlma,
        Stage::RolloverReport,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Pull => "pull",
            Stage::Transform => "transform",
            Stage::Push => "push",
            Stage::WaitForAlma => "wait_for_alma",
            Stage::RolloverReport => "rollover_report",
        }
    }

    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The `run` section the plan writes and every later step reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// `YYYY-MM-DD` in the library's time zone.
    pub run_date: NaiveDate,
    #[serde(default)]
    pub start_at: Stage,
    #[serde(default)]
    pub dry_run: bool,
    /// `"force": true` in the execution input: push even over another file's receipt.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
    /// `"full": true` in the execution input: send every course, not the day's changes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full: bool,
    /// The schedule started the run (its input named no day and no stage): a full load
    /// asked for the next scheduled day applies to it ([`full_load`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scheduled: bool,
    #[serde(default)]
    pub skipped_stages: Vec<Stage>,
    #[serde(default)]
    pub time_zone: String,
    #[serde(default)]
    pub poll_interval_seconds: u64,
    #[serde(default)]
    pub wait_limit_seconds: u64,
    /// Between looks for a person's decision on a held day (the hold loop's Wait).
    #[serde(default)]
    pub hold_poll_seconds: u64,
    /// A scheduled run waits for a late export until then (see [`export_wait`]); absent,
    /// Pull looks once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_wait_until: Option<DateTime<Utc>>,
    /// Between looks for a late export (the look loop's Wait).
    #[serde(default)]
    pub export_poll_seconds: u64,
    #[serde(default)]
    pub execution_arn: String,
    #[serde(default)]
    pub execution_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
}

impl RunInfo {
    /// A run for `run_date` with defaults elsewhere (tests, local runs).
    pub fn for_date(run_date: NaiveDate) -> RunInfo {
        RunInfo {
            run_date,
            start_at: Stage::Pull,
            dry_run: false,
            force: false,
            full: false,
            scheduled: false,
            skipped_stages: Vec::new(),
            time_zone: String::new(),
            poll_interval_seconds: 0,
            wait_limit_seconds: 0,
            hold_poll_seconds: 0,
            export_wait_until: None,
            export_poll_seconds: 0,
            execution_arn: String::new(),
            execution_name: String::new(),
            console_url: None,
            started_at: None,
        }
    }

    /// The day's keys: live, or under `dry-run/` in a dry run (which writes nothing live).
    pub fn day(&self) -> crate::store::DayKeys {
        crate::store::DayKeys::for_run(self.run_date, self.dry_run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_run_section_reads_with_defaults() {
        let run: RunInfo = serde_json::from_value(serde_json::json!({
            "run_date": "2026-11-28", "unknown": 1
        }))
        .unwrap();
        assert_eq!(
            run,
            RunInfo::for_date(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap())
        );
        let json = serde_json::to_value(&run).unwrap();
        assert_eq!(json["start_at"], "pull");
        assert!(json.get("console_url").is_none());
    }
}
