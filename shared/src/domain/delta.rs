//! Delta loads (course-loading.md §8): send Alma only the course rows that are new or
//! changed since the baseline, the course rows of the last day Alma loaded.
//!
//! Course rows are the loader file's rows after the row rules and the merge, before the
//! delete guard and any rollover substitution ([`run::write_course_rows`]); they are
//! compared as the loader file writes them, so "differs in any column" is a byte
//! comparison of two rows made by the same rules.
//!
//! [`run::write_course_rows`]: crate::domain::run::write_course_rows

use std::fmt;
use std::io::{self, Read, Write};

use chrono::{Datelike, NaiveDate, Weekday};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    #[error("the baseline is not a gzip file of course rows: {0}")]
    Unreadable(#[source] io::Error),
}

/// Each data row of a loader-layout file (header skipped), CRLF removed, with its code.
pub(crate) fn rows(text: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    text.split(|&b| b == b'\n')
        .skip(1)
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .map(|line| {
            let code = line.split(|&b| b == b'\t').next().unwrap_or_default();
            (code, line)
        })
}

/// The last loaded day's course rows, by course code.
#[derive(Debug, Default)]
pub struct Baseline {
    rows: FxHashMap<Box<[u8]>, Box<[u8]>>,
}

impl Baseline {
    /// From course rows in the loader layout (as
    /// [`run::write_course_rows`](crate::domain::run::write_course_rows) writes them).
    pub fn from_rows(text: &[u8]) -> Baseline {
        Baseline {
            rows: rows(text)
                .map(|(code, line)| (code.into(), line.into()))
                .collect(),
        }
    }

    /// From a gzip file of course rows (the baseline kept in the bucket).
    pub fn from_gzip(bytes: &[u8]) -> Result<Baseline, DeltaError> {
        Ok(Baseline::from_rows(&gunzip(bytes)?))
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Gzip, for the course rows kept in the bucket (they shrink about tenfold).
/// The text of a gzip file of course rows.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, DeltaError> {
    let mut text = Vec::with_capacity(bytes.len() * 8);
    GzDecoder::new(bytes)
        .read_to_end(&mut text)
        .map_err(DeltaError::Unreadable)?;
    Ok(text)
}

pub fn gzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 8), Default::default());
    enc.write_all(bytes)?;
    enc.finish()
}

/// Today's course codes whose row is new or changed since the baseline.
#[derive(Debug, Default)]
pub struct Changed {
    codes: FxHashSet<Box<str>>,
    /// Today's course rows, changed or not.
    pub courses: u64,
}

impl Changed {
    /// Compares today's course rows (loader layout) with the baseline's.
    pub fn between(today: &[u8], baseline: &Baseline) -> Changed {
        let mut changed = Changed::default();
        for (code, line) in rows(today) {
            changed.courses += 1;
            if baseline.rows.get(code).map(|b| &**b) != Some(line) {
                changed
                    .codes
                    .insert(String::from_utf8_lossy(code).into_owned().into());
            }
        }
        changed
    }

    pub fn contains(&self, code: &str) -> bool {
        self.codes.contains(code)
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadKind {
    Delta,
    Full,
}

/// What the day's loader file holds: the changes since the baseline, or every course.
/// Run summaries, Slack, the e-mail, the day page and the metrics read this one shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Load {
    pub kind: LoadKind,
    /// Today's course rows (§8), whatever the file holds.
    pub courses: u64,
    /// Rows in the loader file.
    pub changed: u64,
    /// Why a full file, or null for a delta.
    pub reason: Option<String>,
    /// A delta's baseline: the run date of the last loaded day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<chrono::NaiveDate>,
}

/// `11562` → `11,562`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

impl fmt::Display for Load {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            LoadKind::Delta => write!(
                f,
                "delta: {} of {} courses changed",
                thousands(self.changed),
                thousands(self.courses)
            ),
            LoadKind::Full => write!(
                f,
                "full load ({})",
                self.reason.as_deref().unwrap_or("asked for")
            ),
        }
    }
}

/// When a full file is sent instead of a delta (§8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FullLoadPolicy {
    /// A baseline more than this many days older than the run date is not used.
    pub baseline_max_age_days: u32,
    /// A full file on this weekday (of the run date); `None`: never by weekday.
    pub weekday: Option<Weekday>,
}

impl Default for FullLoadPolicy {
    fn default() -> Self {
        FullLoadPolicy {
            baseline_max_age_days: 8,
            weekday: Some(Weekday::Sun),
        }
    }
}

