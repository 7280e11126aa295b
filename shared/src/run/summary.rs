//! The transform's account of the day: `$.transform` in the execution's state and
//! `reports/YYYY/MM/DD/run-summary.json` in S3 ([`TransformOutput`]), with its counts and
//! the safety brake's verdict. The transform writes it; the hold, the push, the reports, the
//! page and `leganto approve` read it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::delta::Load;
use crate::domain::RunSummary;
use crate::run::limits::{self, capped};
use crate::run::rules::RulesVersion;

/// Where the warnings cut from the state are found.
pub const MORE_WARNINGS: &str = "all of them in run-summary.json";
/// The brake's reasons kept in the state: one per check (three) and the note of a skipped one.
pub const MAX_REASONS: usize = 4;

/// Named whole numbers; Slack and the e-mail print each one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransformCounts {
    pub rows_read: u64,
    pub rows_skipped: u64,
    pub rows_written: u64,
    pub rejected: u64,
    pub deletes_sent: u64,
    pub deletes_suppressed: u64,
    pub deletes_not_in_alma: u64,
    pub warnings: u64,
    /// Rows in the loader file: `rows_written` in a full file, the changes in a delta.
    pub rows_in_file: u64,
    /// DELETE rows not sent because Alma's reading-list answer said nothing (noted in Slack
    /// when there are any, not among the labelled counts).
    pub deletes_unclear: u64,
    /// Expected terms starting soon that the export holds no row of (§9): their sentences
    /// lead [`TransformOutput::warnings`]. Not among the labelled counts: the sentences say it.
    pub terms_missing: u64,
}

impl TransformCounts {
    pub fn from_summary(s: &RunSummary) -> TransformCounts {
        TransformCounts {
            rows_read: s.rows_read,
            rows_skipped: s.rows_skipped,
            rows_written: s.courses_written,
            rejected: s.rows_rejected,
            deletes_sent: s.deletes.sent,
            deletes_suppressed: s.deletes.suppressed_reading_lists,
            deletes_not_in_alma: s.deletes.not_in_alma,
            warnings: s.warnings.len() as u64,
            rows_in_file: s.rows_in_file,
            deletes_unclear: s.deletes.suppressed_unclear,
            // Term coverage needs the run date: the transform step counts it.
            terms_missing: 0,
        }
    }

    /// (label, value) in a fixed order, for people.
    pub fn labelled(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("Rows read", self.rows_read),
            ("Rows skipped (by status)", self.rows_skipped),
            ("Courses written", self.rows_written),
            ("Rows rejected", self.rejected),
            ("Deletes sent", self.deletes_sent),
            (
                "Deletes suppressed (reading lists)",
                self.deletes_suppressed,
            ),
            ("Deletes not in Alma", self.deletes_not_in_alma),
            ("Warnings", self.warnings),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransformOutput {
    pub loader_key: String,
    pub loader_file_name: String,
    pub summary_key: String,
    pub rejects_key: String,
    #[serde(default)]
    pub counts: TransformCounts,
    /// The day's warnings for people: the terms missing from the export first
    /// (`counts.terms_missing` of them), the day's other notes, then the rows'.
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub years_needed: Vec<i32>,
    /// The safety brake's verdict against the last loaded day (a summary from before the
    /// brake reads as not tripped).
    #[serde(default)]
    pub brake: Brake,
    /// A delta or a full file (a summary from before delta loads reads as absent).
    #[serde(default)]
    pub load: Option<Load>,
    /// The institution rules the day followed (a summary from before rules were kept in
    /// the bucket reads as absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RulesVersion>,
    /// The request for a full load this file follows: the push removes it once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_load_request: Option<crate::run::full_load::FollowedRequest>,
}

impl TransformOutput {
    /// The sentences of the expected terms the export lacks (they lead the warnings).
    pub fn terms_missing(&self) -> &[String] {
        let n = usize::try_from(self.counts.terms_missing).unwrap_or(usize::MAX);
        &self.warnings[..n.min(self.warnings.len())]
    }

    /// Within the state's limits (see [`limits`]): a few warnings, each short, and the
    /// years nearest `run_year`. Also applied to a summary a rerun's plan reads back.
    pub fn bounded(mut self, run_year: i32) -> TransformOutput {
        if self.warnings.len() > limits::LIST_ITEMS + 1 {
            self.warnings = capped(self.warnings, limits::LIST_ITEMS, MORE_WARNINGS);
        } else {
            for w in &mut self.warnings {
                *w = limits::clip(w, limits::LINE_BYTES);
            }
        }
        self.years_needed = nearest_years(&self.years_needed, run_year, limits::YEARS).0;
        self.brake = self.brake.bounded();
        if let Some(reason) = self.load.as_mut().and_then(|l| l.reason.as_mut()) {
            *reason = limits::clip(reason, limits::LINE_BYTES);
        }
        self
    }
}

/// Of `years` (ascending), the `limit` nearest `around`, ascending, and the rest.
pub fn nearest_years(years: &[i32], around: i32, limit: usize) -> (Vec<i32>, Vec<i32>) {
    let mut by_distance = years.to_vec();
    by_distance.sort_by_key(|y| ((i64::from(*y) - i64::from(around)).abs(), -i64::from(*y)));
    let mut rest = by_distance.split_off(limit.min(by_distance.len()));
    by_distance.sort_unstable();
    rest.sort_unstable();
    (by_distance, rest)
}

/// What a run summary says of its loader file: when its delete checks were made and where
/// the file (whose course rows the day keeps) is, if it says.
#[derive(Debug, Clone, Deserialize)]
pub struct SummaryStamp {
    #[serde(default)]
    pub made_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub loader_key: Option<String>,
}

/// The verdict, in the transform's output and the run summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Brake {
    /// The day holds before Push until a person decides.
    pub tripped: bool,
    /// One sentence per check that tripped, with the numbers; or why a check was skipped.
    pub reasons: Vec<String>,
    /// The last loaded day the rows were compared with; none before the first load.
    pub compared_with: Option<NaiveDate>,
    /// How many loaded days said what is usual (at most 14; 0 on a first day).
    #[serde(default)]
    pub history_days: usize,
}

impl Brake {
    /// Within the state's limits: a few short reasons.
    pub fn bounded(mut self) -> Brake {
        self.reasons.truncate(MAX_REASONS);
        for r in &mut self.reasons {
            *r = crate::run::limits::clip(r, crate::run::limits::LINE_BYTES);
        }
        self
    }
}
