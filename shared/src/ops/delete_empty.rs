//! The delete-empty-courses tool: the courses of one year and term, each checked once for
//! reading lists; those without any are planned for deletion, the rest kept. Deleting is a
//! separate run that takes the plan file a person reviewed ([`read_plan_csv`]) and deletes
//! only what it lists, each course re-checked right before its delete ([`execute`]). A
//! course with reading lists is never deleted, and neither is one whose answer cannot be
//! read.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::alma::progress::Tracked;
use crate::alma::{AlmaClient, AlmaCourseRecord, AlmaError, Phase};
use crate::csv_safe;

/// The plan file's columns, in order.
pub const PLAN_COLUMNS: [&str; 5] = ["id", "code", "section", "reading_lists", "action"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Delete,
    Keep,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Delete => "delete",
            Action::Keep => "keep",
        }
    }
}

/// One course of the plan; also a row of the plan file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRow {
    pub id: String,
    pub code: String,
    pub section: String,
    pub reading_lists: u64,
    pub action: Action,
}

impl PlanRow {
    pub fn new(course: &AlmaCourseRecord, reading_lists: u64) -> PlanRow {
        PlanRow {
            id: course.id.clone(),
            code: course.code.clone(),
            section: course.section.clone(),
            reading_lists,
            action: if reading_lists == 0 {
                Action::Delete
            } else {
                Action::Keep
            },
        }
    }

    /// The only rows [`execute`] touches.
    pub fn deletable(&self) -> bool {
        self.action == Action::Delete && self.reading_lists == 0
    }
}

/// The year exactly (`year~2026` also finds 20261) and one of the course's terms equal to
/// `term` (Alma's term codes, e.g. `SPRING`; case and spaces aside).
pub fn in_year_and_term(course: &AlmaCourseRecord, year: &str, term: &str) -> bool {
    course.year.trim() == year.trim()
        && course
            .term
            .iter()
            .any(|t| t.value.trim().eq_ignore_ascii_case(term.trim()))
}

/// The courses of `year` and `term`, by code and section. Pages of 100 from
/// `q=year~YEAR`: the first tells the total, the rest go out concurrently through the
/// client's rate limit.
pub async fn courses_of_year_and_term(
    client: &AlmaClient,
    year: &str,
    term: &str,
) -> Result<Vec<AlmaCourseRecord>, AlmaError> {
    let phase = Tracked::start(client.progress(), Phase::CoursePages, 1);
    let (records, pages) = client
        .search_all_courses(&format!("year~{}", year.trim()))
        .await?;
    phase.finish();
    let mut seen = HashSet::new();
    let mut courses: Vec<AlmaCourseRecord> = records
        .into_iter()
        .filter(|c| in_year_and_term(c, year, term))
        // A page can shift while we read; keep one copy of each course.
        .filter(|c| seen.insert(c.id.clone()))
        .collect();
    courses.sort_by(|a, b| (&a.code, &a.section, &a.id).cmp(&(&b.code, &b.section, &b.id)));
    tracing::info!(
        year,
        term,
        courses = courses.len(),
        pages,
        "listed the term's courses"
    );
    Ok(courses)
}

/// Checks each course for reading lists, once, concurrently (within the client's limits),
/// and plans `delete` for those without any. Any failed check fails the plan: a course
/// whose lists are unknown must not be planned for deletion.
pub async fn plan(
    client: &AlmaClient,
    courses: &[AlmaCourseRecord],
) -> Result<Vec<PlanRow>, AlmaError> {
    let phase = Tracked::start(
        client.progress(),
        Phase::ReadingListChecks,
        courses.len() as u64,
    );
    let phase_ref = &phase;
    let rows = futures::stream::iter(courses)
        .map(|course| async move {
            let n = client.reading_list_count(&course.id).await?;
            phase_ref.advance();
            Ok::<_, AlmaError>(PlanRow::new(course, n))
        })
        .buffered(client.max_concurrency())
        .try_collect()
        .await?;
    phase.finish();
    Ok(rows)
}

/// Writes the plan as CSV: `id,code,section,reading_lists,action`. A person opens it in a
/// spreadsheet, so a value from Alma that would start a formula is [`csv_safe::neutralise`]d
/// (and [`read_plan_csv`] takes the `'` off again).
pub fn write_plan_csv(rows: &[PlanRow], out: impl Write) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(PLAN_COLUMNS)?;
    for row in rows {
        let reading_lists = row.reading_lists.to_string();
        csv_safe::write_record(
            &mut w,
            &[
                &row.id,
                &row.code,
                &row.section,
                &reading_lists,
                row.action.as_str(),
            ],
        )?;
    }
    w.flush()?;
    Ok(())
}

