//! What the delete guard and the rollover report need to know about Alma, as plain data:
//! the courses of some years, indexed, and reading-list answers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::alma_course::AlmaCourse;

/// The courses of one year, indexed by exact code and by section / searchable id.
#[derive(Debug, Default)]
struct YearIndex {
    courses: Arc<Vec<AlmaCourse>>,
    by_code: HashMap<String, Vec<usize>>,
    by_key: HashMap<String, Vec<usize>>,
}

impl YearIndex {
    fn new(courses: Arc<Vec<AlmaCourse>>) -> YearIndex {
        let mut by_code: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, c) in courses.iter().enumerate() {
            by_code.entry(c.code.clone()).or_default().push(i);
            let keys = std::iter::once(&c.section).chain(c.searchable_ids.iter());
            for k in keys {
                if k.is_empty() {
                    continue;
                }
                let list = by_key.entry(k.clone()).or_default();
                // A course whose section is also one of its searchable ids is one match.
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        YearIndex {
            courses,
            by_code,
            by_key,
        }
    }
}

/// Alma's courses for the years a run needs.
#[derive(Debug, Default)]
pub struct CourseIndex {
    years: HashMap<String, YearIndex>,
}

/// Result of looking for the course a copy request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyMatch<'a> {
    NotFound,
    Ambiguous(usize),
    Unique(&'a AlmaCourse),
}

impl CourseIndex {
    pub fn new() -> CourseIndex {
        CourseIndex::default()
    }

    /// Groups a flat course list by its `year` field.
    pub fn from_courses(courses: Vec<AlmaCourse>) -> CourseIndex {
        let mut by_year: HashMap<String, Vec<AlmaCourse>> = HashMap::new();
        for c in courses {
            by_year.entry(c.year.clone()).or_default().push(c);
        }
        let mut index = CourseIndex::new();
        for (year, list) in by_year {
            index.insert_year(&year, Arc::new(list));
        }
        index
    }

    pub fn insert_year(&mut self, year: &str, courses: Arc<Vec<AlmaCourse>>) {
        self.years.insert(year.to_owned(), YearIndex::new(courses));
    }

    pub fn has_year(&self, year: &str) -> bool {
        self.years.contains_key(year)
    }

    /// Courses of `year` whose code is exactly `code`.
    pub fn with_code<'a>(
        &'a self,
        year: &str,
        code: &str,
    ) -> impl Iterator<Item = &'a AlmaCourse> + 'a {
        let hit = self
            .years
            .get(year)
            .and_then(|y| y.by_code.get(code).map(|ix| (y, ix)));
        hit.into_iter()
            .flat_map(|(y, ix)| ix.iter().filter_map(move |&i| y.courses.get(i)))
    }

    /// The course of `year` whose section equals `sln` or whose searchable ids contain it.
    pub fn copy_match(&self, year: &str, sln: &str) -> CopyMatch<'_> {
        let Some(y) = self.years.get(year) else {
            return CopyMatch::NotFound;
        };
        match y.by_key.get(sln).map(|v| v.as_slice()) {
            None | Some([]) => CopyMatch::NotFound,
            Some([one]) => y
                .courses
                .get(*one)
                .map_or(CopyMatch::NotFound, CopyMatch::Unique),
            Some(many) => CopyMatch::Ambiguous(many.len()),
        }
    }
}

/// Alma facts for a run: indexed courses plus reading-list answers by course id.
#[derive(Debug, Default)]
pub struct AlmaFacts {
    pub courses: CourseIndex,
    pub reading_lists: HashMap<String, bool>,
    /// Courses whose reading-list answer said neither a count nor a list.
    pub unclear_reading_lists: HashSet<String>,
}

/// How DELETE rows are checked.
#[derive(Debug, Clone, Copy)]
pub enum DeleteGuard<'a> {
    /// No Alma at hand: DELETE rows are held back, counted as unverified.
    Offline,
    Alma(&'a AlmaFacts),
}

/// What the guard decides for a DELETE row that reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardDecision {
    Send,
    NotInAlma,
    HasReadingLists,
    /// Offline, or an answer missing: not written.
    Unverified,
    /// Alma's reading-list answer said neither a count nor a list: not written, the rest of
    /// the day goes on.
    Unclear,
}

impl DeleteGuard<'_> {
    /// The sections Alma holds under `code`, in index order: a DELETE names each, since
    /// Alma's loader deletes by Code + Section ID (a cross-listed course's section is its
    /// lowest SLN, not the section of the export's first row).
    pub fn alma_sections(&self, year: &str, code: &str) -> Vec<Box<str>> {
        let DeleteGuard::Alma(facts) = self else {
            return Vec::new();
        };
        facts
            .courses
            .with_code(year, code)
            .map(|c| c.section.as_str().into())
            .collect()
    }

    pub fn decide(&self, year: &str, code: &str) -> GuardDecision {
        let DeleteGuard::Alma(facts) = self else {
            return GuardDecision::Unverified;
        };
        if !facts.courses.has_year(year) {
            return GuardDecision::Unverified;
        }
        let (mut any, mut unclear) = (false, false);
        for c in facts.courses.with_code(year, code) {
            any = true;
            match facts.reading_lists.get(&c.id) {
                Some(true) => return GuardDecision::HasReadingLists,
                Some(false) => {}
                None if facts.unclear_reading_lists.contains(&c.id) => unclear = true,
                None => return GuardDecision::Unverified,
            }
        }
        match (any, unclear) {
            (_, true) => GuardDecision::Unclear,
            (true, false) => GuardDecision::Send,
            (false, false) => GuardDecision::NotInAlma,
        }
    }
}
