//! Plain data the simulator holds: courses, reading lists, job instances, the call log.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One course of the fixture file (`tests/fixtures/sample/alma_courses.json` is an array of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureCourse {
    pub id: String,
    pub code: String,
    pub name: String,
    pub section: String,
    pub year: String,
    #[serde(default)]
    pub searchable_id: Vec<String>,
    pub reading_lists: bool,
}

/// A reading list attached to a course.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimReadingList {
    pub id: String,
    pub code: String,
    pub name: String,
    /// Alma's reading list status code, e.g. `Complete`, `BeingPrepared`.
    pub status: String,
}

/// A course as the simulated Alma holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimCourse {
    pub id: String,
    pub code: String,
    pub name: String,
    pub section: String,
    pub year: String,
    pub searchable_ids: Vec<String>,
    /// Instructors' primary ids, in file order.
    pub instructors: Vec<String>,
    pub academic_department: Option<String>,
    pub processing_department: Option<String>,
    /// Term codes (Term1..Term4 of the loader file).
    pub terms: Vec<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub participants: Option<u32>,
    pub weekly_hours: Option<u32>,
    pub submit_lists_by: Option<NaiveDate>,
    /// Raw "Campus and Campus Participants" value of the loader file.
    pub campus_participants: Option<String>,
    pub reading_lists: Vec<SimReadingList>,
}

/// One `/almaws/` call as the simulator saw it. Never holds the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    pub method: String,
    /// Path only, e.g. `/almaws/v1/courses/6100000000009`.
    pub path: String,
    /// The query string with any `apikey` parameter removed.
    pub query: String,
    pub key_in_header: bool,
    pub key_in_query: bool,
    pub status: u16,
    /// When it arrived, in milliseconds since the simulator started.
    #[serde(default)]
    pub at_ms: u64,
}

/// Lifecycle of a loader run, as Alma reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Queued,
    Running,
    CompletedSuccess,
    CompletedWarning,
    CompletedFailed,
    CompletedNoBulks,
}

impl JobStatus {
    pub fn value(self) -> &'static str {
        match self {
            JobStatus::Queued => "QUEUED",
            JobStatus::Running => "RUNNING",
            JobStatus::CompletedSuccess => "COMPLETED_SUCCESS",
            JobStatus::CompletedWarning => "COMPLETED_WARNING",
            JobStatus::CompletedFailed => "COMPLETED_FAILED",
            JobStatus::CompletedNoBulks => "COMPLETED_NO_BULKS",
        }
    }

    pub fn desc(self) -> &'static str {
        match self {
            JobStatus::Queued => "Queued",
            JobStatus::Running => "Running",
            JobStatus::CompletedSuccess => "Completed Successfully",
            JobStatus::CompletedWarning => "Completed with Warnings",
            JobStatus::CompletedFailed => "Completed with Failures",
            JobStatus::CompletedNoBulks => "Completed - No Bulks",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

/// A broken answer to `GET /courses/{id}/reading-lists`, for one course (see
/// [`AlmaSim::break_reading_lists`](super::AlmaSim::break_reading_lists)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BrokenAnswer {
    /// 200 with an empty body.
    Empty,
    /// 200 with the course's lists but no `total_record_count`.
    NoCount,
    /// 200 with a body that is not JSON (or XML).
    NotParseable,
    /// 200 with `{}`: neither a count nor a list.
    Silent,
    /// 200 with `{"reading_list": []}`: an explicit empty list, no count.
    EmptyList,
}

impl BrokenAnswer {
    /// The name `POST /sim/courses/{id}/broken-reading-lists/{name}` takes.
    pub fn from_name(name: &str) -> Option<BrokenAnswer> {
        serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
    }
}

/// Counter type values reported in `counter[].type.value` (JSON; XML wraps them in
/// `<counters>`).
pub const COUNTER_ROWS_READ: &str = "course_loader.rows_read";
pub const COUNTER_CREATED: &str = "course_loader.courses_created";
pub const COUNTER_UPDATED: &str = "course_loader.courses_updated";
pub const COUNTER_DELETED: &str = "course_loader.courses_deleted";
pub const COUNTER_ROLLED_OVER: &str = "course_loader.courses_rolled_over";
pub const COUNTER_ERRORS: &str = "course_loader.rows_with_errors";

/// What one loader run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderCounters {
    pub rows_read: u64,
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub rolled_over: u64,
    pub errors: u64,
}

impl LoaderCounters {
    /// `(type value, description, count)` in report order.
    pub fn entries(&self) -> [(&'static str, &'static str, u64); 6] {
        [
            (COUNTER_ROWS_READ, "Rows read", self.rows_read),
            (COUNTER_CREATED, "Courses created", self.created),
            (COUNTER_UPDATED, "Courses updated", self.updated),
            (COUNTER_DELETED, "Courses deleted", self.deleted),
            (COUNTER_ROLLED_OVER, "Courses rolled over", self.rolled_over),
            (COUNTER_ERRORS, "Rows with errors", self.errors),
        ]
    }
}

/// A rejected row of a loader file (1-based line number; the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub line: usize,
    pub code: String,
    pub section: String,
    pub reason: String,
}

/// One run of the course loader job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobInstance {
    pub id: String,
    /// The loader file the run took; empty for a scheduled run that found none.
    pub file_name: String,
    pub status: JobStatus,
    pub submit_time: DateTime<Utc>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub counters: LoaderCounters,
    /// Per-row errors: visible to tests only, as in Alma they are not in the API.
    pub row_errors: Vec<RowError>,
    /// Why the whole run failed (COMPLETED_FAILED).
    pub failure: Option<String>,
}

impl JobInstance {
    /// Alma's `progress`: a percentage, a double.
    pub fn progress(&self) -> f64 {
        match self.status {
            JobStatus::Queued => 0.0,
            JobStatus::Running => 37.5,
            _ => 100.0,
        }
    }
}
