//! The institution profile (course-loading.md §9): how the student system writes its
//! export — the separator, the date format, the header name of each column by the role the
//! rules give it, the status words that skip or delete a row — and the terms the export must
//! hold. It is the rules file's `[export]` table; every key is optional and each default is
//! the CEM export of §1, so ASU's rules file needs none of it.

use std::fmt::Write as _;

use chrono::format::{Item, Numeric, Pad, StrftimeItems};
use chrono::NaiveDate;
use serde::Deserialize;

use super::coverage::{coverage_warnings, ExpectedTerm, TermMissing, TermsSeen};

/// What the rules use a column for: the keys of `[export.columns]`. Rejects and warnings
/// name a column by its role, so the same export under other header names gives the same
/// reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum Role {
    CourseCode = 0,
    Status,
    Title,
    Section,
    Instructor,
    College,
    Campus,
    CourseId,
    Term,
    Year,
    StartDate,
    EndDate,
    CopySection,
    CopyYear,
    CopyCourseId,
    CopyTerm,
}

/// How many roles: every one is a required column.
pub const ROLES: usize = 16;

impl Role {
    pub const ALL: [Role; ROLES] = [
        Role::CourseCode,
        Role::Status,
        Role::Title,
        Role::Section,
        Role::Instructor,
        Role::College,
        Role::Campus,
        Role::CourseId,
        Role::Term,
        Role::Year,
        Role::StartDate,
        Role::EndDate,
        Role::CopySection,
        Role::CopyYear,
        Role::CopyCourseId,
        Role::CopyTerm,
    ];

    /// The role's key in `[export.columns]`, and the column's name in rejects and warnings.
    pub const fn key(self) -> &'static str {
        match self {
            Role::CourseCode => "course_code",
            Role::Status => "status",
            Role::Title => "title",
            Role::Section => "section",
            Role::Instructor => "instructor",
            Role::College => "college",
            Role::Campus => "campus",
            Role::CourseId => "course_id",
            Role::Term => "term",
            Role::Year => "year",
            Role::StartDate => "start_date",
            Role::EndDate => "end_date",
            Role::CopySection => "copy_section",
            Role::CopyYear => "copy_year",
            Role::CopyCourseId => "copy_course_id",
            Role::CopyTerm => "copy_term",
        }
    }

    /// The CEM export's header for the role (§1): the default.
    pub const fn cem_header(self) -> &'static str {
        match self {
            Role::CourseCode => "MYASU_COURSE_IDSTRING",
            Role::Status => "COURSE_STATUS",
            Role::Title => "COURSE_NAME",
            Role::Section => "SLN",
            Role::Instructor => "ASURITEID",
            Role::College => "COLLEGE_OR_DIVISION_CODE",
            Role::Campus => "CAMPUS",
            Role::CourseId => "COURSE_ID",
            Role::Term => "TERM",
            Role::Year => "YEAR",
            Role::StartDate => "START_SYNC_DATE",
            Role::EndDate => "END_SYNC_DATE",
            Role::CopySection => "COPY_COURSE_SLN",
            Role::CopyYear => "COPY_COURSE_SEMESTER_YEAR",
            Role::CopyCourseId => "COPY_COURSE_ID",
            Role::CopyTerm => "COPY_COURSE_SEMESTER_TERM",
        }
    }
}

/// The CEM export's status words (§2 rules 1 and 2).
const CEM_SKIP: [&str; 1] = ["REQUESTED"];
const CEM_DELETE: [&str; 2] = ["DENIED", "SUSPENDED"];
const CEM_DATE_FORMAT: &str = "%Y-%m-%d";
/// Days ahead of a term's start that its absence from the export is worth a warning.
pub const DEFAULT_COVERAGE_WARNING_DAYS: u32 = 45;

// ---- the [export] table as written ------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExportFile {
    #[serde(default)]
    delimiter: Option<String>,
    #[serde(default)]
    date_format: Option<String>,
    #[serde(default)]
    columns: ColumnsFile,
    #[serde(default)]
    statuses: StatusesFile,
    #[serde(default)]
    expect: Vec<ExpectFile>,
    #[serde(default)]
    coverage_warning_days: Option<u32>,
}

