//! The two passes of a run over a seekable CEM export.
//!
//! Pass 1 ([`scan`]) finds what Alma must be asked: the years and exact codes the delete
//! guard needs, the copy requests the rollover report needs. The caller fetches exactly
//! those facts, then pass 2 ([`transform`], [`rollover_report`]) reads the export again,
//! applies the rules, merges one course per code and writes. Inputs are `Read + Seek`:
//! a file, or an in-memory body in a `Cursor`. Memory: one [`Course`] per course code.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::io::{self, Read, Seek, SeekFrom, Write};

use hashbrown::HashTable;
// FxHash, not SipHash: SipHash showed in profiles of the per-row maps, and their keys are
// the export's own course codes, not attacker-chosen.
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use super::cem::{detect_encoding, CemError, CemReader, Read1, Role, TextEncoding};
use super::course::{apply_row_rules, Course, CourseRow, CourseText, Operation, RowOutcome, F};
use super::coverage::TermsSeen;
use super::delta::Changed;
use super::facts::{AlmaFacts, CopyMatch, CourseIndex, DeleteGuard, GuardDecision};
use super::loader::LoaderWriter;
use super::rules::Rules;
use super::summary::{LineCode, RolloverCounts, RunSummary, UNCLEAR_ANSWER};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Input(#[from] CemError),
    #[error("cannot write the output: {0}")]
    Output(#[source] io::Error),
}

/// What a pass learns of the export besides its rows.
struct ExportRead {
    encoding: TextEncoding,
    /// The (term, year) of every row read, whatever its status: term coverage (§9).
    terms_seen: TermsSeen,
}

/// Reads the export from its start, row by row, through the row rules.
fn each_outcome<R: Read + Seek>(
    input: &mut R,
    rules: &Rules,
    mut f: impl FnMut(RowOutcome<'_>),
) -> Result<ExportRead, CemError> {
    input.seek(SeekFrom::Start(0)).map_err(CemError::Io)?;
    let encoding = detect_encoding(&mut *input)?;
    input.seek(SeekFrom::Start(0)).map_err(CemError::Io)?;
    let mut reader = CemReader::new(&mut *input, encoding, rules.export())?;
    let mut terms_seen = TermsSeen::default();
    while let Some(read) = reader.next_row()? {
        match read {
            Read1::Row(row) => {
                terms_seen.note(row.get(Role::Term), row.get(Role::Year));
                f(apply_row_rules(&row, rules))
            }
            Read1::Bad(reject) => f(RowOutcome::Rejected(reject)),
        }
    }
    Ok(ExportRead {
        encoding,
        terms_seen,
    })
}

/// A code whose DELETE row reaches the delete guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteTarget {
    pub year: String,
    pub code: String,
}

/// A course whose first active row asks to copy an earlier course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyCandidate {
    pub code: String,
    pub year: String,
    /// A DELETE row came first: where the course lands depends on the delete guard.
    pub delete_first: bool,
    pub sln: String,
    pub copy_year: String,
    pub copy_term: String,
}

/// What pass 1 found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub delete_targets: Vec<DeleteTarget>,
    pub copy_candidates: Vec<CopyCandidate>,
}

fn hash_code(code: &str) -> u64 {
    FxBuildHasher.hash_one(code)
}

/// A code's hash in 32 bits, for a table of a large day's codes to take half the memory
/// (and stay in cache); [`spread`] makes it a table hash again.
fn short_hash(code: &str) -> u32 {
    (hash_code(code) >> 32) as u32
}

/// The table hash of a [`short_hash`]: the table picks buckets from its low bits and tags
/// from its high ones, so both halves carry it.
fn spread(short: u32) -> u64 {
    u64::from(short) << 32 | u64::from(short)
}

/// The codes seen, each once: all their text in one string, the table holding each one's
/// hash (so growing the table reads no text), where it is, and whether an active row has
/// been seen. No allocation per code.
#[derive(Default)]
struct SeenCodes {
    text: String,
    table: HashTable<(u64, usize, usize, bool)>,
}