/// Why a plan file cannot be used. Each names the file's line, counting the header as 1.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error(
        "the plan's header is {found:?}, not \"id,code,section,reading_lists,action\": give \
         --plan the CSV that delete-empty-courses wrote (without --execute)"
    )]
    Header { found: String },
    #[error("the plan is empty: give --plan the CSV that delete-empty-courses wrote")]
    Empty,
    #[error("line {line} of the plan cannot be read: {source}")]
    Row {
        line: u64,
        #[source]
        source: csv::Error,
    },
    #[error("line {line} of the plan: {problem}")]
    Invalid { line: u64, problem: String },
}

/// Reads a plan file as [`write_plan_csv`] wrote it and a person reviewed it (rows removed,
/// `delete` turned into `keep`; a UTF-8 BOM and CRLF, as spreadsheets save, are fine).
/// Anything else in it is an error naming the line: a plan that is not understood deletes
/// nothing.
pub fn read_plan_csv(input: impl Read) -> Result<Vec<PlanRow>, PlanFileError> {
    let mut r = csv::ReaderBuilder::new().from_reader(input);
    check_plan_header(&mut r)?;
    let mut rows = Vec::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for record in r.records() {
        let record = record.map_err(|source| PlanFileError::Row {
            line: source.position().map_or(0, |p| p.line()),
            source,
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let Some(row) = plan_row(&record, line)? else {
            continue;
        };
        if let Some(first) = first_line.insert(row.id.clone(), line) {
            let id = &row.id;
            return Err(PlanFileError::Invalid {
                line,
                problem: format!(
                    "course {id} is listed again (first on line {first}); list each course once"
                ),
            });
        }
        rows.push(row);
    }
    Ok(rows)
}

/// The plan's header must be [`PLAN_COLUMNS`] (a UTF-8 BOM and spaces aside).
fn check_plan_header<R: Read>(r: &mut csv::Reader<R>) -> Result<(), PlanFileError> {
    let header = r
        .headers()
        .map_err(|source| PlanFileError::Row { line: 1, source })?;
    if header.is_empty() {
        return Err(PlanFileError::Empty);
    }
    let names: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if i == 0 {
                h.trim_start_matches('\u{feff}')
            } else {
                h
            }
        })
        .map(str::trim)
        .collect();
    if names != PLAN_COLUMNS {
        return Err(PlanFileError::Header {
            found: names.join(","),
        });
    }
    Ok(())
}

/// One row of the plan, on `line`; `None` for a blank row.
fn plan_row(record: &csv::StringRecord, line: u64) -> Result<Option<PlanRow>, PlanFileError> {
    let invalid = |problem: String| PlanFileError::Invalid { line, problem };
    if record.iter().all(|f| f.trim().is_empty()) {
        return Ok(None);
    }
    let field = |i: usize| record.get(i).unwrap_or_default().trim().to_string();
    let id = field(0);
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!(
            "id {id:?} is not an Alma course id (digits only); a spreadsheet may have \
             turned it into a number such as 6.1E+12: write the plan again, or open it \
             with the id column as text"
        )));
    }
    let code = csv_safe::restore(&field(1)).to_string();
    if code.is_empty() {
        return Err(invalid(format!("course {id} has no code")));
    }
    let reading_lists = field(3).parse::<u64>().map_err(|_| {
        invalid(format!(
            "reading_lists {:?} of course {id} is not a count",
            field(3)
        ))
    })?;
    let action = match field(4).to_ascii_lowercase().as_str() {
        "delete" => Action::Delete,
        "keep" => Action::Keep,
        other => {
            return Err(invalid(format!(
                "action {other:?} of course {id} is neither delete nor keep"
            )))
        }
    };
    Ok(Some(PlanRow {
        id,
        code,
        section: csv_safe::restore(&field(2)).to_string(),
        reading_lists,
        action,
    }))
}

/// Why a planned course was left alone when its turn came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Alma no longer has a course with that id.
    Gone,
    /// The id now belongs to a course with another code.
    OtherCode { alma_code: String },
    /// It gained reading lists since the plan was made.
    HasReadingLists(u64),
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Gone => f.write_str("Alma no longer has it"),
            Skip::OtherCode { alma_code } => {
                write!(f, "in Alma that id is course {alma_code}, not the plan's")
            }
            Skip::HasReadingLists(n) => write!(
                f,
                "it now has {n} reading list{}",
                if *n == 1 { "" } else { "s" }
            ),
        }
    }
}

/// The course whose check stopped [`execute`], and why.
#[derive(Debug)]
pub struct Stop {
    pub row: PlanRow,
    pub error: AlmaError,
}

