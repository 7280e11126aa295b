//! Reviewed rollovers (course-loading.md §10): the ledger of rollovers a person approved,
//! one S3 object per target course under `state/rollovers/`, each written only by a
//! conditional write. A rollover moves approved → sent → confirmed (or failed); one found
//! to have lists already is closed. Alma copies the lists again for every ROLLOVER row it
//! gets, so a record that says sent is never sent again; only a failed one may be approved
//! again.

use chrono::{DateTime, NaiveDate, Utc};
use futures::{stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::domain::loader::LOADER_COLUMNS;
use crate::store::{content_type, Store, StoreError};

/// The ledger's prefix in the bucket.
pub const LEDGER_PREFIX: &str = "state/rollovers/";

/// Columns of a loader row (`domain::loader::LOADER_COLUMNS`) a rollover is known by.
const CODE: usize = 0;
const SECTION: usize = 2;
const OPERATION: usize = 28;
const OLD_CODE: usize = 29;
const OLD_SECTION: usize = 30;

/// A rollover: the course that gets the lists, and the course they are copied from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollover {
    pub code: String,
    pub section: String,
    pub old_code: String,
    pub old_section: String,
}

impl Rollover {
    /// The rollover a ROLLOVER row of the loader layout asks for; `None` for another row.
    pub fn of_row(line: &str) -> Option<Rollover> {
        let cells: Vec<&str> = line.trim_end_matches(['\r', '\n']).split('\t').collect();
        let cell = |i: usize| cells.get(i).map(|c| c.trim()).unwrap_or_default();
        if cell(OPERATION) != "ROLLOVER" || cell(CODE).is_empty() || cell(OLD_CODE).is_empty() {
            return None;
        }
        Some(Rollover {
            code: cell(CODE).to_string(),
            section: cell(SECTION).to_string(),
            old_code: cell(OLD_CODE).to_string(),
            old_section: cell(OLD_SECTION).to_string(),
        })
    }

    /// `state/rollovers/<code>/<section>.json`: one record per target course, whatever
    /// the source, so a course is never rolled over twice.
    pub fn ledger_key(&self) -> String {
        format!(
            "{LEDGER_PREFIX}{}/{}.json",
            key_part(&self.code),
            key_part(&self.section)
        )
    }

    /// "2026SummerA-X-SPA337-38334 (38334) from 2025Summer-X-MAT457-25992 (25992)".
    pub fn describe(&self) -> String {
        format!(
            "{} ({}) from {} ({})",
            self.code, self.section, self.old_code, self.old_section
        )
    }

    /// Whether `code` + `section` name this rollover's target.
    pub fn targets(&self, code: &str, section: &str) -> bool {
        self.code == code && self.section == section
    }

    /// `course_row` (a loader row, with or without its CRLF) made this rollover's ROLLOVER
    /// row: its other columns kept, Operation, Old Course Code and Old Course Section ID set.
    pub fn row_from(&self, course_row: &str) -> String {
        let line = course_row.trim_end_matches(['\r', '\n']);
        let mut cells: Vec<&str> = line.split('\t').collect();
        cells.resize(cells.len().max(LOADER_COLUMNS.len()), "");
        cells[OPERATION] = "ROLLOVER";
        cells[OLD_CODE] = &self.old_code;
        cells[OLD_SECTION] = &self.old_section;
        cells.join("\t")
    }
}

/// The course code and section of a loader row (with or without its CRLF).
pub fn code_and_section(line: &str) -> (&str, &str) {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut cells = line.split('\t');
    let code = cells.next().unwrap_or_default();
    let section = cells.nth(SECTION - 1).unwrap_or_default();
    (code.trim(), section.trim())
}

/// A code or section as part of an S3 key: letters, digits, `-`, `_` and `.` as they are,
/// anything else `%XX`, so no value can reach another key.
fn key_part(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '%');
    }
    out
}

/// Where a rollover stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// A person approved it; the next live push sends it.
    Approved,
    /// Approved, but the old course had no reading list when a push checked: still open,
    /// checked again at the next push.
    SourceHasNoLists,
    /// Approval withdrawn before it was sent.
    Revoked,
    /// In a file that went to Alma; waiting for Alma's job.
    Sent,
    /// After Alma's job, the target course has reading lists.
    Confirmed,
    /// After Alma's job, the target course has none: only a new approval sends it again.
    Failed,
    /// The target course had lists before it was sent: closed, never sent.
    AlreadyHasLists,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Approved => "approved",
            Stage::SourceHasNoLists => "source has no lists",
            Stage::Revoked => "revoked",
            Stage::Sent => "sent",
            Stage::Confirmed => "confirmed",
            Stage::Failed => "failed",
            Stage::AlreadyHasLists => "already has lists",
        }
    }

    /// Approved and not yet sent: the next live push checks it in Alma and sends it.
    pub fn is_open(self) -> bool {
        matches!(self, Stage::Approved | Stage::SourceHasNoLists)
    }

    /// Whether a person may approve it (again): never approved, revoked, or failed.
    pub fn may_approve(stage: Option<Stage>) -> bool {
        matches!(stage, None | Some(Stage::Revoked) | Some(Stage::Failed))
    }
}