impl SeenCodes {
    fn get(&self, code: &str) -> Option<bool> {
        let text = &self.text;
        let h = hash_code(code);
        self.table
            .find(h, |&(eh, s, e, _)| eh == h && &text[s..e] == code)
            .map(|&(_, _, _, active)| active)
    }

    fn set(&mut self, code: &str, active: bool) {
        let text = &self.text;
        let h = hash_code(code);
        let found = |&(eh, s, e, _): &(u64, usize, usize, bool)| eh == h && &text[s..e] == code;
        if let Some(entry) = self.table.find_mut(h, found) {
            entry.3 = active;
            return;
        }
        let start = self.text.len();
        self.text.push_str(code);
        let end = self.text.len();
        self.table
            .insert_unique(h, (h, start, end, active), |&(eh, _, _, _)| eh);
    }
}

/// Pass 1: what the delete guard and the rollover report will need from Alma.
pub fn scan<R: Read + Seek>(input: &mut R, rules: &Rules) -> Result<Scan, CemError> {
    let mut seen = SeenCodes::default();
    let mut out = Scan::default();
    each_outcome(input, rules, |o| {
        let RowOutcome::Course(row, _) = o else {
            return;
        };
        let c = row.text();
        let code = c.code;
        match (row.operation, seen.get(code)) {
            (Operation::Delete, None) => {
                out.delete_targets.push(DeleteTarget {
                    year: c.year.to_owned(),
                    code: code.to_owned(),
                });
                seen.set(code, false);
            }
            (Operation::Delete, Some(_)) | (Operation::Active, Some(true)) => {}
            (Operation::Active, prior) => {
                if let Some(req) = c.copy_request() {
                    out.copy_candidates.push(CopyCandidate {
                        code: code.to_owned(),
                        year: c.year.to_owned(),
                        delete_first: prior.is_some(),
                        sln: req.sln.to_owned(),
                        copy_year: req.year.to_owned(),
                        copy_term: req.term.to_owned(),
                    });
                }
                seen.set(code, true);
            }
        }
    })?;
    Ok(out)
}

/// Non-empty values, once each, first occurrence first.
pub fn distinct(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|s| !s.is_empty() && seen.insert(s.clone()))
        .collect()
}

impl Scan {
    /// Years whose courses the delete guard needs.
    pub fn transform_years(&self) -> Vec<String> {
        distinct(self.delete_targets.iter().map(|t| t.year.clone()))
    }

    /// Course ids whose reading lists the delete guard needs (courses with exactly a
    /// DELETE target's code), once each.
    pub fn transform_reading_list_ids(&self, index: &CourseIndex) -> Vec<String> {
        distinct(
            self.delete_targets
                .iter()
                .flat_map(|t| index.with_code(&t.year, &t.code).map(|c| c.id.clone())),
        )
    }

    fn live_candidates<'a>(&'a self, rules: &'a Rules) -> impl Iterator<Item = &'a CopyCandidate> {
        self.copy_candidates.iter().filter(move |c| {
            !c.copy_year.is_empty()
                && !rules.rollover_excluded(&format!("{}{}", c.copy_year, c.copy_term), None)
        })
    }

    /// Years whose courses the rollover report needs first.
    pub fn rollover_years(&self, rules: &Rules) -> Vec<String> {
        distinct(self.live_candidates(rules).map(|c| c.copy_year.clone()))
    }

    /// Course ids whose reading lists the rollover report needs: unique matches, once each.
    pub fn rollover_reading_list_ids(&self, rules: &Rules, index: &CourseIndex) -> Vec<String> {
        distinct(self.live_candidates(rules).filter_map(|c| {
            match index.copy_match(&c.copy_year, &c.sln) {
                CopyMatch::Unique(m) if !rules.rollover_excluded("", Some(&m.code)) => {
                    Some(m.id.clone())
                }
                _ => None,
            }
        }))
    }