/// `[export.columns]`: one optional header name per role (the field names are the keys).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnsFile {
    course_code: Option<String>,
    status: Option<String>,
    title: Option<String>,
    section: Option<String>,
    instructor: Option<String>,
    college: Option<String>,
    campus: Option<String>,
    course_id: Option<String>,
    term: Option<String>,
    year: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    copy_section: Option<String>,
    copy_year: Option<String>,
    copy_course_id: Option<String>,
    copy_term: Option<String>,
}

impl ColumnsFile {
    /// The names given, in [`Role::ALL`] order.
    fn by_role(self) -> [Option<String>; ROLES] {
        [
            self.course_code,
            self.status,
            self.title,
            self.section,
            self.instructor,
            self.college,
            self.campus,
            self.course_id,
            self.term,
            self.year,
            self.start_date,
            self.end_date,
            self.copy_section,
            self.copy_year,
            self.copy_course_id,
            self.copy_term,
        ]
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusesFile {
    skip: Option<Vec<String>>,
    delete: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectFile {
    term: TextOrNumber,
    year: TextOrNumber,
    starts: DateValue,
}

/// `term = "1"` or `term = 1`: both mean the column's value `1`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TextOrNumber {
    Text(String),
    Number(i64),
}

impl TextOrNumber {
    fn text(&self) -> String {
        match self {
            TextOrNumber::Text(s) => s.trim().to_owned(),
            TextOrNumber::Number(n) => n.to_string(),
        }
    }
}

/// `starts = "2027-01-12"` as the spec writes it, or a TOML date `starts = 2027-01-12`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DateValue {
    Text(String),
    Toml(toml::value::Datetime),
}

impl DateValue {
    fn date(&self) -> Option<NaiveDate> {
        match self {
            DateValue::Text(s) => s.trim().parse().ok(),
            DateValue::Toml(d) => {
                let d = d.date.filter(|_| d.time.is_none() && d.offset.is_none())?;
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
            }
        }
    }
}

/// What is wrong with an `[export]` table: each names the key to fix.
#[derive(Debug, thiserror::Error)]
pub enum ProfileProblem {
    #[error(
        "export.delimiter must be one ASCII character other than a quote or a line break \
         (\"\\t\" for a tab), not {given:?}"
    )]
    Delimiter { given: String },
    #[error("export.date_format {format:?} is not a chrono date format: {source}")]
    DateFormatSyntax {
        format: String,
        #[source]
        source: chrono::format::ParseError,
    },
    #[error(
        "export.date_format {format:?} cannot be read back as a date (2026-08-20 written with \
         it is {written:?}): it needs a year, a month and a day"
    )]
    DateFormatNotADate { format: String, written: String },
    #[error("export.columns.{role} is empty")]
    EmptyColumn { role: &'static str },
    #[error("export.columns.{first} and export.columns.{second} both name column {header:?}")]
    ColumnTwice {
        header: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("export.statuses: {status:?} is in both skip and delete")]
    StatusInBoth { status: String },
    #[error("export.expect[{index}]: {key} is empty")]
    EmptyExpect { index: usize, key: &'static str },
    #[error("export.expect[{index}].starts is not a date (YYYY-MM-DD)")]
    ExpectStarts { index: usize },
}

// ---- the profile, compiled --------------------------------------------------------------

/// What a row's status word does (§2 rules 1 and 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMeaning {
    /// Not ready: the row is skipped (it will have another status another day).
    Skip,
    Delete,
    /// Create or update: any status not listed.
    Active,
}

/// The export's shape, compiled: what the reader and the row rules read it by.
#[derive(Debug, Clone)]
pub struct ExportProfile {
    delimiter: u8,
    dates: DateFormat,
    headers: [Box<str>; ROLES],
    skip: Vec<Box<str>>,
    delete: Vec<Box<str>>,
    expect: Vec<ExpectedTerm>,
    coverage_warning_days: u32,
}

impl Default for ExportProfile {
    /// The CEM export of §1.
    fn default() -> ExportProfile {
        ExportProfile {
            delimiter: b',',
            dates: DateFormat::cem(),
            headers: Role::ALL.map(|r| r.cem_header().into()),
            skip: CEM_SKIP.iter().map(|&s| s.into()).collect(),
            delete: CEM_DELETE.iter().map(|&s| s.into()).collect(),
            expect: Vec::new(),
            coverage_warning_days: DEFAULT_COVERAGE_WARNING_DAYS,
        }
    }
}

impl ExportProfile {
    /// The field separator, one byte.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The export's header name for `role`.
    pub fn header(&self, role: Role) -> &str {
        &self.headers[role as usize]
    }