/// The ledger's record of one rollover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(flatten)]
    pub rollover: Rollover,
    pub stage: Stage,
    /// The run date of the report the approval came from.
    pub report_date: NaiveDate,
    pub approved_by: String,
    pub approved_at: DateTime<Utc>,
    /// The report's row, sent (as ROLLOVER) when the day's file has no course row for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<String>,
    /// The day and loader file that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<Sent>,
    /// The last check's finding for people, e.g. "source has no lists (2026-11-29)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Each change, oldest first: "approved by pat@… at …", "sent in 20261129…txt", ….
    #[serde(default)]
    pub history: Vec<String>,
}

/// Where a rollover was sent: recorded before the file goes up, its name on Alma's server
/// added once Alma's job took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub run_date: NaiveDate,
    /// The execution whose push sends it: only a retry of that push may send it again
    /// (the same bytes, under the same name), and only while its file is not yet up.
    pub execution_arn: String,
    /// The loader file in S3 that holds its ROLLOVER row.
    pub loader_key: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

impl Record {
    /// A new approval, or a renewed one of a revoked or failed record (its history kept).
    pub fn approved(
        rollover: Rollover,
        row: Option<String>,
        earlier: Option<Record>,
        report_date: NaiveDate,
        by: &str,
        at: DateTime<Utc>,
    ) -> Record {
        let mut history = earlier.map(|r| r.history).unwrap_or_default();
        history.push(format!(
            "approved by {by} at {} (report of {report_date})",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
        Record {
            rollover,
            stage: Stage::Approved,
            report_date,
            approved_by: by.to_string(),
            approved_at: at,
            row,
            sent: None,
            note: None,
            history,
        }
    }

    /// The record moved to `stage`, with a line of history.
    pub fn moved(mut self, stage: Stage, what: String) -> Record {
        self.stage = stage;
        self.history.push(what);
        self
    }
}

/// A record as read from the ledger, with the version a conditional write replaces.
#[derive(Debug, Clone)]
pub struct Held {
    pub record: Record,
    pub etag: String,
}

/// Every record of the ledger, read a few at a time.
pub async fn ledger(store: &Store) -> Result<Vec<Held>, StoreError> {
    let keys: Vec<String> = store
        .list(LEDGER_PREFIX)
        .await?
        .into_iter()
        .map(|o| o.key)
        .filter(|k| k.ends_with(".json"))
        .collect();
    stream::iter(keys)
        .map(|key| {
            let store = store.clone();
            async move { store.get_json_versioned::<Record>(&key).await }
        })
        .buffer_unordered(16)
        .try_filter_map(|held| async move { Ok(held.map(|(record, etag)| Held { record, etag })) })
        .try_collect()
        .await
}

/// Replaces `held`'s record with `record` unless another writer changed it since it was
/// read; false if one did (the record is then left as that writer made it).
pub async fn replace(store: &Store, held: &Held, record: &Record) -> Result<bool, StoreError> {
    let key = record.rollover.ledger_key();
    let body = serde_json::to_vec_pretty(record).map_err(|source| StoreError::BadJson {
        bucket: store.bucket().to_string(),
        key: key.clone(),
        source,
    })?;
    store
        .replace_if(&key, &held.etag, body, content_type::JSON)
        .await
}

/// What a push did with the open rollovers (course-loading.md §10).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRollovers {
    /// ROLLOVER rows in the file sent.
    pub sent: u64,
    /// The target course had reading lists already: closed, not sent.
    #[serde(default)]
    pub already_has_lists: u64,
    /// The old course had no reading list: not sent, still open.
    #[serde(default)]
    pub source_has_no_lists: u64,
    /// Left open for another reason, each logged: Alma's answer could not be read, the
    /// day's file deletes the course, or the record changed meanwhile.
    #[serde(default)]
    pub not_sent: u64,
    /// Not checked: the push's time for checks ran out; the next push takes them.
    #[serde(default)]
    pub next_push: u64,
}

impl PushedRollovers {
    pub fn is_empty(&self) -> bool {
        *self == PushedRollovers::default()
    }
}

/// What the report step found of the rollovers sent: confirmed or failed after Alma's
/// job, and how the day's report rows stand in the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedRollovers {
    /// Sent ones whose target course now has reading lists.
    #[serde(default)]
    pub confirmed: u64,
    /// Sent ones whose target course still has none: a person may approve them again.
    #[serde(default)]
    pub failed: u64,
    /// Of the day's report rows, those the ledger holds, by stage label.
    #[serde(default)]
    pub report_rows: std::collections::BTreeMap<String, u64>,
    /// `reports/…/rollover-marks.tsv`: each report row with its mark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marks_key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(code: &str, section: &str, op: &str, old: &str, old_section: &str) -> String {
        let mut cells = vec![""; 34];
        cells[CODE] = code;
        cells[SECTION] = section;
        cells[OPERATION] = op;
        cells[OLD_CODE] = old;
        cells[OLD_SECTION] = old_section;
        format!("{}\r\n", cells.join("\t"))
    }

    #[test]
    fn a_rollover_row_names_its_target_and_source_and_other_rows_none() {
        let line = row(
            "2026SummerA-X-SPA337-38334",
            "38334",
            "ROLLOVER",
            "2025Summer-X-MAT457-25992",
            "25992",
        );
        let r = Rollover::of_row(&line).unwrap();
        assert_eq!(r.code, "2026SummerA-X-SPA337-38334");
        assert_eq!(r.old_section, "25992");
        assert_eq!(
            r.ledger_key(),
            "state/rollovers/2026SummerA-X-SPA337-38334/38334.json"
        );
        assert!(Rollover::of_row(&row("C", "1", "", "", "")).is_none());
        assert!(Rollover::of_row(&row("C", "1", "DELETE", "", "")).is_none());
        assert!(Rollover::of_row("Course Code\tCourse Title").is_none());
    }

    #[test]
    fn a_course_row_becomes_its_rollover_row_with_its_other_columns_kept() {
        let r = Rollover::of_row(&row("C-1", "1", "ROLLOVER", "OLD-9", "9")).unwrap();
        let mut cells = vec![""; 34];
        cells[CODE] = "C-1";
        cells[1] = "Title";
        cells[SECTION] = "1";
        let course_row = format!("{}\r\n", cells.join("\t"));
        let made = r.row_from(&course_row);
        assert!(!made.ends_with('\n'));
        assert_eq!(Rollover::of_row(&made), Some(r.clone()));
        assert_eq!(made.split('\t').nth(1), Some("Title"));
        assert_eq!(made.split('\t').count(), 34);
        assert_eq!(code_and_section(&course_row), ("C-1", "1"));
        assert_eq!(code_and_section("only"), ("only", ""));
    }

    #[test]
    fn a_key_part_cannot_reach_another_key() {
        assert_eq!(key_part("A B/../c"), "A%20B%2F..%2Fc");
        assert_eq!(key_part(""), "%");
        assert_eq!(key_part(".."), "%..");
        assert_eq!(key_part("2026Fall-X_1.2"), "2026Fall-X_1.2");
    }

    #[test]
    fn only_a_new_a_revoked_or_a_failed_rollover_may_be_approved() {
        assert!(Stage::may_approve(None));
        assert!(Stage::may_approve(Some(Stage::Revoked)));
        assert!(Stage::may_approve(Some(Stage::Failed)));
        for stage in [
            Stage::Approved,
            Stage::Sent,
            Stage::Confirmed,
            Stage::AlreadyHasLists,
        ] {
            assert!(!Stage::may_approve(Some(stage)), "{stage:?}");
        }
    }

    #[test]
    fn a_renewed_approval_keeps_the_history() {
        let r = Rollover {
            code: "C".into(),
            section: "1".into(),
            old_code: "O".into(),
            old_section: "2".into(),
        };
        let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let at = DateTime::parse_from_rfc3339("2026-11-28T17:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let first = Record::approved(r.clone(), None, None, day, "pat", at)
            .moved(Stage::Failed, "failed".into());
        let again = Record::approved(r, None, Some(first), day, "sam", at);
        assert_eq!(again.stage, Stage::Approved);
        assert_eq!(again.history.len(), 3);
        assert!(again.history[2].starts_with("approved by sam at 2026-11-28T17:00:00Z"));
        let json = serde_json::to_value(&again).unwrap();
        assert_eq!(json["code"], "C");
        assert_eq!(json["stage"], "approved");
    }
}
