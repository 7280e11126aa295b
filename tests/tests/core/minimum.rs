//! The fewest Alma calls the sample day needs, worked out from the fixtures alone (not
//! with the product's code): pages of each year needed plus one reading-list check per
//! distinct course.

use std::collections::{BTreeSet, HashMap};

use crate::fixture::{fixture_courses, read, FixtureCourse};

struct Row {
    code: String,
    status: String,
    year: String,
    copy_sln: String,
    copy_year: String,
}

fn rows() -> Vec<Row> {
    let bytes = read("cem.csv");
    let text = latin1(&bytes);
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let (code, status, year, sln, cyear) = (
        col("MYASU_COURSE_IDSTRING"),
        col("COURSE_STATUS"),
        col("YEAR"),
        col("COPY_COURSE_SLN"),
        col("COPY_COURSE_SEMESTER_YEAR"),
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            Row {
                code: rec[code].trim().into(),
                status: rec[status].trim().into(),
                year: rec[year].trim().into(),
                copy_sln: rec[sln].trim().replace(',', ""),
                copy_year: rec[cyear].trim().into(),
            }
        })
        .filter(|r| r.status != "REQUESTED")
        .collect()
}

/// Bytes as Latin-1: enough here, where only codes, statuses and numbers matter.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

fn is_delete(r: &Row) -> bool {
    r.status == "DENIED" || r.status == "SUSPENDED"
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

/// Calls for the transform: the delete guard's years and exact-code courses (a code whose
/// first row is a DELETE reaches the guard).
pub fn transform_calls() -> u64 {
    let courses = fixture_courses();
    let rows = rows();
    let mut years = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (first, _) in per_code(&rows) {
        if is_delete(first) {
            years.insert(first.year.clone());
            for c in courses
                .iter()
                .filter(|c| c.year == first.year && c.code == first.code)
            {
                ids.insert(c.id.clone());
            }
        }
    }
    years.iter().map(|y| pages(&courses, y)).sum::<u64>() + ids.len() as u64
}

fn unique_match<'a>(
    courses: &'a [FixtureCourse],
    year: &str,
    sln: &str,
) -> Option<&'a FixtureCourse> {
    let hits: Vec<&FixtureCourse> = courses
        .iter()
        .filter(|c| {
            c.year == year && (c.section == sln || c.searchable_id.iter().any(|s| s == sln))
        })
        .collect();
    (hits.len() == 1).then(|| hits[0])
}

/// Calls for the rollover report: copy years, unique matches' reading lists, and the
/// guard's questions for found rollovers whose code had a DELETE row first.
pub fn rollover_calls() -> u64 {
    let courses = fixture_courses();
    let rows = rows();
    let mut years = BTreeSet::new();
    let mut ids = BTreeSet::new();
    let mut found_delete_first = Vec::new();
    for (first, active) in per_code(&rows) {
        let Some(a) = active else { continue };
        let delete_first = is_delete(first);
        let candidate = !a.copy_sln.is_empty()
            && a.copy_sln != "0"
            && a.copy_sln.parse::<u64>().is_ok()
            && !a.copy_year.is_empty();
        if !candidate {
            continue;
        }
        years.insert(a.copy_year.clone());
        if let Some(m) = unique_match(&courses, &a.copy_year, &a.copy_sln) {
            ids.insert(m.id.clone());
            if delete_first && m.reading_lists {
                found_delete_first.push(a);
            }
        }
    }
    for a in found_delete_first {
        years.insert(a.year.clone());
        for c in courses
            .iter()
            .filter(|c| c.year == a.year && c.code == a.code)
        {
            ids.insert(c.id.clone());
        }
    }
    years.iter().map(|y| pages(&courses, y)).sum::<u64>() + ids.len() as u64
}
