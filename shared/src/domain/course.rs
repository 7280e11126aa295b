//! One course of the loader file, built from an export row by the row rules and merged with
//! later rows of the same code by the merge rule for cross-listed courses. Stored compactly
//! (all text in one allocation) because a run holds one per course code.

use std::borrow::Cow;

use chrono::NaiveDate;
use serde::Serialize;

use super::cem::{CemRow, RowReject};
use super::profile::{ExportProfile, Role, StatusMeaning};
use super::rules::{DepartmentNote, NameId, Rules};

/// Text fields of a [`Course`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum F {
    Code = 0,
    Title,
    Section,
    AcademicDepartment,
    Year,
    SearchableId1,
    AllSearchableIds,
    Instructor1,
    AllInstructors,
    /// The copy section cleaned: thousands separators removed.
    CopySln,
    CopyYear,
    CopyTerm,
}
const NF: usize = 12;

/// The text of a course, field by field: what [`Course`] packs into one allocation.
/// A row fills each field from the column whose role ([`Role`]) its comment names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CourseText<'a> {
    /// course_code.
    pub code: &'a str,
    /// title.
    pub title: &'a str,
    /// section, `-` removed.
    pub section: &'a str,
    /// college.
    pub academic_department: &'a str,
    /// year.
    pub year: &'a str,
    /// course_id.
    pub searchable_id1: &'a str,
    /// Empty until a merge moves the searchable ids here.
    pub all_searchable_ids: &'a str,
    /// instructor.
    pub instructor1: &'a str,
    /// Empty until a merge moves the instructors here.
    pub all_instructors: &'a str,
    /// copy_section, thousands separators removed.
    pub copy_sln: &'a str,
    /// copy_year.
    pub copy_year: &'a str,
    /// copy_term.
    pub copy_term: &'a str,
}