    /// Rollovers whose place in the report depends on the delete guard (a DELETE row for
    /// the code came first): the guard must be asked about these codes, and only these.
    pub fn rollover_delete_targets(&self, rules: &Rules, facts: &AlmaFacts) -> Vec<DeleteTarget> {
        self.live_candidates(rules)
            .filter(|c| c.delete_first)
            .filter(|c| match facts.courses.copy_match(&c.copy_year, &c.sln) {
                CopyMatch::Unique(m) => {
                    !rules.rollover_excluded("", Some(&m.code))
                        && facts.reading_lists.get(&m.id).copied().unwrap_or(false)
                }
                _ => false,
            })
            .map(|c| DeleteTarget {
                year: c.year.clone(),
                code: c.code.clone(),
            })
            .collect()
    }
}

/// Course ids with exactly the given codes, once each.
pub fn reading_list_ids_for(targets: &[DeleteTarget], index: &CourseIndex) -> Vec<String> {
    distinct(
        targets
            .iter()
            .flat_map(|t| index.with_code(&t.year, &t.code).map(|c| c.id.clone())),
    )
}

struct Merged {
    courses: Vec<Course>,
    /// Indices of DELETE courses held back (not verified).
    held: FxHashSet<usize>,
    /// The sections Alma holds for each DELETE course that is sent, by index: one row each.
    delete_sections: FxHashMap<usize, Vec<Box<str>>>,
    summary: RunSummary,
}

/// A capacity for the courses of `input`: one per 160 bytes (the sample day's rows are
/// about 190). An export of shorter rows only grows the vector as it would have.
fn expected_codes<R: Seek>(input: &mut R) -> Result<usize, CemError> {
    let bytes = input.seek(SeekFrom::End(0)).map_err(CemError::Io)?;
    Ok(usize::try_from(bytes / 160).unwrap_or(usize::MAX))
}

/// The row rules, the delete guard and the merge rule for cross-listed courses, over the
/// whole export.
fn merge_all<R: Read + Seek>(
    input: &mut R,
    rules: &Rules,
    guard: DeleteGuard<'_>,
    only: Option<&Changed>,
) -> Result<Merged, CemError> {
    let mut merging = Merging::new(expected_codes(input)?, guard, only);
    let read = each_outcome(input, rules, |o| merging.add(o))?;
    let mut merged = merging.merged;
    merged.summary.input_encoding = Some(read.encoding);
    merged.summary.terms_seen = read.terms_seen;
    Ok(merged)
}

/// The merge under way: the courses kept so far, each found by its own code.
struct Merging<'a> {
    guard: DeleteGuard<'a>,
    only: Option<&'a Changed>,
    // (short hash of the code, index into `courses`): found by each course's own code, no
    // second copy of it; the hash kept so that growing the table reads no course.
    by_code: HashTable<(u32, u32)>,
    merged: Merged,
}

impl<'a> Merging<'a> {
    fn new(expected_codes: usize, guard: DeleteGuard<'a>, only: Option<&'a Changed>) -> Self {
        Merging {
            guard,
            only,
            by_code: HashTable::new(),
            merged: Merged {
                // Sized from the export's length, so that a large day's courses (tens of
                // megabytes) are not copied as they grow. Capacity never touched costs no
                // memory.
                courses: Vec::with_capacity(expected_codes),
                held: FxHashSet::default(),
                delete_sections: FxHashMap::default(),
                summary: RunSummary::default(),
            },
        }
    }

    /// One row's outcome: counted, and its course merged.
    #[inline]
    fn add(&mut self, o: RowOutcome<'_>) {
        let s = &mut self.merged.summary;
        s.rows_read += 1;
        let (new, warnings) = match o {
            RowOutcome::Skipped => {
                s.rows_skipped += 1;
                return;
            }
            RowOutcome::Rejected(r) => {
                s.rows_rejected += 1;
                s.rejects.push(r);
                return;
            }
            RowOutcome::Course(c, w) => (c, w),
        };
        s.warnings.extend(warnings);
        self.merge_row(&new);
    }

