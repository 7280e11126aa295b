//! One course of the loader file, built from a CEM row by the row rules (spec §2) and merged
//! with later rows of the same code (spec §3). Stored compactly (all text in one allocation)
//! because a run holds one per course code.

use chrono::NaiveDate;
use serde::Serialize;

use super::cem::{CemRow, Col, RowReject};
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
    /// COPY_COURSE_SLN cleaned: thousands separators removed.
    CopySln,
    CopyYear,
    CopyTerm,
}
const NF: usize = 12;

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
    /// CEM line of the row that created this course.
    pub line: u64,
}

impl Course {
    fn build(
        parts: [&str; NF],
        start: NaiveDate,
        end: NaiveDate,
        processing_department: NameId,
        term1: Option<NameId>,
        operation: Operation,
        line: u64,
    ) -> Course {
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u32; NF];
        for (end_slot, p) in ends.iter_mut().zip(parts) {
            text.push_str(p);
            // Text beyond 4 GiB cannot come from one CSV row we hold in memory.
            *end_slot = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        Course {
            text: text.into_boxed_str(),
            ends,
            start,
            end,
            processing_department,
            term1,
            operation,
            line,
        }
    }

    pub fn get(&self, f: F) -> &str {
        let i = f as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize).unwrap_or("")
    }

    fn parts(&self) -> [&str; NF] {
        std::array::from_fn(|i| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
            self.text.get(start..self.ends[i] as usize).unwrap_or("")
        })
    }

    fn with(&self, changes: &[(F, &str)]) -> Course {
        let mut parts = self.parts();
        for &(f, v) in changes {
            parts[f as usize] = v;
        }
        Course::build(
            parts,
            self.start,
            self.end,
            self.processing_department,
            self.term1,
            self.operation,
            self.line,
        )
    }

    /// Merges an active row of the same code into this active course (spec §3).
    pub fn merge(&mut self, new: &Course) {
        // 1. instructors
        let mut instructors: Vec<&str> = Vec::new();
        push_unique(&mut instructors, self.get(F::Instructor1));
        for i in self.get(F::AllInstructors).split(',') {
            push_unique(&mut instructors, i);
        }
        push_unique(&mut instructors, new.get(F::Instructor1));
        let all_instructors = instructors.join(",");
        // 2. searchable ids, capped at 10
        let mut ids: Vec<&str> = Vec::new();
        push_unique(&mut ids, self.get(F::SearchableId1));
        for i in self.get(F::AllSearchableIds).split(',') {
            push_unique(&mut ids, i);
        }
        push_unique(&mut ids, new.get(F::SearchableId1));
        push_unique(&mut ids, new.get(F::Section));
        ids.truncate(10);
        // 3. the lower section wins; both sections stay searchable (may exceed 10)
        let mut section = self.get(F::Section);
        if let (Ok(kept), Ok(newer)) = (
            self.get(F::Section).parse::<u64>(),
            new.get(F::Section).parse::<u64>(),
        ) {
            if kept > newer {
                push_unique(&mut ids, new.get(F::Section));
                push_unique(&mut ids, self.get(F::Section));
                section = new.get(F::Section);
            }
        }
        // 4.
        let all_ids = ids.join(",");
        *self = self.with(&[
            (F::Instructor1, ""),
            (F::AllInstructors, &all_instructors),
            (F::SearchableId1, ""),
            (F::AllSearchableIds, &all_ids),
            (F::Section, section),
        ]);
    }

    /// The copy request, if any: (cleaned SLN, year, year+term) — spec §6's candidacy test.
    pub fn copy_request(&self) -> Option<CopyRequest<'_>> {
        let sln = self.get(F::CopySln);
        if sln.is_empty() || sln == "0" || sln == "-" || sln.parse::<u64>().is_err() {
            return None;
        }
        Some(CopyRequest {
            sln,
            year: self.get(F::CopyYear),
            term: self.get(F::CopyTerm),
        })
    }
}

/// A roll-over request carried by an active course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyRequest<'a> {
    pub sln: &'a str,
    pub year: &'a str,
    pub term: &'a str,
}

fn push_unique<'a>(list: &mut Vec<&'a str>, item: &'a str) {
    if !item.is_empty() && !list.contains(&item) {
        list.push(item);
    }
}