/// What [`execute`] did, in the plan's order.
#[derive(Debug, Default)]
pub struct DeleteReport {
    pub deleted: Vec<PlanRow>,
    pub skipped: Vec<(PlanRow, Skip)>,
    /// Each course whose delete Alma refused, with Alma's reason.
    pub failed: Vec<(PlanRow, AlmaError)>,
    /// Set when a check could not be made or read: nothing after it was touched.
    pub stopped: Option<Stop>,
    /// The plan's courses not reached because of the stop.
    pub not_reached: Vec<PlanRow>,
}

/// The last look before one delete: the course still exists under the plan's code and
/// has no reading lists. An error means its state is unknown.
async fn recheck(client: &AlmaClient, row: &PlanRow) -> Result<Option<Skip>, AlmaError> {
    let course = match client.course(&row.id).await {
        Ok(course) => course,
        Err(e) => return gone_or(client, row, e).await,
    };
    if course.code.trim() != row.code.trim() {
        return Ok(Some(Skip::OtherCode {
            alma_code: course.code,
        }));
    }
    match client.reading_list_count(&row.id).await {
        Ok(0) => Ok(None),
        Ok(n) => Ok(Some(Skip::HasReadingLists(n))),
        // Perhaps deleted between the two calls.
        Err(e) => gone_or(client, row, e).await,
    }
}

/// [`Skip::Gone`] when `e`, the answer on the course's own path, is Alma no longer holding
/// it (see [`AlmaClient::confirms_gone`]); else `e`.
async fn gone_or(
    client: &AlmaClient,
    row: &PlanRow,
    e: AlmaError,
) -> Result<Option<Skip>, AlmaError> {
    if client.confirms_gone(&e, &row.id, &row.code).await? {
        Ok(Some(Skip::Gone))
    } else {
        Err(e)
    }
}

