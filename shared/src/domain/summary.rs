//! The run summary: counts, rejects, warnings, Alma calls and timings, as JSON and as a few
//! lines for people.

use serde::Serialize;

use super::cem::{RowReject, TextEncoding};
use super::course::Warning;
use super::coverage::TermsSeen;

/// What the delete guard did with DELETE rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeleteCounts {
    /// Written to the loader file.
    pub sent: u64,
    /// Dropped: the course has reading lists.
    pub suppressed_reading_lists: u64,
    /// Dropped: no course in Alma has exactly this code.
    pub not_in_alma: u64,
    /// Held back (not written): no Alma to check against.
    pub unverified: u64,
    /// Dropped: an active row for the course came first.
    pub superseded: u64,
    /// Dropped: Alma's reading-list answer for the course said neither a count nor a list
    /// ("Alma's answer did not say"); many of these point to a change in Alma's answers.
    pub suppressed_unclear: u64,
}

/// Rollover report counts: candidates and how their copy requests matched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RolloverCounts {
    /// Active courses with a copy request.
    pub candidates: u64,
    pub found: u64,
    pub not_found: u64,
    pub ambiguous: u64,
    /// The matched course has no reading list.
    pub without_reading_lists: u64,
    /// Excluded by the rules' rollover exclusions.
    pub excluded: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineCode {
    pub line: u64,
    pub course_code: String,
    /// Why, when it is not that the course has reading lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// The reason a DELETE suppressed on an unclear reading-list answer carries.
pub const UNCLEAR_ANSWER: &str = "Alma's answer did not say";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Durations {
    pub read_ms: u64,
    pub alma_ms: u64,
    pub total_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub input_encoding: Option<TextEncoding>,
    /// Data rows read, whatever became of them.
    pub rows_read: u64,
    /// Rows of a status the profile skips (REQUESTED in CEM).
    pub rows_skipped: u64,
    pub rows_rejected: u64,
    pub rejects: Vec<RowReject>,
    /// The day's courses: rows in the output file (header excluded) plus, in a delta file,
    /// the courses left out as unchanged. The safety brake compares whole days by this.
    pub courses_written: u64,
    /// Rows in the output file, header excluded.
    pub rows_in_file: u64,
    pub deletes: DeleteCounts,
    pub suppressed_deletes: Vec<LineCode>,
    pub warnings: Vec<Warning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollovers: Option<RolloverCounts>,
    /// The (term, year) pairs the export's rows hold: what term coverage checks (§9).
    pub terms_seen: TermsSeen,
    pub alma_calls: u64,
    pub durations_ms: Durations,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "rows read {}, skipped (by status) {}, rejected {}",
            self.rows_read, self.rows_skipped, self.rows_rejected
        )?;
        if self.rows_in_file == self.courses_written {
            writeln!(f, "courses written {}", self.courses_written)?;
        } else {
            // A delta file: the day's courses, and the rows actually sent.
            writeln!(
                f,
                "courses written {} (rows in the file {})",
                self.courses_written, self.rows_in_file
            )?;
        }
        let d = &self.deletes;
        write!(
            f,
            "deletes sent {}, suppressed (reading lists) {}, not in Alma {}, unverified (offline) {}, superseded {}",
            d.sent, d.suppressed_reading_lists, d.not_in_alma, d.unverified, d.superseded
        )?;
        if d.suppressed_unclear > 0 {
            write!(
                f,
                ", suppressed ({UNCLEAR_ANSWER}) {}",
                d.suppressed_unclear
            )?;
        }
        writeln!(f)?;
        if let Some(r) = &self.rollovers {
            writeln!(
                f,
                "rollovers found {} of {} requests: not found {}, ambiguous {}, without reading lists {}, excluded {}",
                r.found, r.candidates, r.not_found, r.ambiguous, r.without_reading_lists, r.excluded
            )?;
        }
        writeln!(f, "warnings {}", self.warnings.len())?;
        write!(
            f,
            "Alma calls {}, time {:.2}s (Alma {:.2}s)",
            self.alma_calls,
            self.durations_ms.total_ms as f64 / 1000.0,
            self.durations_ms.alma_ms as f64 / 1000.0
        )
    }
}