impl FullLoadPolicy {
    /// Why `run_date` gets a full file, or `None` for a delta. `baseline_date`: the run date
    /// of the day the baseline was loaded, if there is one.
    pub fn full_reason(
        &self,
        asked: bool,
        run_date: NaiveDate,
        baseline_date: Option<NaiveDate>,
    ) -> Option<String> {
        if asked {
            return Some("asked for".into());
        }
        if self.weekday == Some(run_date.weekday()) {
            return Some(format!(
                "{} is the weekly full load",
                weekday_name(run_date.weekday())
            ));
        }
        let Some(loaded) = baseline_date else {
            return Some("no baseline: no loaded day yet".into());
        };
        if loaded > run_date {
            return Some(format!("the baseline is a later day's ({loaded})"));
        }
        let age = (run_date - loaded).num_days();
        if age > i64::from(self.baseline_max_age_days) {
            return Some(format!(
                "the baseline, loaded {loaded}, is {age} days old (most {})",
                self.baseline_max_age_days
            ));
        }
        None
    }
}

/// `Sunday`, as the `FullLoadWeekday` setting spells it.
pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Course Code\tCourse Title\r\n";

    fn text(rows: &[&str]) -> Vec<u8> {
        let mut t = HEADER.to_string();
        for r in rows {
            t.push_str(r);
            t.push_str("\r\n");
        }
        t.into_bytes()
    }

    #[test]
    fn new_and_changed_codes_are_in_the_delta_and_unchanged_ones_are_not() {
        let baseline = Baseline::from_rows(&text(&["A\tOne", "B\tTwo", "GONE\tx"]));
        let changed = Changed::between(&text(&["A\tOne", "B\tTwo!", "C\tThree"]), &baseline);
        assert_eq!(changed.courses, 3);
        assert_eq!(changed.len(), 2);
        assert!(!changed.contains("A"));
        assert!(changed.contains("B"));
        assert!(changed.contains("C"));
        assert!(!changed.contains("GONE"));
    }

    #[test]
    fn a_baseline_survives_gzip() {
        let rows = text(&["A\tOne", "B\tTwo"]);
        let baseline = Baseline::from_gzip(&gzip(&rows).unwrap()).unwrap();
        assert_eq!(baseline.len(), 2);
        assert!(Changed::between(&rows, &baseline).is_empty());
        assert!(matches!(
            Baseline::from_gzip(b"plain text"),
            Err(DeltaError::Unreadable(_))
        ));
    }

    #[test]
    fn the_load_line_says_delta_or_full_and_why() {
        let delta = Load {
            kind: LoadKind::Delta,
            courses: 11_562,
            changed: 312,
            reason: None,
            since: None,
        };
        assert_eq!(delta.to_string(), "delta: 312 of 11,562 courses changed");
        let full = Load {
            kind: LoadKind::Full,
            courses: 5,
            changed: 5,
            reason: Some("asked for".into()),
            since: None,
        };
        assert_eq!(full.to_string(), "full load (asked for)");
        assert_eq!(
            serde_json::to_value(&delta).unwrap(),
            serde_json::json!({"kind": "delta", "courses": 11562, "changed": 312, "reason": null})
        );
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn a_full_file_is_sent_when_asked_on_sunday_without_a_baseline_or_with_an_old_one() {
        let p = FullLoadPolicy::default();
        let saturday = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let sunday = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let days_before = |n| saturday - chrono::Days::new(n);
        assert_eq!(p.full_reason(false, saturday, Some(days_before(1))), None);
        assert_eq!(p.full_reason(false, saturday, Some(days_before(8))), None);
        assert!(p
            .full_reason(false, saturday, Some(days_before(9)))
            .unwrap()
            .contains("9 days old"));
        assert!(p
            .full_reason(false, saturday, None)
            .unwrap()
            .contains("no baseline"));
        assert!(p
            .full_reason(false, days_before(2), Some(saturday))
            .unwrap()
            .contains("later day"));
        assert_eq!(
            p.full_reason(true, saturday, Some(days_before(1)))
                .as_deref(),
            Some("asked for")
        );
        assert!(p
            .full_reason(false, sunday, Some(saturday))
            .unwrap()
            .contains("Sunday"));
        let never = FullLoadPolicy { weekday: None, ..p };
        assert_eq!(never.full_reason(false, sunday, Some(saturday)), None);
    }
}
