//! The fewest Alma calls a day needs, worked out from the fixtures alone: pages of each
//! year needed plus one reading-list check per distinct course.
//!
//! Deliberately independent of product code (no `leganto_shared` parsing, rules or course
//! index): it is the yardstick that `bench-alma` and the core tests hold the product's call
//! count against, so it must not share the product's bugs. Only the institution profile's
//! data is shared: which header plays which role, the separator and the status words. The
//! export is read as Latin-1, which is enough here: only codes, statuses and numbers matter.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use leganto_shared::domain::{ExportProfile, Role, StatusMeaning};

use crate::alma_sim::FixtureCourse;

/// Why the CEM file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MinimumError {
    /// The CSV itself is malformed.
    #[error("CEM file is not valid CSV")]
    Csv(#[from] csv::Error),
    /// A column the minimum needs is not in the header.
    #[error("CEM file has no column {0}")]
    MissingColumn(String),
}

/// One CEM row that matters (rows of a skipped status, REQUESTED in CEM, are dropped).
#[derive(Debug, Clone)]
pub struct Row {
    code: String,
    delete: bool,
    year: String,
    copy_sln: String,
    copy_year: String,
}

/// The day's rows of an export of `profile`'s shape, rows of a skipped status left out.
pub fn rows(cem_bytes: &[u8], profile: &ExportProfile) -> Result<Vec<Row>, MinimumError> {
    let text: String = cem_bytes.iter().map(|&b| b as char).collect();
    let mut r = csv::ReaderBuilder::new()
        .delimiter(profile.delimiter())
        .from_reader(text.as_bytes());
    let h = r.headers()?.clone();
    let col = |role: Role| {
        let name = profile.header(role);
        h.iter()
            .position(|x| x.trim().eq_ignore_ascii_case(name))
            .ok_or_else(|| MinimumError::MissingColumn(format!("{name} ({})", role.key())))
    };
    let (code, status, year, sln, cyear) = (
        col(Role::CourseCode)?,
        col(Role::Status)?,
        col(Role::Year)?,
        col(Role::CopySection)?,
        col(Role::CopyYear)?,
    );
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec?;
        let get = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
        let meaning = profile.status(&get(status));
        if meaning == StatusMeaning::Skip {
            continue;
        }
        out.push(Row {
            code: get(code),
            delete: meaning == StatusMeaning::Delete,
            year: get(year),
            copy_sln: get(sln).replace(',', ""),
            copy_year: get(cyear),
        });
    }
    Ok(out)
}

fn is_delete(r: &Row) -> bool {
    r.delete
}

fn pages(courses: &[FixtureCourse], year: &str) -> u64 {
    let n = courses.iter().filter(|c| c.year == year).count() as u64;
    n.div_ceil(100).max(1)
}

/// Per code in order of first appearance: its first row and its first active row.
fn per_code(rows: &[Row]) -> Vec<(&Row, Option<&Row>)> {
    let mut order: Vec<&str> = Vec::new();
    let mut map: HashMap<&str, (&Row, Option<&Row>)> = HashMap::new();
    for r in rows {
        let e = map.entry(&r.code).or_insert_with(|| {
            order.push(&r.code);
            (r, None)
        });
        if !is_delete(r) && e.1.is_none() {
            e.1 = Some(r);
        }
    }
    order.iter().map(|c| map[c]).collect()
}

/// Courses of a year, by code and by section / searchable ID.
struct Index<'a> {
    by_code: HashMap<String, Vec<&'a FixtureCourse>>,
    by_sln: HashMap<String, Vec<&'a FixtureCourse>>,
}

fn key(year: &str, value: &str) -> String {
    format!("{year}\u{0}{value}")
}

