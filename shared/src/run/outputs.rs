//! What each step answers: the sections of the execution's state that later steps, Slack,
//! the e-mail, the day page and `leganto status` read (`$.pull`, `$.push`, `$.alma_job`,
//! `$.caches`, `$.report`, `$.email`). The transform's answer is in [`super::summary`] and
//! the hold's in [`super::hold`]. A field added here must be optional to read: a rerun's
//! state may hold an answer written before it existed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::run::rollovers::{CheckedRollovers, PushedRollovers};

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullOutput {
    pub export_key: String,
    pub source_file: String,
    pub bytes: u64,
    #[serde(default)]
    pub candidates: Vec<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushOutput {
    pub file_name: String,
    /// Absent when recalled by a rerun's plan, or when nothing was uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_path: Option<String>,
    pub bytes: u64,
    pub pushed_at: DateTime<Utc>,
    /// The day's receipt already names these bytes (or an identical file was on the
    /// server): nothing new was pushed.
    #[serde(default)]
    pub already_there: bool,
    /// Not pushed in this execution: the plan found the day's push receipt.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recalled: bool,
    /// Lower-case hex SHA-256 of the bytes loaded, as the receipt records it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// Where the pushed bytes are kept: the transform's file, or the one the fresh guard
    /// wrote without the DELETE rows it dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader_key: Option<String>,
    /// DELETE rows the fresh guard dropped at the push: their course has reading lists now,
    /// is no longer in Alma's listing, or Alma's answer did not say.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deletes_dropped_at_push: u64,
    /// Pushed over another file's receipt with `"force": true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    /// The approved rollovers the file sends, and those checked and not sent.
    #[serde(default, skip_serializing_if = "PushedRollovers::is_empty")]
    pub rollovers: PushedRollovers,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlmaJobOutput {
    pub done: bool,
    #[serde(default)]
    pub timed_out: bool,
    /// Alma's status (`RUNNING`, `COMPLETED_SUCCESS`, ...), or `NOT_STARTED`,
    /// `NOT_MONITORED`, `NOT_PUSHED`, `SKIPPED`.
    pub status: String,
    #[serde(default)]
    pub job_instance_id: Option<String>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
    #[serde(default)]
    pub checks: u64,
    #[serde(default)]
    pub waited_seconds: u64,
    /// Alma loaded the day: its course rows are now the baseline of delta loads.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub baseline_saved: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheOutput {
    pub year: i32,
    pub cache_key: String,
    pub courses: u64,
    #[serde(default)]
    pub api_calls: u64,
    /// The day's cache file was already there and was used as is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportOutput {
    pub report_key: String,
    pub report_file_name: String,
    pub rollovers: u64,
    pub ambiguous: u64,
    pub not_found: u64,
    #[serde(default)]
    pub candidates: u64,
    #[serde(default)]
    pub without_reading_lists: u64,
    #[serde(default)]
    pub excluded: u64,
    #[serde(default)]
    pub api_calls: u64,
    /// Of the report's rows, those whose course row is new or changed since the baseline
    /// of the day's delta (course-loading.md §8); absent for a full load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_since_baseline: Option<u64>,
    /// The institution rules the report followed (its rollover exclusions): the
    /// transform's, unless rules were pushed between the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<crate::run::rules::RulesVersion>,
    /// The rollovers sent earlier, confirmed or failed now that Alma loaded the day, and the
    /// report's rows the ledger already holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<CheckedRollovers>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailOutput {
    pub message_id: String,
    pub recipients: usize,
    pub attachment: String,
}
