//! The delete-empty-courses tool: the courses of one year and term, each checked once for
//! reading lists; those without any are planned for deletion, the rest kept. Deleting is a
//! separate call, so a plan can be read before anything goes. A course with reading lists
//! is never deleted.

use std::collections::HashSet;
use std::io::Write;

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::alma::{AlmaClient, AlmaCourseRecord, AlmaError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

    /// The only rows [`delete`] touches.
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
    let (records, pages) = client
        .search_all_courses(&format!("year~{}", year.trim()))
        .await?;
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
    futures::stream::iter(courses)
        .map(|course| async move {
            let n = client.reading_list_count(&course.id).await?;
            Ok::<_, AlmaError>(PlanRow::new(course, n))
        })
        .buffered(client.max_concurrency())
        .try_collect()
        .await
}

/// Writes the plan as CSV: `id,code,section,reading_lists,action`.
pub fn write_plan_csv(rows: &[PlanRow], out: impl Write) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    for row in rows {
        w.serialize(row)?;
    }
    if rows.is_empty() {
        w.write_record(["id", "code", "section", "reading_lists", "action"])?;
    }
    w.flush()?;
    Ok(())
}

/// What [`delete`] did.
#[derive(Debug, Default)]
pub struct DeleteReport {
    pub deleted: Vec<PlanRow>,
    /// Each course that could not be deleted, with Alma's reason.
    pub failed: Vec<(PlanRow, AlmaError)>,
}

/// Deletes the plan's `delete` rows (never one with reading lists), concurrently within
/// the client's limits. One failure does not stop the others.
pub async fn delete(client: &AlmaClient, rows: &[PlanRow]) -> DeleteReport {
    let results: Vec<(PlanRow, Result<(), AlmaError>)> = futures::stream::iter(rows)
        .filter(|r| std::future::ready(r.deletable()))
        .map(|row| async move { (row.clone(), client.delete_course(&row.id).await) })
        .buffered(client.max_concurrency())
        .collect()
        .await;
    let mut report = DeleteReport::default();
    for (row, result) in results {
        match result {
            Ok(()) => {
                tracing::info!(course_id = %row.id, code = %row.code, section = %row.section, "deleted the course");
                report.deleted.push(row);
            }
            Err(e) => {
                tracing::warn!(course_id = %row.id, error = %e, "could not delete the course");
                report.failed.push((row, e));
            }
        }
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
