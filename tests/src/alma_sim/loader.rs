//! Alma's course loader applied to a file: pure functions over the course store.
//!
//! Rules (the course loader file's format, as Alma's loader checks it): the file must be
//! UTF-8, every line must end in CRLF and have exactly 34 tab-separated columns, or the whole
//! run fails and nothing changes. The header row is ignored. Per row, by Operation:
//! - blank: create the course (code + section) with every field, or update an existing one,
//!   where only instructors and participants change;
//! - `DELETE`: delete the course with that code + section;
//! - `ROLLOVER`: create/update as for blank, then copy the reading lists of Old Course Code +
//!   Old Course Section ID (running it again copies them again).
//!
//! A row is an error (the rest still load) when its code + section already appeared in the
//! file, its processing department is missing or not one of the institution's, its
//! Operation is unknown, a date or number does not parse, or it deletes/rolls over from a
//! course that does not exist.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::model::{JobStatus, LoaderCounters, RowError, SimCourse, SimReadingList};

/// Number of columns of the course loader format.
pub const COLUMNS: usize = 34;
/// Date format of the integration profile (Start/End Date, Submit Lists By).
pub const DATE_FORMAT: &str = "%d-%m-%Y";

mod col {
    pub const CODE: usize = 0;
    pub const TITLE: usize = 1;
    pub const SECTION: usize = 2;
    pub const ACADEMIC_DEPT: usize = 3;
    pub const PROCESSING_DEPT: usize = 4;
    pub const TERM1: usize = 5;
    pub const START: usize = 9;
    pub const END: usize = 10;
    pub const PARTICIPANTS: usize = 11;
    pub const WEEKLY_HOURS: usize = 12;
    pub const YEAR: usize = 13;
    pub const SEARCHABLE_ID1: usize = 14;
    pub const SEARCHABLE_ID2: usize = 15;
    pub const ALL_SEARCHABLE_IDS: usize = 16;
    pub const INSTRUCTOR1: usize = 17;
    pub const ALL_INSTRUCTORS: usize = 27;
    pub const OPERATION: usize = 28;
    pub const OLD_CODE: usize = 29;
    pub const OLD_SECTION: usize = 30;
    pub const SUBMIT_LISTS_BY: usize = 31;
    pub const CAMPUS: usize = 32;
    pub const READING_LIST_NAME: usize = 33;
}

/// Hands out Alma-looking numeric ids.
#[derive(Debug, Clone)]
pub struct IdAlloc {
    next_course: u64,
    next_list: u64,
}

impl IdAlloc {
    /// Starts above every numeric id already in the store.
    pub fn after(courses: &[SimCourse]) -> Self {
        let max_course = courses
            .iter()
            .filter_map(|c| c.id.parse::<u64>().ok())
            .max();
        let max_list = courses
            .iter()
            .flat_map(|c| &c.reading_lists)
            .filter_map(|l| l.id.parse::<u64>().ok())
            .max();
        IdAlloc {
            next_course: max_course.map_or(6_200_000_000_001, |m| m + 1),
            next_list: max_list.map_or(7_100_000_000_001, |m| m.max(7_100_000_000_000) + 1),
        }
    }

    pub fn course(&mut self) -> String {
        let id = self.next_course;
        self.next_course += 1;
        id.to_string()
    }

    pub fn list(&mut self) -> String {
        let id = self.next_list;
        self.next_list += 1;
        id.to_string()
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    pub status: JobStatus,
    pub counters: LoaderCounters,
    pub row_errors: Vec<RowError>,
    pub failure: Option<String>,
}

impl LoadReport {
    fn failed(reason: String) -> Self {
        LoadReport {
            status: JobStatus::CompletedFailed,
            counters: LoaderCounters::default(),
            row_errors: Vec::new(),
            failure: Some(reason),
        }
    }
}

/// Checks the file's format and returns its lines (header included) split into columns.
pub fn parse_file(bytes: &[u8]) -> Result<Vec<Vec<&str>>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("file is not valid UTF-8 (at byte {})", e.valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let b = text.as_bytes();
    let mut line = 1;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'\n' if i == 0 || b[i - 1] != b'\r' => {
                return Err(format!(
                    "line {line} ends in LF without CR; CRLF is required"
                ))
            }
            b'\r' if b.get(i + 1) != Some(&b'\n') => {
                return Err(format!("line {line} has a CR not followed by LF"))
            }
            b'\n' => line += 1,
            _ => {}
        }
    }
    let body = text.strip_suffix("\r\n").unwrap_or(text);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    body.split("\r\n")
        .enumerate()
        .map(|(i, l)| {
            let cols: Vec<&str> = l.split('\t').collect();
            if cols.len() == COLUMNS {
                Ok(cols)
            } else {
                Err(format!(
                    "line {} has {} columns; {COLUMNS} are required",
                    i + 1,
                    cols.len()
                ))
            }
        })
        .collect()
}