/// Deletes the reviewed plan's `delete` rows (never one it lists with reading lists), one
/// course at a time. Right before each delete it re-checks the course ([`recheck`]): one
/// that is gone, has another code or gained lists is skipped. A check that fails or cannot
/// be read (e.g. `AlmaInvalidResponse`) stops the run there: nothing after it is touched.
/// A delete Alma refuses is reported and the run goes on.
pub async fn execute(client: &AlmaClient, rows: &[PlanRow]) -> DeleteReport {
    let mut report = DeleteReport::default();
    let mut planned = rows.iter().filter(|r| r.deletable());
    let phase = Tracked::start(
        client.progress(),
        Phase::Deletions,
        planned.clone().count() as u64,
    );
    for row in planned.by_ref() {
        match recheck(client, row).await {
            Ok(Some(skip)) => {
                tracing::info!(course_id = %row.id, code = %row.code, why = %skip, "skipped the course");
                report.skipped.push((row.clone(), skip));
                phase.advance();
                continue;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(course_id = %row.id, error = %error, "cannot re-check the course; stopping");
                report.stopped = Some(Stop {
                    row: row.clone(),
                    error,
                });
                break;
            }
        }
        match client.delete_course(&row.id).await {
            Ok(()) => {
                tracing::info!(course_id = %row.id, code = %row.code, section = %row.section, "deleted the course");
                report.deleted.push(row.clone());
            }
            Err(e) => {
                tracing::warn!(course_id = %row.id, error = %e, "could not delete the course");
                report.failed.push((row.clone(), e));
            }
        }
        phase.advance();
    }
    report.not_reached = planned.cloned().collect();
    if report.stopped.is_none() {
        phase.finish();
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alma::ValueDesc;

    fn course(id: &str, year: &str, terms: &[&str]) -> AlmaCourseRecord {
        AlmaCourseRecord {
            id: id.into(),
            code: format!("C{id}"),
            section: "1".into(),
            year: year.into(),
            term: terms
                .iter()
                .map(|t| ValueDesc {
                    value: t.to_string(),
                    desc: String::new(),
                })
                .collect(),
            ..AlmaCourseRecord::default()
        }
    }

    #[test]
    fn only_exact_year_and_one_matching_term_are_kept() {
        assert!(in_year_and_term(
            &course("1", "2026", &["SPRING"]),
            "2026",
            "SPRING"
        ));
        assert!(in_year_and_term(
            &course("2", "2026", &["FALL", "spring"]),
            "2026",
            "SPRING"
        ));
        assert!(!in_year_and_term(
            &course("3", "20261", &["SPRING"]),
            "2026",
            "SPRING"
        ));
        assert!(!in_year_and_term(
            &course("4", "2026", &["FALL"]),
            "2026",
            "SPRING"
        ));
        assert!(!in_year_and_term(
            &course("5", "2026", &[]),
            "2026",
            "SPRING"
        ));
    }

    #[test]
    fn a_course_with_reading_lists_is_kept_and_never_deletable() {
        let keep = PlanRow::new(&course("1", "2026", &["SPRING"]), 2);
        assert_eq!(keep.action, Action::Keep);
        assert!(!keep.deletable());
        let go = PlanRow::new(&course("2", "2026", &["SPRING"]), 0);
        assert_eq!(go.action, Action::Delete);
        assert!(go.deletable());
        // A hand-edited row saying delete with lists still is not deletable.
        let forced = PlanRow {
            action: Action::Delete,
            ..keep
        };
        assert!(!forced.deletable());
    }

    fn read(text: &str) -> Result<Vec<PlanRow>, PlanFileError> {
        read_plan_csv(text.as_bytes())
    }

    #[test]
    fn a_written_plan_reads_back_as_it_was() {
        let mut formula = PlanRow::new(&course("3", "2026", &["SPRING"]), 0);
        formula.code = "=HYPERLINK(\"http://x.example\",\"x\")".into();
        formula.section = "-1".into();
        let rows = vec![
            PlanRow::new(&course("1", "2026", &["SPRING"]), 0),
            PlanRow::new(&course("2", "2026", &["SPRING"]), 3),
            formula,
        ];
        let mut out = Vec::new();
        write_plan_csv(&rows, &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.contains("3,\"'=HYPERLINK(\"\"http://x.example\"\",\"\"x\"\")\",'-1,0,delete"),
            "a spreadsheet would run the code: {text}"
        );
        assert_eq!(read_plan_csv(out.as_slice()).unwrap(), rows);
        let mut empty = Vec::new();
        write_plan_csv(&[], &mut empty).unwrap();
        assert!(read_plan_csv(empty.as_slice()).unwrap().is_empty());
    }

    #[test]
    fn a_plan_saved_by_a_spreadsheet_is_read() {
        let rows = read(
            "\u{feff}id,code,section,reading_lists,action\r\n61,C61,1,0,DELETE\r\n,,,,\r\n62,C62,1,0,keep\r\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].id.as_str(), rows[0].action),
            ("61", Action::Delete)
        );
        assert!(rows[0].deletable() && !rows[1].deletable());
    }

    #[test]
    fn a_plan_that_is_not_understood_is_an_error_naming_its_line() {
        let header = "id,code,section,reading_lists,action\n";
        for (text, want) in [
            ("", "the plan is empty"),
            ("code,id\n1,C\n", "the plan's header is \"code,id\""),
            (
                "id,code,section,reading_lists,action,extra\n",
                "the plan's header is",
            ),
            (
                &format!("{header}6.1E+12,C1,1,0,delete\n"),
                "line 2 of the plan: id \"6.1E+12\"",
            ),
            (
                &format!("{header}61,,1,0,delete\n"),
                "line 2 of the plan: course 61 has no code",
            ),
            (
                &format!("{header}61,C1,1,none,delete\n"),
                "reading_lists \"none\" of course 61",
            ),
            (
                &format!("{header}61,C1,1,0,maybe\n"),
                "action \"maybe\" of course 61",
            ),
            (
                &format!("{header}61,C1,1,0\n"),
                "line 2 of the plan cannot be read",
            ),
            (
                &format!("{header}61,C1,1,0,delete\n62,C2,1,0,keep\n61,C1,1,0,delete\n"),
                "line 4 of the plan: course 61 is listed again (first on line 2)",
            ),
        ] {
            let e = read(text).unwrap_err();
            assert!(e.to_string().contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn skips_say_why_in_words() {
        assert_eq!(Skip::Gone.to_string(), "Alma no longer has it");
        assert_eq!(
            Skip::HasReadingLists(1).to_string(),
            "it now has 1 reading list"
        );
        assert_eq!(
            Skip::HasReadingLists(2).to_string(),
            "it now has 2 reading lists"
        );
        let other = Skip::OtherCode {
            alma_code: "C9".into(),
        };
        assert_eq!(
            other.to_string(),
            "in Alma that id is course C9, not the plan's"
        );
    }

    #[test]
    fn plan_file_has_the_header_and_one_row_per_course() {
        let rows = [
            PlanRow::new(&course("1", "2026", &["SPRING"]), 0),
            PlanRow::new(&course("2", "2026", &["SPRING"]), 1),
        ];
        let mut out = Vec::new();
        write_plan_csv(&rows, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,code,section,reading_lists,action\n1,C1,1,0,delete\n2,C2,1,1,keep\n"
        );
        let mut empty = Vec::new();
        write_plan_csv(&[], &mut empty).unwrap();
        assert_eq!(
            String::from_utf8(empty).unwrap(),
            "id,code,section,reading_lists,action\n"
        );
    }
}