impl<'a> CourseText<'a> {
    /// The copy request, if any: (cleaned SLN, year, term). The rollover report's candidacy
    /// test: a copy SLN that is empty, `0`, `-` or not a number asks for nothing.
    pub fn copy_request(&self) -> Option<CopyRequest<'a>> {
        let sln = self.copy_sln;
        if sln.is_empty() || sln == "0" || sln == "-" || sln.parse::<u64>().is_err() {
            return None;
        }
        Some(CopyRequest {
            sln,
            year: self.copy_year,
            term: self.copy_term,
        })
    }

    /// The fields in [`F`] order, the order they are packed in.
    fn in_packing_order(&self) -> [&'a str; NF] {
        [
            self.code,
            self.title,
            self.section,
            self.academic_department,
            self.year,
            self.searchable_id1,
            self.all_searchable_ids,
            self.instructor1,
            self.all_instructors,
            self.copy_sln,
            self.copy_year,
            self.copy_term,
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Operation {
    /// Create or update.
    Active,
    Delete,
}

/// A course row as the loader file will hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Course {
    text: Box<str>,
    ends: [u32; NF],
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub processing_department: NameId,
    pub term1: Option<NameId>,
    pub operation: Operation,
    /// Export line of the row that created this course.
    pub line: u64,
}

impl Course {
    fn build(
        text: CourseText<'_>,
        start: NaiveDate,
        end: NaiveDate,
        processing_department: NameId,
        term1: Option<NameId>,
        operation: Operation,
        line: u64,
    ) -> Course {
        let parts = text.in_packing_order();
        let mut packed = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u32; NF];
        for (end_slot, p) in ends.iter_mut().zip(parts) {
            packed.push_str(p);
            // Text beyond 4 GiB cannot come from one CSV row we hold in memory.
            *end_slot = u32::try_from(packed.len()).unwrap_or(u32::MAX);
        }
        Course {
            text: packed.into_boxed_str(),
            ends,
            start,
            end,
            processing_department,
            term1,
            operation,
            line,
        }
    }

    /// The course a row makes, owned.
    pub fn from_row(row: &CourseRow<'_>) -> Course {
        Course::build(
            row.text(),
            row.start,
            row.end,
            row.processing_department,
            row.term1,
            row.operation,
            row.line,
        )
    }

    pub fn get(&self, f: F) -> &str {
        let i = f as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize).unwrap_or("")
    }

    /// All of the text fields, end to end: one string to scan for a character.
    pub(super) fn all_text(&self) -> &str {
        &self.text
    }

    /// The text, field by field.
    pub fn text(&self) -> CourseText<'_> {
        CourseText {
            code: self.get(F::Code),
            title: self.get(F::Title),
            section: self.get(F::Section),
            academic_department: self.get(F::AcademicDepartment),
            year: self.get(F::Year),
            searchable_id1: self.get(F::SearchableId1),
            all_searchable_ids: self.get(F::AllSearchableIds),
            instructor1: self.get(F::Instructor1),
            all_instructors: self.get(F::AllInstructors),
            copy_sln: self.get(F::CopySln),
            copy_year: self.get(F::CopyYear),
            copy_term: self.get(F::CopyTerm),
        }
    }

    /// This course naming another section (a DELETE names the section Alma holds).
    pub fn with_section(&self, section: &str) -> Course {
        self.with_text(CourseText {
            section,
            ..self.text()
        })
    }

    /// This course with its text replaced.
    fn with_text(&self, text: CourseText<'_>) -> Course {
        Course::build(
            text,
            self.start,
            self.end,
            self.processing_department,
            self.term1,
            self.operation,
            self.line,
        )
    }

    /// Merges an active row of the same code into this active course: the merge rule for
    /// cross-listed courses (instructors and searchable ids gathered, the lower section kept).
    pub fn merge(&mut self, new: CourseText<'_>) {
        // Both lists are built in one buffer, instructors then searchable ids: a day merges
        // a row for every cross-listing, and a list of its own each cost an allocation.
        let mut lists = String::with_capacity(
            self.get(F::Instructor1).len()
                + self.get(F::AllInstructors).len()
                + new.instructor1.len()
                + self.get(F::SearchableId1).len()
                + self.get(F::AllSearchableIds).len()
                + new.searchable_id1.len()
                + 2 * (self.get(F::Section).len() + new.section.len())
                + 8,
        );
        // 1. instructors
        let instructors = std::iter::once(self.get(F::Instructor1))
            .chain(self.get(F::AllInstructors).split(','))
            .chain([new.instructor1]);
        for i in instructors {
            push_unique(&mut lists, 0, i);
        }
        let ids_from = lists.len();
        // 2. searchable ids, the first 10
        let ids = std::iter::once(self.get(F::SearchableId1))
            .chain(self.get(F::AllSearchableIds).split(','))
            .chain([new.searchable_id1, new.section]);
        let mut count = 0;
        for i in ids {
            if count == 10 {
                break;
            }
            count += usize::from(push_unique(&mut lists, ids_from, i));
        }
        // 3. the lower section wins; both sections stay searchable (may exceed 10)
        let mut section = self.get(F::Section);
        if let (Ok(kept), Ok(newer)) = (
            self.get(F::Section).parse::<u64>(),
            new.section.parse::<u64>(),
        ) {
            if kept > newer {
                push_unique(&mut lists, ids_from, new.section);
                push_unique(&mut lists, ids_from, self.get(F::Section));
                section = new.section;
            }
        }
        // 4.
        let (all_instructors, all_searchable_ids) = lists.split_at(ids_from);
        let merged = self.with_text(CourseText {
            instructor1: "",
            all_instructors,
            searchable_id1: "",
            all_searchable_ids,
            section,
            ..self.text()
        });
        *self = merged;
    }

    /// The copy request, if any ([`CourseText::copy_request`]).
    pub fn copy_request(&self) -> Option<CopyRequest<'_>> {
        self.text().copy_request()
    }
}

/// A roll-over request carried by an active course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyRequest<'a> {
    pub sln: &'a str,
    pub year: &'a str,
    pub term: &'a str,
}

/// Adds `item` to the comma-separated list that starts at `from` in `buf`, unless it is
/// empty or already there; whether it was added.
fn push_unique(buf: &mut String, from: usize, item: &str) -> bool {
    let list = buf.get(from..).unwrap_or_default();
    // Split as bytes: the lists are short, too short for `str::split`'s searcher to pay.
    let mut items = list.as_bytes().split(|&b| b == b',');
    if item.is_empty() || items.any(|i| i == item.as_bytes()) {
        return false;
    }
    if !list.is_empty() {
        buf.push(',');
    }
    buf.push_str(item);
    true
}

/// A row loaded with a warning: an unknown campus, a college the campus has no rule for, or
/// no term matching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub line: u64,
    pub course_code: String,
    #[serde(flatten)]
    pub kind: WarningKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum WarningKind {
    /// The campus is in no rule: processing department set to the unknown-campus one.
    UnknownCampus { campus: String, department: String },
    /// The college is in none of the campus's tables: fallback department used.
    CollegeFallback {
        campus: String,
        college: String,
        department: String,
    },
    /// No term cell matches the term column and the code's first segment: Term1 left empty.
    NoTermMatch { term: String, segment: String },
    /// A value bound for the loader file starts as a spreadsheet formula does
    /// ([`crate::csv_safe`]); the loader file carries it unchanged.
    SpreadsheetFormula { column: String, starts_with: char },
    /// The row was broken by an unquoted line break: its line and `next_line` were joined
    /// (the break became a space).
    JoinedLines { next_line: u64 },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} {}: ", self.line, self.course_code)?;
        match &self.kind {
            WarningKind::UnknownCampus { campus, department } => {
                write!(f, "unknown campus {campus:?}, processing department {department}")
            }
            WarningKind::CollegeFallback { campus, college, department } => write!(
                f,
                "college {college:?} has no rule at campus {campus}, processing department {department}"
            ),
            WarningKind::NoTermMatch { term, segment } => {
                write!(f, "no term for term {term:?} and {segment:?}, Term1 left empty")
            }
            WarningKind::SpreadsheetFormula { column, starts_with } => write!(
                f,
                "{column} starts with {starts_with:?} (a spreadsheet would run it as a \
                 formula); the loader file carries it as it is"
            ),
            WarningKind::JoinedLines { next_line } => write!(
                f,
                "fewer fields than the header; joined with line {next_line} (a line break left \
                 unquoted in the export, now a space): check the row in the export"
            ),
        }
    }
}