impl<'a> Index<'a> {
    fn new(courses: &'a [FixtureCourse]) -> Self {
        let mut by_code: HashMap<String, Vec<&'a FixtureCourse>> = HashMap::new();
        let mut by_sln: HashMap<String, Vec<&'a FixtureCourse>> = HashMap::new();
        for c in courses {
            by_code.entry(key(&c.year, &c.code)).or_default().push(c);
            // A course counts once per value, even if its section is also a searchable ID.
            let mut slns: BTreeSet<&str> = c.searchable_id.iter().map(String::as_str).collect();
            slns.insert(c.section.as_str());
            for s in slns {
                by_sln.entry(key(&c.year, s)).or_default().push(c);
            }
        }
        Index { by_code, by_sln }
    }

    fn with_code(&self, year: &str, code: &str) -> &[&'a FixtureCourse] {
        self.by_code
            .get(&key(year, code))
            .map_or(&[], Vec::as_slice)
    }

    fn unique_match(&self, year: &str, sln: &str) -> Option<&'a FixtureCourse> {
        match self.by_sln.get(&key(year, sln)).map(Vec::as_slice) {
            Some([one]) => Some(*one),
            _ => None,
        }
    }
}

/// Calls for the transform, from the CEM file's bytes: see [`transform_minimum_of`].
pub fn transform_minimum(
    courses: &[FixtureCourse],
    cem_bytes: &[u8],
    profile: &ExportProfile,
) -> Result<u64, MinimumError> {
    Ok(transform_minimum_of(courses, &rows(cem_bytes, profile)?))
}

/// Calls for the rollover report, from the CEM file's bytes: see [`rollover_minimum_of`].
pub fn rollover_minimum(
    courses: &[FixtureCourse],
    cem_bytes: &[u8],
    profile: &ExportProfile,
) -> Result<u64, MinimumError> {
    Ok(rollover_minimum_of(courses, &rows(cem_bytes, profile)?))
}

/// Calls for the transform: the delete guard's years and exact-code courses (a code whose
/// first row is a DELETE reaches the guard). A year costs its pages, or, when fewer, its
/// first page (which tells the pages) and one search per code.
pub fn transform_minimum_of(courses: &[FixtureCourse], rows: &[Row]) -> u64 {
    let index = Index::new(courses);
    let mut years: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for (first, _) in per_code(rows) {
        if is_delete(first) {
            years
                .entry(first.year.clone())
                .or_default()
                .insert(first.code.clone());
            ids.extend(
                index
                    .with_code(&first.year, &first.code)
                    .iter()
                    .map(|c| c.id.clone()),
            );
        }
    }
    years
        .iter()
        .map(|(y, codes)| pages(courses, y).min(1 + codes.len() as u64))
        .sum::<u64>()
        + ids.len() as u64
}

/// Calls for the rollover report: copy years, unique matches' reading lists, and the
/// guard's questions for found rollovers whose code had a DELETE row first.
pub fn rollover_minimum_of(courses: &[FixtureCourse], rows: &[Row]) -> u64 {
    let index = Index::new(courses);
    let mut years = BTreeSet::new();
    let mut ids = BTreeSet::new();
    let mut found_delete_first = Vec::new();
    for (first, active) in per_code(rows) {
        let Some(a) = active else { continue };
        let candidate = !a.copy_sln.is_empty()
            && a.copy_sln != "0"
            && a.copy_sln.parse::<u64>().is_ok()
            && !a.copy_year.is_empty();
        if !candidate {
            continue;
        }
        years.insert(a.copy_year.clone());
        if let Some(m) = index.unique_match(&a.copy_year, &a.copy_sln) {
            ids.insert(m.id.clone());
            if is_delete(first) && m.reading_lists {
                found_delete_first.push(a);
            }
        }
    }
    for a in found_delete_first {
        years.insert(a.year.clone());
        ids.extend(
            index
                .with_code(&a.year, &a.code)
                .iter()
                .map(|c| c.id.clone()),
        );
    }
    years.iter().map(|y| pages(courses, y)).sum::<u64>() + ids.len() as u64
}