    /// A course row: merged into the course kept for its code, else kept as the first of
    /// its code (a DELETE only as the delete guard decides).
    #[inline]
    fn merge_row(&mut self, new: &CourseRow<'_>) {
        let text = new.text();
        let code = text.code;
        let short = short_hash(code);
        match self.find(short, code) {
            Some(_) if new.operation == Operation::Delete => {
                self.merged.summary.deletes.superseded += 1
            }
            Some(i) => self.merge_into(i, new, text),
            None if new.operation == Operation::Active => self.keep(short, new),
            // Unchanged since the baseline (§8): not sent, so the guard is not asked.
            None if self.only.is_some_and(|d| !d.contains(code)) => {
                self.merged.held.insert(self.merged.courses.len());
                self.keep(short, new);
            }
            None => self.guard_first_delete(short, new, text),
        }
    }

    /// The index of the course kept for `code`, if any.
    #[inline]
    fn find(&self, short: u32, code: &str) -> Option<usize> {
        let courses = &self.merged.courses;
        self.by_code
            .find(spread(short), |&(es, i)| {
                es == short && courses[i as usize].get(F::Code) == code
            })
            .map(|&(_, i)| i as usize)
    }

    /// A later row of a kept code: an active row replaces a kept DELETE, and is merged
    /// into a kept active course.
    #[inline]
    fn merge_into(&mut self, i: usize, new: &CourseRow<'_>, text: CourseText<'_>) {
        let m = &mut self.merged;
        let kept = &mut m.courses[i];
        if kept.operation == Operation::Delete {
            m.held.remove(&i);
            m.delete_sections.remove(&i);
            m.summary.deletes.superseded += 1;
            *kept = Course::from_row(new);
        } else {
            kept.merge(text);
        }
    }

    /// The first row of a code, kept as its course and found by its code from now on.
    #[inline]
    fn keep(&mut self, short: u32, new: &CourseRow<'_>) {
        let courses = &mut self.merged.courses;
        // A day of four billion courses is not a day's export.
        let i = u32::try_from(courses.len()).unwrap_or(u32::MAX);
        self.by_code
            .insert_unique(spread(short), (short, i), |&(es, _)| spread(es));
        courses.push(Course::from_row(new));
    }

    /// A DELETE as the first row of its code: counted and dropped, or kept to be sent (one
    /// row per section Alma holds) or held back, as the delete guard decides.
    fn guard_first_delete(&mut self, short: u32, new: &CourseRow<'_>, text: CourseText<'_>) {
        let code = text.code;
        match self.guard.decide(text.year, code) {
            GuardDecision::NotInAlma => self.merged.summary.deletes.not_in_alma += 1,
            GuardDecision::HasReadingLists => {
                let s = &mut self.merged.summary;
                s.deletes.suppressed_reading_lists += 1;
                s.suppressed_deletes.push(LineCode {
                    line: new.line,
                    course_code: code.to_owned(),
                    reason: None,
                });
            }
            GuardDecision::Unclear => {
                let s = &mut self.merged.summary;
                s.deletes.suppressed_unclear += 1;
                s.suppressed_deletes.push(LineCode {
                    line: new.line,
                    course_code: code.to_owned(),
                    reason: Some(UNCLEAR_ANSWER),
                });
            }
            decision => {
                let m = &mut self.merged;
                if decision == GuardDecision::Unverified {
                    m.held.insert(m.courses.len());
                } else {
                    let sections = self.guard.alma_sections(text.year, code);
                    m.delete_sections.insert(m.courses.len(), sections);
                }
                self.keep(short, new);
            }
        }
    }
}

/// Pass 2 of the transform: writes the course loader file. With [`DeleteGuard::Offline`],
/// DELETE rows are held back and counted as unverified.
pub fn transform<R: Read + Seek, W: Write>(
    input: &mut R,
    rules: &Rules,
    guard: DeleteGuard<'_>,
    out: W,
) -> Result<RunSummary, RunError> {
    transform_only(input, rules, guard, None, out)
}