    /// What a (trimmed) status word does: compared exactly with the listed words.
    #[inline]
    pub fn status(&self, status: &str) -> StatusMeaning {
        if self.skip.iter().any(|s| **s == *status) {
            StatusMeaning::Skip
        } else if self.delete.iter().any(|s| **s == *status) {
            StatusMeaning::Delete
        } else {
            StatusMeaning::Active
        }
    }

    /// The status words that skip a row.
    pub fn skip_statuses(&self) -> impl Iterator<Item = &str> {
        self.skip.iter().map(|s| &**s)
    }

    /// The status words that delete a course.
    pub fn delete_statuses(&self) -> impl Iterator<Item = &str> {
        self.delete.iter().map(|s| &**s)
    }

    /// The date that starts a start/end value; whatever follows it (a time) is ignored.
    #[inline]
    pub fn parse_date(&self, value: &str) -> Option<NaiveDate> {
        self.dates.parse(value)
    }

    /// The date format as people read it in a reject: `%Y-%m-%d` → `YYYY-MM-DD`.
    pub fn date_pattern(&self) -> String {
        readable_date_format(&self.dates.text)
    }

    /// The terms the export must hold (`[[export.expect]]`).
    pub fn expect(&self) -> &[ExpectedTerm] {
        &self.expect
    }

    /// How many days before a term starts its absence is warned of.
    pub fn coverage_warning_days(&self) -> u32 {
        self.coverage_warning_days
    }

    /// The expected terms near `run_date` that the export's rows (`seen`) lack: term
    /// coverage by this profile's `[[export.expect]]` and window ([`coverage_warnings`]).
    pub fn terms_missing(&self, run_date: NaiveDate, seen: &TermsSeen) -> Vec<TermMissing> {
        coverage_warnings(&self.expect, self.coverage_warning_days, run_date, seen)
    }
}

/// Compiles `[export]`, each key absent taking the CEM export's value.
pub(super) fn compile(file: ExportFile) -> Result<ExportProfile, ProfileProblem> {
    let cem = ExportProfile::default();
    let delimiter = match file.delimiter {
        Some(given) => delimiter(&given)?,
        None => cem.delimiter,
    };
    let dates = match file.date_format {
        Some(format) => DateFormat::compile(&format)?,
        None => cem.dates,
    };
    let (skip, delete) = statuses(file.statuses, cem.skip, cem.delete)?;
    Ok(ExportProfile {
        delimiter,
        dates,
        headers: headers(file.columns, cem.headers)?,
        skip,
        delete,
        expect: expected_terms(&file.expect)?,
        coverage_warning_days: file
            .coverage_warning_days
            .unwrap_or(DEFAULT_COVERAGE_WARNING_DAYS),
    })
}

/// One ASCII character the CSV reader can split on: not a quote, not a line break.
fn delimiter(given: &str) -> Result<u8, ProfileProblem> {
    match given.as_bytes() {
        [b] if b.is_ascii() && !matches!(b, b'"' | b'\r' | b'\n') => Ok(*b),
        _ => Err(ProfileProblem::Delimiter {
            given: given.to_owned(),
        }),
    }
}

/// The header names by role, each given one trimmed; no header may serve two roles (the
/// reader matches headers without regard to case).
fn headers(file: ColumnsFile, cem: [Box<str>; ROLES]) -> Result<[Box<str>; ROLES], ProfileProblem> {
    let mut headers = cem;
    for ((slot, given), role) in headers.iter_mut().zip(file.by_role()).zip(Role::ALL) {
        let Some(given) = given else { continue };
        let given = given.trim();
        if given.is_empty() {
            return Err(ProfileProblem::EmptyColumn { role: role.key() });
        }
        *slot = given.into();
    }
    for (i, a) in headers.iter().enumerate() {
        if let Some(j) = (i + 1..ROLES).find(|&j| headers[j].eq_ignore_ascii_case(a)) {
            return Err(ProfileProblem::ColumnTwice {
                header: a.to_string(),
                first: Role::ALL[i].key(),
                second: Role::ALL[j].key(),
            });
        }
    }
    Ok(headers)
}

type StatusLists = (Vec<Box<str>>, Vec<Box<str>>);