/// A row loaded with a warning (spec §2).
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
    /// No term cell matches TERM and the code's first segment: Term1 left empty.
    NoTermMatch { term: String, segment: String },
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
                write!(f, "no term for TERM {term:?} and {segment:?}, Term1 left empty")
            }
        }
    }
}

/// What the row rules make of one CEM row.
pub enum RowOutcome {
    /// COURSE_STATUS REQUESTED: skipped until it has another status.
    Skipped,
    Course(Course, Vec<Warning>),
    Rejected(RowReject),
}

fn reject(row: &CemRow<'_>, col: Col, reason: impl Into<String>) -> RowOutcome {
    RowOutcome::Rejected(RowReject {
        line: row.line,
        course_code: row.get(Col::Code).to_owned(),
        column: Some(col.header()),
        reason: reason.into(),
    })
}

/// `YYYY-MM-DD …` → the date.
pub fn parse_sync_date(value: &str) -> Option<NaiveDate> {
    let b = value.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if !(b.len() == 10 || b[10] == b' ' || b[10] == b'T') {
        return None;
    }
    // Hand-rolled: strftime parsing per row dominated the profile.
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)
}

/// Applies the row rules of spec §2 to one row.
pub fn apply_row_rules(row: &CemRow<'_>, rules: &Rules) -> RowOutcome {
    let code = row.get(Col::Code);
    if code.is_empty() {
        return reject(row, Col::Code, "empty course code");
    }
    let status = row.get(Col::Status);
    if status == "REQUESTED" {
        return RowOutcome::Skipped;
    }
    let operation = if status == "DENIED" || status == "SUSPENDED" {
        Operation::Delete
    } else {
        Operation::Active
    };
    let term = row.get(Col::Term);
    if term.is_empty() {
        return reject(row, Col::Term, "empty TERM");
    }
    let Some(start) = parse_sync_date(row.get(Col::StartSync)) else {
        return reject(
            row,
            Col::StartSync,
            format!(
                "unparseable date {:?} (want YYYY-MM-DD ...)",
                row.get(Col::StartSync)
            ),
        );
    };
    let Some(end) = parse_sync_date(row.get(Col::EndSync)) else {
        return reject(
            row,
            Col::EndSync,
            format!(
                "unparseable date {:?} (want YYYY-MM-DD ...)",
                row.get(Col::EndSync)
            ),
        );
    };

    let mut warnings = Vec::new();
    let campus = row.get(Col::Campus);
    let college = row.get(Col::College);
    let course_id = row.get(Col::CourseId);
    let (dept, note) = rules.processing_department(campus, college, course_id, code);
    match note {
        DepartmentNote::Ok => {}
        DepartmentNote::UnknownCampus => warnings.push(Warning {
            line: row.line,
            course_code: code.to_owned(),
            kind: WarningKind::UnknownCampus {
                campus: campus.to_owned(),
                department: rules.name(dept).to_owned(),
            },
        }),
        DepartmentNote::CollegeFallback => warnings.push(Warning {
            line: row.line,
            course_code: code.to_owned(),
            kind: WarningKind::CollegeFallback {
                campus: campus.to_owned(),
                college: college.to_owned(),
                department: rules.name(dept).to_owned(),
            },
        }),
    }
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

    let sln = row.get(Col::Sln);
    let section: std::borrow::Cow<'_, str> = if sln.contains('-') {
        sln.replace('-', "").into()
    } else {
        sln.into()
    };
    let copy = row.get(Col::CopySln);
    let copy_sln: std::borrow::Cow<'_, str> = if copy.contains(',') {
        copy.replace(',', "").into()
    } else {
        copy.into()
    };
    let course = Course::build(
        [
            code,
            row.get(Col::Name),
            section.trim(),
            college,
            row.get(Col::Year),
            course_id,
            "",
            row.get(Col::Asurite),
            "",
            copy_sln.trim(),
            row.get(Col::CopyYear),
            row.get(Col::CopyTerm),
        ],
        start,
        end,
        dept,
        term1,
        operation,
        row.line,
    );
    RowOutcome::Course(course, warnings)
}

#[cfg(test)]
pub(crate) fn course_for_test(code: &str, section: &str, sid: &str, instructor: &str) -> Course {
    let d = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    Course::build(
        [
            code, "T", section, "AS", "2026", sid, "", instructor, "", "", "", "",
        ],
        d,
        d,
        0,
        None,
        Operation::Active,
        2,
    )
}