/// A course as one export row makes it, borrowed from the row. Only the first row of a code
/// needs its own copy ([`Course::from_row`]): a later one is merged into it, or dropped.
pub struct CourseRow<'a> {
    /// The text, but for the two fields the rules may rewrite: `section` and `copy_sln`.
    text: CourseText<'a>,
    /// section, `-` removed.
    section: Cow<'a, str>,
    /// copy_section, thousands separators removed.
    copy_sln: Cow<'a, str>,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub processing_department: NameId,
    pub term1: Option<NameId>,
    pub operation: Operation,
    /// Export line of the row.
    pub line: u64,
}

impl CourseRow<'_> {
    pub fn text(&self) -> CourseText<'_> {
        CourseText {
            section: self.section.trim(),
            copy_sln: self.copy_sln.trim(),
            ..self.text
        }
    }
}

/// What the row rules make of one export row.
// Handed to the caller for one step and never stored, like the row it borrows from: boxing
// the course would cost the allocation per row it exists to save.
#[allow(clippy::large_enum_variant)]
pub enum RowOutcome<'a> {
    /// A status the profile skips (REQUESTED in CEM): skipped until it has another status.
    Skipped,
    Course(CourseRow<'a>, Vec<Warning>),
    Rejected(RowReject),
}

fn reject(row: &CemRow<'_>, role: Role, reason: impl Into<String>) -> RowReject {
    RowReject {
        line: row.line,
        course_code: row.get(Role::CourseCode).to_owned(),
        column: Some(role.key()),
        reason: reason.into(),
    }
}

/// Applies the row rules to one row, in their order: skip a status the profile skips, the
/// operation from the status, the processing department, Term1, the dates, then the fields
/// copied as they are.
pub fn apply_row_rules<'a>(row: &CemRow<'a>, rules: &Rules) -> RowOutcome<'a> {
    match checked_row(row, rules.export()) {
        Ok(Some(checked)) => {
            let (course, mut warnings) = course_from(row, &checked, rules);
            if let Some(next_line) = row.joined_with {
                warnings.insert(
                    0,
                    Warning {
                        line: row.line,
                        course_code: row.get(Role::CourseCode).to_owned(),
                        kind: WarningKind::JoinedLines { next_line },
                    },
                );
            }
            RowOutcome::Course(course, warnings)
        }
        Ok(None) => RowOutcome::Skipped,
        Err(mut reject) => {
            if let Some(next_line) = row.joined_with {
                reject.reason.push_str(&format!(
                    " (lines {} and {next_line} joined across an unquoted line break)",
                    row.line
                ));
            }
            RowOutcome::Rejected(reject)
        }
    }
}

/// What a row must have to become a course.
struct CheckedRow {
    operation: Operation,
    start: NaiveDate,
    end: NaiveDate,
}

/// Rejects a row that lacks its code, term or dates; `None` for a row whose status the
/// profile skips (it will have another status another day).
fn checked_row(row: &CemRow<'_>, profile: &ExportProfile) -> Result<Option<CheckedRow>, RowReject> {
    if row.get(Role::CourseCode).is_empty() {
        return Err(reject(row, Role::CourseCode, "empty course code"));
    }
    let operation = match profile.status(row.get(Role::Status)) {
        StatusMeaning::Skip => return Ok(None),
        StatusMeaning::Delete => Operation::Delete,
        StatusMeaning::Active => Operation::Active,
    };
    if row.get(Role::Term).is_empty() {
        return Err(reject(row, Role::Term, "empty term"));
    }
    Ok(Some(CheckedRow {
        operation,
        start: date(row, Role::StartDate, profile)?,
        end: date(row, Role::EndDate, profile)?,
    }))
}