/// The skip and delete words, trimmed; a word in both lists is ambiguous.
fn statuses(
    file: StatusesFile,
    cem_skip: Vec<Box<str>>,
    cem_delete: Vec<Box<str>>,
) -> Result<StatusLists, ProfileProblem> {
    let words = |given: Option<Vec<String>>, cem: Vec<Box<str>>| match given {
        Some(list) => list.iter().map(|s| s.trim().into()).collect(),
        None => cem,
    };
    let skip: Vec<Box<str>> = words(file.skip, cem_skip);
    let delete: Vec<Box<str>> = words(file.delete, cem_delete);
    if let Some(both) = skip.iter().find(|s| delete.contains(s)) {
        return Err(ProfileProblem::StatusInBoth {
            status: both.to_string(),
        });
    }
    Ok((skip, delete))
}

fn expected_terms(file: &[ExpectFile]) -> Result<Vec<ExpectedTerm>, ProfileProblem> {
    file.iter()
        .enumerate()
        .map(|(index, e)| {
            let (term, year) = (e.term.text(), e.year.text());
            if term.is_empty() {
                return Err(ProfileProblem::EmptyExpect { index, key: "term" });
            }
            if year.is_empty() {
                return Err(ProfileProblem::EmptyExpect { index, key: "year" });
            }
            let starts = e
                .starts
                .date()
                .ok_or(ProfileProblem::ExpectStarts { index })?;
            Ok(ExpectedTerm { term, year, starts })
        })
        .collect()
}

/// `%Y-%m-%d` → `YYYY-MM-DD`; specifiers without a plain reading stay as they are.
fn readable_date_format(format: &str) -> String {
    format
        .replace("%Y", "YYYY")
        .replace("%m", "MM")
        .replace("%d", "DD")
        .replace("%y", "YY")
        .replace("%e", "D")
}

// ---- dates ------------------------------------------------------------------------------

/// A date format, compiled twice: chrono's items, and where the format is only numbers and
/// separators (as every export's is), a plan [`DateFormat::parse`] follows by hand —
/// chrono's parser per row dominated the transform's profile. The plan reads what chrono
/// reads, but for one thing: `%Y` is four digits (chrono takes one to four, so `20-08-2026`
/// read by `%Y-%m-%d` would be the year 20).
#[derive(Debug, Clone)]
struct DateFormat {
    text: String,
    items: Vec<Item<'static>>,
    plan: Option<Vec<Part>>,
}

/// One step of a hand-parsed date.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Four digits.
    Year,
    /// One or two digits, as chrono reads `%m` and `%d`.
    Month,
    Day,
    Literal(Box<str>),
    /// Any run of whitespace, none included.
    Space,
}

impl DateFormat {
    fn cem() -> DateFormat {
        // The shipped format compiles; the fallback only keeps this free of a panic.
        DateFormat::compile(CEM_DATE_FORMAT).unwrap_or(DateFormat {
            text: CEM_DATE_FORMAT.to_owned(),
            items: Vec::new(),
            plan: None,
        })
    }

    /// Checks that the format reads back the dates it writes: one without a year, a month
    /// or a day would reject every row.
    fn compile(format: &str) -> Result<DateFormat, ProfileProblem> {
        let items = StrftimeItems::new(format)
            .parse_to_owned()
            .map_err(|source| ProfileProblem::DateFormatSyntax {
                format: format.to_owned(),
                source,
            })?;
        let dates = DateFormat {
            text: format.to_owned(),
            plan: plan(&items),
            items,
        };
        for probe in [(2026, 8, 20), (1999, 12, 31), (2030, 1, 2)] {
            let date = NaiveDate::from_ymd_opt(probe.0, probe.1, probe.2).unwrap_or_default();
            let mut written = String::new();
            // A time specifier cannot format a date: an error, not a date.
            let wrote = write!(written, "{}", date.format_with_items(dates.items.iter()));
            if wrote.is_err() || dates.parse(&written) != Some(date) {
                return Err(ProfileProblem::DateFormatNotADate {
                    format: format.to_owned(),
                    written,
                });
            }
        }
        Ok(dates)
    }

    /// The date at the start of `value`, the rest ignored: by the hand plan where there is
    /// one, else by chrono.
    #[inline]
    fn parse(&self, value: &str) -> Option<NaiveDate> {
        match &self.plan {
            Some(plan) => follow(plan, value.as_bytes()),
            None => chrono::NaiveDate::parse_and_remainder(value, &self.text)
                .ok()
                .map(|(date, _)| date),
        }
    }
}