/// A row's course fields, parsed.
struct RowData {
    title: String,
    academic_department: Option<String>,
    processing_department: String,
    terms: Vec<String>,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
    participants: Option<u32>,
    weekly_hours: Option<u32>,
    year: String,
    searchable_ids: Vec<String>,
    instructors: Vec<String>,
    submit_lists_by: Option<NaiveDate>,
    campus_participants: Option<String>,
    reading_list_name: Option<String>,
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn date(cols: &[&str], i: usize, what: &str) -> Result<Option<NaiveDate>, String> {
    match non_empty(cols[i]) {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(&v, DATE_FORMAT)
            .map(Some)
            .map_err(|_| format!("{what} {v:?} is not a DD-MM-YYYY date")),
    }
}

fn number(cols: &[&str], i: usize, what: &str) -> Result<Option<u32>, String> {
    match non_empty(cols[i]) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{what} {v:?} is not a number")),
    }
}

/// Singles plus a comma-separated list, blanks and repeats dropped, order kept.
fn list(singles: &[&str], all: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in singles.iter().copied().chain(all.split(',')) {
        if let Some(v) = non_empty(v) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

fn parse_row(cols: &[&str], departments: &[String]) -> Result<RowData, String> {
    let processing_department = non_empty(cols[col::PROCESSING_DEPT])
        .ok_or_else(|| "processing department is missing".to_string())?;
    if !departments.contains(&processing_department) {
        return Err(format!(
            "processing department {processing_department:?} is not valid"
        ));
    }
    Ok(RowData {
        title: cols[col::TITLE].trim().to_string(),
        academic_department: non_empty(cols[col::ACADEMIC_DEPT]),
        processing_department,
        terms: cols[col::TERM1..col::TERM1 + 4]
            .iter()
            .filter_map(|t| non_empty(t))
            .collect(),
        start_date: date(cols, col::START, "Start Date")?,
        end_date: date(cols, col::END, "End Date")?,
        participants: number(cols, col::PARTICIPANTS, "Number of Participants")?,
        weekly_hours: number(cols, col::WEEKLY_HOURS, "Weekly Hours")?,
        year: cols[col::YEAR].trim().to_string(),
        searchable_ids: list(
            &[cols[col::SEARCHABLE_ID1], cols[col::SEARCHABLE_ID2]],
            cols[col::ALL_SEARCHABLE_IDS],
        ),
        instructors: list(
            &cols[col::INSTRUCTOR1..col::INSTRUCTOR1 + 10],
            cols[col::ALL_INSTRUCTORS],
        ),
        submit_lists_by: date(cols, col::SUBMIT_LISTS_BY, "Submit Lists By")?,
        campus_participants: non_empty(cols[col::CAMPUS]),
        reading_list_name: non_empty(cols[col::READING_LIST_NAME]),
    })
}

enum Upsert {
    Created,
    Updated,
}

/// Creates the course with every field, or updates only instructors and participants.
fn upsert(
    store: &mut Vec<SimCourse>,
    ids: &mut IdAlloc,
    code: &str,
    section: &str,
    row: RowData,
) -> Result<(usize, Upsert), String> {
    if let Some(i) = find(store, code, section) {
        let c = &mut store[i];
        c.instructors = row.instructors;
        c.participants = row.participants;
        c.campus_participants = row.campus_participants;
        return Ok((i, Upsert::Updated));
    }
    if row.title.is_empty() {
        return Err("course title is missing".to_string());
    }
    let reading_lists = match row.reading_list_name {
        Some(name) => vec![SimReadingList {
            id: ids.list(),
            code: format!("{code}-{section}"),
            name,
            status: "BeingPrepared".to_string(),
        }],
        None => Vec::new(),
    };
    store.push(SimCourse {
        id: ids.course(),
        code: code.to_string(),
        name: row.title,
        section: section.to_string(),
        year: row.year,
        searchable_ids: row.searchable_ids,
        instructors: row.instructors,
        academic_department: row.academic_department,
        processing_department: Some(row.processing_department),
        terms: row.terms,
        start_date: row.start_date,
        end_date: row.end_date,
        participants: row.participants,
        weekly_hours: row.weekly_hours,
        submit_lists_by: row.submit_lists_by,
        campus_participants: row.campus_participants,
        reading_lists,
    });
    Ok((store.len() - 1, Upsert::Created))
}

fn find(store: &[SimCourse], code: &str, section: &str) -> Option<usize> {
    store
        .iter()
        .position(|c| c.code == code && c.section == section)
}

/// Applies one loader file to the store. A failed run leaves the store untouched.
pub fn apply_file(
    bytes: &[u8],
    store: &mut Vec<SimCourse>,
    ids: &mut IdAlloc,
    departments: &[String],
) -> LoadReport {
    apply_file_row_by_row(bytes, store, ids, departments, || true)
}

/// [`apply_file`], calling `after_row` after each data row: the simulator spends Alma's
/// time per row there. When `after_row` answers `false` the load stops at that row and
/// fails, with the rows before it applied: stop only a load that works on a copy.
pub fn apply_file_row_by_row(
    bytes: &[u8],
    store: &mut Vec<SimCourse>,
    ids: &mut IdAlloc,
    departments: &[String],
    mut after_row: impl FnMut() -> bool,
) -> LoadReport {
    let lines = match parse_file(bytes) {
        Ok(lines) => lines,
        Err(reason) => return LoadReport::failed(reason),
    };
    let mut counters = LoaderCounters::default();
    let mut row_errors = Vec::new();
    // code + section -> first line that named it
    let mut seen: HashMap<(String, String), usize> = HashMap::new();

    for (i, cols) in lines.iter().enumerate().skip(1) {
        let line = i + 1;
        counters.rows_read += 1;
        let code = cols[col::CODE].trim();
        let section = cols[col::SECTION].trim();
        let result = apply_row(
            cols,
            line,
            &mut seen,
            store,
            ids,
            departments,
            &mut counters,
        );
        if let Err(reason) = result {
            counters.errors += 1;
            row_errors.push(RowError {
                line,
                code: code.to_string(),
                section: section.to_string(),
                reason,
            });
        }
        if !after_row() {
            return LoadReport::failed(format!("the load stopped after line {line}"));
        }
    }

    let status = if counters.rows_read == 0 {
        JobStatus::CompletedNoBulks
    } else if counters.errors > 0 {
        JobStatus::CompletedWarning
    } else {
        JobStatus::CompletedSuccess
    };
    LoadReport {
        status,
        counters,
        row_errors,
        failure: None,
    }
}

fn apply_row(
    cols: &[&str],
    line: usize,
    seen: &mut HashMap<(String, String), usize>,
    store: &mut Vec<SimCourse>,
    ids: &mut IdAlloc,
    departments: &[String],
    counters: &mut LoaderCounters,
) -> Result<(), String> {
    let code = cols[col::CODE].trim();
    let section = cols[col::SECTION].trim();
    if code.is_empty() {
        return Err("course code is missing".to_string());
    }
    if let Some(first) = seen.get(&(code.to_string(), section.to_string())) {
        return Err(format!(
            "course code {code} section {section} already appeared on line {first}"
        ));
    }
    seen.insert((code.to_string(), section.to_string()), line);

    let operation = cols[col::OPERATION].trim();
    if !matches!(operation, "" | "DELETE" | "ROLLOVER") {
        return Err(format!("unknown operation {operation:?}"));
    }
    let row = parse_row(cols, departments)?;
    match operation {
        "DELETE" => {
            let i = find(store, code, section)
                .ok_or_else(|| format!("course {code} section {section} does not exist"))?;
            store.remove(i);
            counters.deleted += 1;
        }
        "ROLLOVER" => {
            let old_code = cols[col::OLD_CODE].trim();
            let old_section = cols[col::OLD_SECTION].trim();
            let old = find(store, old_code, old_section).ok_or_else(|| {
                format!("old course {old_code} section {old_section} does not exist")
            })?;
            let lists = store[old].reading_lists.clone();
            let (target, _) = upsert(store, ids, code, section, row)?;
            for list in lists {
                let copy = SimReadingList {
                    id: ids.list(),
                    ..list
                };
                store[target].reading_lists.push(copy);
            }
            counters.rolled_over += 1;
        }
        _ => match upsert(store, ids, code, section, row)? {
            (_, Upsert::Created) => counters.created += 1,
            (_, Upsert::Updated) => counters.updated += 1,
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(code: &str, section: &str, dept: &str, op: &str) -> String {
        let mut cols = vec![""; COLUMNS];
        cols[col::CODE] = code;
        cols[col::TITLE] = "Title";
        cols[col::SECTION] = section;
        cols[col::PROCESSING_DEPT] = dept;
        cols[col::OPERATION] = op;
        cols.join("\t")
    }

    fn file(rows: &[String]) -> Vec<u8> {
        let mut s = vec!["h"; COLUMNS].join("\t");
        s.push_str("\r\n");
        for r in rows {
            s.push_str(r);
            s.push_str("\r\n");
        }
        s.into_bytes()
    }

    #[test]
    fn a_header_only_file_is_no_bulks() {
        let mut store = Vec::new();
        let mut ids = IdAlloc::after(&store);
        let r = apply_file(&file(&[]), &mut store, &mut ids, &["LAW".into()]);
        assert_eq!(r.status, JobStatus::CompletedNoBulks);
    }

    #[test]
    fn a_bare_cr_fails_the_run() {
        let mut bytes = file(&[row("A", "1", "LAW", "")]);
        bytes.extend_from_slice(b"x\ry\r\n");
        assert!(parse_file(&bytes).unwrap_err().contains("CR not followed"));
    }

    #[test]
    fn created_course_gets_a_fresh_id_above_existing_ones() {
        let mut store = Vec::new();
        let mut ids = IdAlloc::after(&store);
        let r = apply_file(
            &file(&[row("A", "1", "LAW", "")]),
            &mut store,
            &mut ids,
            &["LAW".into()],
        );
        assert_eq!(r.counters.created, 1);
        let mut ids2 = IdAlloc::after(&store);
        assert_ne!(ids2.course(), store[0].id);
    }
}
