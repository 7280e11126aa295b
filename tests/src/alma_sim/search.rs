//! The course search `q` language: `field~value` clauses joined by ` AND `.
//!
//! `~` is Alma's word/prefix match: both sides are split into words on any
//! non-alphanumeric character, case-folded, and every query word must be the prefix of
//! some word of the field (so `code~2018Fall-X-SDO598-92898` also finds
//! `2018Fall-X-SDO598-92898-3964`, and `code~SDO598` finds it too). With
//! `exact_search=true` the field's words must equal the query's words, which still
//! ignores case and punctuation: callers compare client-side as they would with Alma.

use super::model::SimCourse;

/// Fields `q` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Code,
    Section,
    Name,
    SearchableIds,
    Year,
    Instructors,
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub field: Field,
    pub words: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("clause {0:?} is not of the form field~value")]
    NoTilde(String),
    #[error("unknown search field {0:?}")]
    UnknownField(String),
}

/// Parses `q`; an empty or absent `q` matches every course.
pub fn parse(q: &str) -> Result<Vec<Clause>, QueryError> {
    if q.trim().is_empty() {
        return Ok(Vec::new());
    }
    q.split(" AND ")
        .map(|clause| {
            let clause = clause.trim();
            let (name, value) = clause
                .split_once('~')
                .ok_or_else(|| QueryError::NoTilde(clause.to_string()))?;
            let field = match name.trim().to_ascii_lowercase().as_str() {
                "code" => Field::Code,
                "section" => Field::Section,
                "name" => Field::Name,
                "searchable_ids" | "searchable_id" => Field::SearchableIds,
                "year" => Field::Year,
                "instructors" | "instructor" => Field::Instructors,
                "all" => Field::All,
                other => return Err(QueryError::UnknownField(other.to_string())),
            };
            Ok(Clause {
                field,
                words: words(value),
            })
        })
        .collect()
}

/// Splits into case-folded alphanumeric words.
pub fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

fn value_matches(value: &str, query: &[String], exact: bool) -> bool {
    let have = words(value);
    if exact {
        return have == query;
    }
    query
        .iter()
        .all(|q| have.iter().any(|w| w.starts_with(q.as_str())))
}

fn field_values(course: &SimCourse, field: Field) -> Vec<&str> {
    match field {
        Field::Code => vec![&course.code],
        Field::Section => vec![&course.section],
        Field::Name => vec![&course.name],
        Field::Year => vec![&course.year],
        Field::SearchableIds => course.searchable_ids.iter().map(String::as_str).collect(),
        Field::Instructors => course.instructors.iter().map(String::as_str).collect(),
        Field::All => {
            let mut v: Vec<&str> = vec![&course.code, &course.section, &course.name, &course.year];
            v.extend(course.searchable_ids.iter().map(String::as_str));
            v.extend(course.instructors.iter().map(String::as_str));
            v
        }
    }
}

/// Whether a course satisfies every clause.
pub fn matches(course: &SimCourse, clauses: &[Clause], exact: bool) -> bool {
    clauses.iter().all(|clause| {
        if clause.words.is_empty() {
            // `code~` with nothing after it constrains nothing.
            return true;
        }
        let values = field_values(course, clause.field);
        if clause.field == Field::All && !exact {
            // Words may come from different fields of the course.
            let all: Vec<String> = values.iter().flat_map(|v| words(v)).collect();
            return clause
                .words
                .iter()
                .all(|q| all.iter().any(|w| w.starts_with(q.as_str())));
        }
        values
            .iter()
            .any(|v| value_matches(v, &clause.words, exact))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course(code: &str) -> SimCourse {
        SimCourse {
            id: "1".into(),
            code: code.into(),
            name: "ENG 101 Intro Writing".into(),
            section: "12345".into(),
            year: "2026".into(),
            searchable_ids: vec!["ENG 101".into(), "12345".into()],
            instructors: vec!["ab12".into()],
            academic_department: None,
            processing_department: None,
            terms: vec![],
            start_date: None,
            end_date: None,
            participants: None,
            weekly_hours: None,
            submit_lists_by: None,
            campus_participants: None,
            reading_lists: vec![],
        }
    }

    #[test]
    fn tilde_is_a_prefix_match_on_words() {
        let c = course("2018Fall-X-SDO598-92898-3964");
        let q = parse("code~2018Fall-X-SDO598-92898").unwrap();
        assert!(matches(&c, &q, false));
        assert!(!matches(&c, &q, true));
        assert!(matches(&c, &parse("code~SDO5").unwrap(), false));
        assert!(!matches(&c, &parse("code~SDO7").unwrap(), false));
    }

    #[test]
    fn exact_search_ignores_case_and_punctuation() {
        let c = course("2026Fall-X-ENG101-12345");
        assert!(matches(
            &c,
            &parse("code~2026fall x eng101 12345").unwrap(),
            true
        ));
    }

    #[test]
    fn clauses_joined_by_and_must_all_hold() {
        let c = course("2026Fall-X-ENG101-12345");
        assert!(matches(
            &c,
            &parse("year~2026 AND instructors~ab12").unwrap(),
            false
        ));
        assert!(!matches(
            &c,
            &parse("year~2026 AND instructors~zz99").unwrap(),
            false
        ));
    }

    #[test]
    fn unknown_fields_and_missing_tilde_are_errors() {
        assert_eq!(
            parse("colour~red"),
            Err(QueryError::UnknownField("colour".into()))
        );
        assert!(matches!(parse("code=1"), Err(QueryError::NoTilde(_))));
    }
}