/// The hand plan of `items`, if they are only a year, a month, a day (each once) and
/// separators.
fn plan(items: &[Item<'_>]) -> Option<Vec<Part>> {
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        parts.push(match item {
            Item::Numeric(Numeric::Year, Pad::Zero) => Part::Year,
            Item::Numeric(Numeric::Month, Pad::Zero) => Part::Month,
            Item::Numeric(Numeric::Day, Pad::Zero) => Part::Day,
            Item::Literal(s) if !s.bytes().any(|b| b.is_ascii_whitespace()) => {
                Part::Literal((*s).into())
            }
            Item::OwnedLiteral(s) if !s.bytes().any(|b| b.is_ascii_whitespace()) => {
                Part::Literal(s.clone())
            }
            Item::Space(_) | Item::OwnedSpace(_) => Part::Space,
            _ => return None,
        });
    }
    let once = |p: Part| parts.iter().filter(|&q| *q == p).count() == 1;
    (once(Part::Year) && once(Part::Month) && once(Part::Day)).then_some(parts)
}

/// Reads `b` by `plan`: `None` when it does not start with a date so written.
#[inline]
fn follow(plan: &[Part], mut b: &[u8]) -> Option<NaiveDate> {
    let (mut year, mut month, mut day) = (0i32, 0u32, 0u32);
    for part in plan {
        match part {
            Part::Year => {
                let (n, rest) = digits(b, 4, 4)?;
                year = i32::try_from(n).ok()?;
                b = rest;
            }
            Part::Month => (month, b) = digits(b, 1, 2)?,
            Part::Day => (day, b) = digits(b, 1, 2)?,
            Part::Literal(s) => b = b.strip_prefix(s.as_bytes())?,
            Part::Space => {
                let blank = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
                b = &b[blank..];
            }
        }
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

/// `min..=max` leading ASCII digits, as many as there are: their value and the rest.
#[inline]
fn digits(b: &[u8], min: usize, max: usize) -> Option<(u32, &[u8])> {
    let n = b
        .iter()
        .take(max)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if n < min {
        return None;
    }
    let value = b[..n]
        .iter()
        .fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
    Some((value, &b[n..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn the_cem_date_format_reads_the_date_and_ignores_the_time_after_it() {
        let p = ExportProfile::default();
        assert_eq!(
            p.parse_date("2026-08-20 00:00:00.000000000"),
            date(2026, 8, 20)
        );
        assert_eq!(p.parse_date("2026-08-20"), date(2026, 8, 20));
        assert_eq!(p.parse_date("2026-08-20T10:00"), date(2026, 8, 20));
        for bad in [
            "",
            "2026-13-01",
            "2026-02-30",
            "20-08-2026",
            "2026/08/20",
            "x",
        ] {
            assert_eq!(p.parse_date(bad), None, "{bad:?}");
        }
        assert_eq!(p.date_pattern(), "YYYY-MM-DD");
    }

    #[test]
    fn the_hand_plan_reads_a_date_as_chrono_does_but_wants_four_digits_of_year() {
        for format in ["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d", "%d %m %Y"] {
            let dates = DateFormat::compile(format).unwrap();
            assert!(dates.plan.is_some(), "{format}");
            for value in [
                "2026-08-20 00:00",
                "08/20/2026",
                "8/2/2026 10:00 AM",
                "20.08.2026",
                "20260820",
                "20 8 2026",
                "2026-8-2",
                "12/31/99999",
                "13/01/2026",
                "02/30/2026",
                "20-08-2026",
                "8/20/26",
            ] {
                let chrono = NaiveDate::parse_and_remainder(value, format)
                    .ok()
                    .map(|d| d.0);
                let plan = dates.parse(value);
                let short_year = chrono.is_some_and(|d| d.year() < 1000);
                assert_eq!(plan, chrono.filter(|_| !short_year), "{format} {value:?}");
            }
        }
        let us = DateFormat::compile("%m/%d/%Y").unwrap();
        assert_eq!(us.parse("8/20/26"), None, "chrono would read the year 26");
    }

    #[test]
    fn a_format_with_words_is_read_by_chrono() {
        let dates = DateFormat::compile("%d %b %Y").unwrap();
        assert!(dates.plan.is_none());
        assert_eq!(dates.parse("20 Aug 2026 10:00"), date(2026, 8, 20));
    }
}