/// The date that starts a start or end value, read by the profile's date format.
fn date(row: &CemRow<'_>, role: Role, profile: &ExportProfile) -> Result<NaiveDate, RowReject> {
    let value = row.get(role);
    profile.parse_date(value).ok_or_else(|| {
        reject(
            row,
            role,
            format!(
                "unparseable date {value:?} (want {} ...)",
                profile.date_pattern()
            ),
        )
    })
}

/// The course a checked row makes, with the warnings it raised.
fn course_from<'a>(
    row: &CemRow<'a>,
    checked: &CheckedRow,
    rules: &Rules,
) -> (CourseRow<'a>, Vec<Warning>) {
    let mut warnings = Vec::new();
    let department = processing_department(row, rules, &mut warnings);
    let term1 = term1(row, rules, &mut warnings);
    let course = CourseRow {
        text: CourseText {
            code: row.get(Role::CourseCode),
            title: row.get(Role::Title),
            section: "",
            academic_department: row.get(Role::College),
            year: row.get(Role::Year),
            searchable_id1: row.get(Role::CourseId),
            all_searchable_ids: "",
            instructor1: row.get(Role::Instructor),
            all_instructors: "",
            copy_sln: "",
            copy_year: row.get(Role::CopyYear),
            copy_term: row.get(Role::CopyTerm),
        },
        section: without(row.get(Role::Section), '-'),
        copy_sln: without(row.get(Role::CopySection), ','),
        start: checked.start,
        end: checked.end,
        processing_department: department,
        term1,
        operation: checked.operation,
        line: row.line,
    };
    formula_warnings(row, &course.text(), &mut warnings);
    (course, warnings)
}

/// Warns of each value bound for the loader file that a spreadsheet would run as a formula:
/// the loader file stays byte-exact, so the value is flagged, not changed.
fn formula_warnings(row: &CemRow<'_>, text: &CourseText<'_>, warnings: &mut Vec<Warning>) {
    let values = [
        (Role::CourseCode, text.code),
        (Role::Title, text.title),
        (Role::Section, text.section),
        (Role::College, text.academic_department),
        (Role::Year, text.year),
        (Role::CourseId, text.searchable_id1),
        (Role::Instructor, text.instructor1),
        (Role::CopySection, text.copy_sln),
        (Role::CopyYear, text.copy_year),
        (Role::CopyTerm, text.copy_term),
    ];
    for (role, value) in values {
        if let Some(starts_with) = crate::csv_safe::formula_start(value) {
            warnings.push(Warning {
                line: row.line,
                course_code: text.code.to_owned(),
                kind: WarningKind::SpreadsheetFormula {
                    column: role.key().to_owned(),
                    starts_with,
                },
            });
        }
    }
}

/// The processing-department rules; warns when the campus or its college has no rule.
fn processing_department(row: &CemRow<'_>, rules: &Rules, warnings: &mut Vec<Warning>) -> NameId {
    let code = row.get(Role::CourseCode);
    let campus = row.get(Role::Campus);
    let college = row.get(Role::College);
    let (department, note) =
        rules.processing_department(campus, college, row.get(Role::CourseId), code);
    let kind = match note {
        DepartmentNote::Ok => return department,
        DepartmentNote::UnknownCampus => WarningKind::UnknownCampus {
            campus: campus.to_owned(),
            department: rules.name(department).to_owned(),
        },
        DepartmentNote::CollegeFallback => WarningKind::CollegeFallback {
            campus: campus.to_owned(),
            college: college.to_owned(),
            department: rules.name(department).to_owned(),
        },
    };
    warnings.push(Warning {
        line: row.line,
        course_code: code.to_owned(),
        kind,
    });
    department
}

/// The term-code rule; warns when no ending of the term table matches.
fn term1(row: &CemRow<'_>, rules: &Rules, warnings: &mut Vec<Warning>) -> Option<NameId> {
    let code = row.get(Role::CourseCode);
    let term = row.get(Role::Term);
    let term1 = rules.term(term, code);
    if term1.is_none() {
        warnings.push(Warning {
            line: row.line,
            course_code: code.to_owned(),
            kind: WarningKind::NoTermMatch {
                term: term.to_owned(),
                segment: code.split('-').next().unwrap_or("").to_owned(),
            },
        });
    }
    term1
}

/// `value` without any `ch`, borrowed when there is none (the usual case).
fn without(value: &str, ch: char) -> Cow<'_, str> {
    if value.contains(ch) {
        value.replace(ch, "").into()
    } else {
        value.into()
    }
}

#[cfg(test)]
pub(crate) fn course_for_test(code: &str, section: &str, sid: &str, instructor: &str) -> Course {
    let d = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    Course::build(
        CourseText {
            code,
            title: "T",
            section,
            academic_department: "AS",
            year: "2026",
            searchable_id1: sid,
            instructor1: instructor,
            ..CourseText::default()
        },
        d,
        d,
        0,
        None,
        Operation::Active,
        2,
    )
}