/// [`transform`], writing only the courses `only` names when given (a delta file, §8);
/// `courses_written` still counts the whole day's courses, `rows_in_file` the file's rows.
pub fn transform_only<R: Read + Seek, W: Write>(
    input: &mut R,
    rules: &Rules,
    guard: DeleteGuard<'_>,
    only: Option<&Changed>,
    out: W,
) -> Result<RunSummary, RunError> {
    let Merged {
        courses,
        held,
        delete_sections,
        mut summary,
    } = merge_all(input, rules, guard, only)?;
    let mut w = LoaderWriter::new(out, rules).map_err(RunError::Output)?;
    for (i, c) in courses.iter().enumerate() {
        if only.is_some_and(|d| !d.contains(c.get(F::Code))) {
            // Alma has it as it is: still one of the day's courses (the brake's figure).
            // An unchanged DELETE was sent or dropped on an earlier day, so a full file
            // would drop it now: Alma no longer has the course, or it has reading lists.
            if c.operation == Operation::Active {
                summary.courses_written += 1;
            }
            continue;
        }
        if held.contains(&i) {
            summary.deletes.unverified += 1;
            continue;
        }
        if let Some(sections) = delete_sections.get(&i) {
            // One DELETE per course Alma holds under the code, each naming its section.
            for section in sections {
                w.write(&c.with_section(section), None)
                    .map_err(RunError::Output)?;
                summary.deletes.sent += 1;
                summary.courses_written += 1;
                summary.rows_in_file += 1;
            }
            continue;
        }
        w.write(c, None).map_err(RunError::Output)?;
        summary.courses_written += 1;
        summary.rows_in_file += 1;
    }
    w.finish().map_err(RunError::Output)?;
    Ok(summary)
}

/// Writes the day's course rows (§8) in the loader file's layout, header first: the next
/// baseline once Alma has loaded the day. The row rules and the merge, before the delete
/// guard and rollover substitution, one row per code in first-seen order. Returns how many
/// rows.
pub fn write_course_rows<R: Read + Seek, W: Write>(
    input: &mut R,
    rules: &Rules,
    out: W,
) -> Result<u64, RunError> {
    // Offline, every DELETE row that survives the merge is kept (held): a course row.
    let merged = merge_all(input, rules, DeleteGuard::Offline, None)?;
    let mut w = LoaderWriter::new(out, rules).map_err(RunError::Output)?;
    for c in &merged.courses {
        w.write(c, None).map_err(RunError::Output)?;
    }
    w.finish().map_err(RunError::Output)?;
    Ok(merged.courses.len() as u64)
}

/// Pass 2 of the rollover report: ROLLOVER rows in the transform's order.
/// `facts` must hold the years and reading lists [`Scan`] asked for.
pub fn rollover_report<R: Read + Seek, W: Write>(
    input: &mut R,
    rules: &Rules,
    facts: &AlmaFacts,
    out: W,
) -> Result<RunSummary, RunError> {
    let Merged {
        courses,
        mut summary,
        ..
    } = merge_all(input, rules, DeleteGuard::Alma(facts), None)?;
    let mut counts = RolloverCounts::default();
    let mut w = LoaderWriter::new(out, rules).map_err(RunError::Output)?;
    for c in courses.iter().filter(|c| c.operation == Operation::Active) {
        let Some(req) = c.copy_request() else {
            continue;
        };
        counts.candidates += 1;
        if rules.rollover_excluded(&format!("{}{}", req.year, req.term), None) {
            counts.excluded += 1;
            continue;
        }
        let m = match facts.courses.copy_match(req.year, req.sln) {
            CopyMatch::NotFound => {
                counts.not_found += 1;
                continue;
            }
            CopyMatch::Ambiguous(_) => {
                counts.ambiguous += 1;
                continue;
            }
            CopyMatch::Unique(m) => m,
        };
        if rules.rollover_excluded("", Some(&m.code)) {
            counts.excluded += 1;
            continue;
        }
        if facts.reading_lists.get(&m.id).copied() != Some(true) {
            counts.without_reading_lists += 1;
            continue;
        }
        counts.found += 1;
        w.write(c, Some((&m.code, &m.section)))
            .map_err(RunError::Output)?;
        summary.courses_written += 1;
        summary.rows_in_file += 1;
    }
    w.finish().map_err(RunError::Output)?;
    // The guard only placed rows here; its counts belong to the transform's summary.
    summary.deletes = Default::default();
    summary.suppressed_deletes.clear();
    summary.rollovers = Some(counts);
    Ok(summary)
}
