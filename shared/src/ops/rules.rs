//! The stack's institution rules as data (`config/rules.toml` in its bucket, versioned):
//! push a checked file, and compare what two sets of rules make of one export, for
//! `leganto rules check|push|show`. The rules in force are [`in_force`].

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Seek};

use crate::domain::loader::LOADER_COLUMNS;
use crate::domain::run::{transform_only, write_course_rows};
use crate::domain::{DeleteGuard, RowReject, Rules, RunError};
use crate::run::receipt::sha256_hex;
pub use crate::run::rules::{in_force, RulesOrigin, RulesText, RulesVersion, RULES_KEY};
use crate::run::rules::{version_of, RulesLoadError};
use crate::store::{content_type, Store};

use super::OpsError;

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// Written as a new version; `replaced` was in force before (the shipped rules when the
    /// bucket had none).
    New {
        version: RulesVersion,
        replaced: RulesVersion,
    },
    /// The text is the one in force already: nothing written, no new version.
    Unchanged(RulesVersion),
}

/// Checks `text` (errors name `origin`, the file) and writes it as `config/rules.toml`,
/// only over the version read just before: a push that meets another one is refused
/// rather than silently overwriting it.
pub async fn push(store: &Store, text: &str, origin: &str) -> Result<Pushed, OpsError> {
    Rules::from_toml(text, origin).map_err(OpsError::RulesInvalid)?;
    let sha256 = sha256_hex(text.as_bytes());
    // The object as it is, even if it is not valid rules: a push is how it is mended.
    let current = store.get_with_version(RULES_KEY).await?;
    let replaced = match &current {
        Some(object) => version_of(object),
        None => RulesText::shipped().version,
    };
    if current.is_some() && replaced.sha256 == sha256 {
        return Ok(Pushed::Unchanged(replaced));
    }
    let etag = current.as_ref().map(|o| o.etag.as_str());
    let written = store
        .put_version_if(RULES_KEY, etag, text.to_owned(), content_type::TOML)
        .await?;
    let Some(version_id) = written else {
        return Err(OpsError::RulesChanged {
            bucket: store.bucket().to_string(),
        });
    };
    let version = RulesVersion {
        origin: RulesOrigin::S3,
        location: Some(RULES_KEY.to_string()),
        version_id,
        sha256,
    };
    Ok(Pushed::New { version, replaced })
}

/// The rules in force and their text, for `rules show` and `rules check`.
pub async fn current(store: &Store) -> Result<RulesText, OpsError> {
    in_force(store).await.map_err(|e| match e {
        RulesLoadError::Store(e) => OpsError::Store(e),
        RulesLoadError::Rules(e) => OpsError::RulesInvalid(e),
    })
}

/// How many rows went from one value to another: (before, after) → rows.
pub type Moves = BTreeMap<(String, String), u64>;

/// What one set of rules makes of an export, and what another makes of it. Rows are the
/// day's course rows (every course, DELETE rows included, as a full file and the baseline
/// hold them), so the comparison needs no Alma.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesDiff {
    pub rows_before: u64,
    pub rows_after: u64,
    pub added: u64,
    pub removed: u64,
    /// Rows in both whose text differs.
    pub changed: u64,
    /// Processing department, rows in both.
    pub departments: Moves,
    /// Term1, rows in both ("" for none).
    pub terms: Moves,
    pub rejects_before: u64,
    pub rejects_after: u64,
    /// `column: reason` → (before, after), where the counts differ.
    pub reject_reasons: BTreeMap<String, (u64, u64)>,
    pub warnings_before: u64,
    pub warnings_after: u64,
    /// Why the rules in force cannot read this export at all (another export's shape, as
    /// on a library's first push of its own `[export]` table): the figures "before" are
    /// then zero and every row counts as added.
    pub unreadable_before: Option<String>,
}

impl RulesDiff {
    /// Nothing any reader of the day would see differs.
    pub fn is_empty(&self) -> bool {
        self.added == 0
            && self.removed == 0
            && self.changed == 0
            && self.rejects_before == self.rejects_after
            && self.reject_reasons.is_empty()
            && self.warnings_before == self.warnings_after
    }
}

/// What `before` and `after` each make of `export`, compared.
pub fn compare<R: Read + Seek>(
    export: &mut R,
    before: &Rules,
    after: &Rules,
) -> Result<RulesDiff, RunError> {
    // The new file must read the export; the rules in force may not (another shape).
    let new = Outcome::of(export, after)?;
    let (old, unreadable_before) = match Outcome::of(export, before) {
        Ok(old) => (old, None),
        Err(e) => (Outcome::default(), Some(e.to_string())),
    };
    let mut diff = RulesDiff {
        unreadable_before,
        rows_before: old.rows.len() as u64,
        rows_after: new.rows.len() as u64,
        rejects_before: old.rejects.len() as u64,
        rejects_after: new.rejects.len() as u64,
        reject_reasons: reason_counts(&old.rejects, &new.rejects),
        warnings_before: old.warnings,
        warnings_after: new.warnings,
        ..RulesDiff::default()
    };
    for (key, was) in &old.rows {
        let Some(is) = new.rows.get(key) else {
            diff.removed += 1;
            continue;
        };
        if was.digest != is.digest {
            diff.changed += 1;
        }
        count_move(&mut diff.departments, &was.department, &is.department);
        count_move(&mut diff.terms, &was.term, &is.term);
    }
    diff.added = new
        .rows
        .keys()
        .filter(|k| !old.rows.contains_key(*k))
        .count() as u64;
    Ok(diff)
}

fn count_move(moves: &mut Moves, was: &str, is: &str) {
    if was != is {
        *moves.entry((was.to_string(), is.to_string())).or_default() += 1;
    }
}

/// One course row as the comparison needs it: a digest of its text rather than the text,
/// so a large export's two outcomes stay small.
#[derive(Debug)]
struct RowFacts {
    department: String,
    term: String,
    digest: u64,
}

/// What one set of rules made of the export: course rows by (course code, section).
#[derive(Default)]
struct Outcome {
    rows: HashMap<(String, String), RowFacts>,
    rejects: Vec<RowReject>,
    warnings: u64,
}

impl Outcome {
    fn of<R: Read + Seek>(export: &mut R, rules: &Rules) -> Result<Outcome, RunError> {
        let mut text = Vec::new();
        write_course_rows(export, rules, &mut text)?;
        // The rejects and warnings as the day's transform counts them; its file is not needed.
        let summary = transform_only(export, rules, DeleteGuard::Offline, None, std::io::sink())?;
        Ok(Outcome {
            rows: course_rows(&String::from_utf8_lossy(&text)),
            rejects: summary.rejects,
            warnings: summary.warnings.len() as u64,
        })
    }
}

fn column(name: &str) -> usize {
    LOADER_COLUMNS.iter().position(|c| *c == name).unwrap_or(0)
}

/// The loader rows of `text` (its header skipped) by course code and section.
fn course_rows(text: &str) -> HashMap<(String, String), RowFacts> {
    let (code, section) = (column("Course Code"), column("Section ID"));
    let (department, term) = (column("Processing Department"), column("Term1"));
    let field = |fields: &[&str], i: usize| fields.get(i).copied().unwrap_or("").to_string();
    text.split("\r\n")
        .skip(1)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let mut hasher = DefaultHasher::new();
            line.hash(&mut hasher);
            let facts = RowFacts {
                department: field(&fields, department),
                term: field(&fields, term),
                digest: hasher.finish(),
            };
            ((field(&fields, code), field(&fields, section)), facts)
        })
        .collect()
}

/// Rejects by `column: reason`, where the two outcomes' counts differ.
fn reason_counts(before: &[RowReject], after: &[RowReject]) -> BTreeMap<String, (u64, u64)> {
    let reason = |r: &RowReject| match r.column {
        Some(column) => format!("{column}: {}", r.reason),
        None => r.reason.clone(),
    };
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in before {
        counts.entry(reason(r)).or_default().0 += 1;
    }
    for r in after {
        counts.entry(reason(r)).or_default().1 += 1;
    }
    counts.retain(|_, (b, a)| b != a);
    counts
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::domain::rules::ASU_RULES_TOML;

    const EXPORT: &str = "\
MYASU_COURSE_IDSTRING,COURSE_STATUS,COURSE_NAME,SLN,ASURITEID,COLLEGE_OR_DIVISION_CODE,CAMPUS,COURSE_ID,TERM,YEAR,START_SYNC_DATE,END_SYNC_DATE,COPY_COURSE_SLN,COPY_COURSE_SEMESTER_YEAR,COPY_COURSE_ID,COPY_COURSE_SEMESTER_TERM
2027Spring-T-NUR101-11111,APPROVED,Nursing,11111,jdoe,NH,TEMPE,000001,1,2027,2027-01-12 00:00:00,2027-05-01 00:00:00,,,,
2027Spring-T-ENG101-22222,APPROVED,English,22222,asmith,LA,TEMPE,000002,1,2027,2027-01-12 00:00:00,2027-05-01 00:00:00,,,,
2027SpringB-T-HIS101-33333,APPROVED,History,33333,bjones,LA,TEMPE,000003,1,2027,2027-03-01 00:00:00,2027-05-01 00:00:00,,,,
2027Spring-T-BIO101-44444,APPROVED,Biology,44444,cwu,NH,TEMPE,000004,,2027,2027-01-12 00:00:00,2027-05-01 00:00:00,,,,
";

    fn asu() -> Rules {
        Rules::asu().unwrap()
    }

    fn rules_with(from: &str, to: &str) -> Rules {
        let text = ASU_RULES_TOML.replacen(from, to, 1);
        assert_ne!(text, ASU_RULES_TOML, "{from:?} is not in the shipped rules");
        Rules::from_toml(&text, "test").unwrap()
    }

    #[test]
    fn the_same_rules_change_nothing() {
        let diff = compare(&mut Cursor::new(EXPORT), &asu(), &asu()).unwrap();
        assert!(diff.is_empty(), "{diff:?}");
        assert_eq!((diff.rows_before, diff.rows_after), (3, 3));
        assert_eq!((diff.rejects_before, diff.rejects_after), (1, 1));
    }

    #[test]
    fn another_department_shows_as_changed_rows_moving_from_one_department_to_the_other() {
        let noble = rules_with("\"NOBLE\"", "\"NURSING\"");
        let diff = compare(&mut Cursor::new(EXPORT), &asu(), &noble).unwrap();
        assert_eq!((diff.added, diff.removed, diff.changed), (0, 0, 1));
        assert_eq!(
            diff.departments,
            Moves::from([(("NOBLE".into(), "NURSING".into()), 1)])
        );
        assert!(diff.terms.is_empty());
        assert!(!diff.is_empty());
    }

    #[test]
    fn another_term_name_shows_as_rows_moving_between_terms() {
        let terms = rules_with("\"TERM5\"", "\"SESSION_B\"");
        let diff = compare(&mut Cursor::new(EXPORT), &asu(), &terms).unwrap();
        assert_eq!(
            diff.terms,
            Moves::from([(("TERM5".into(), "SESSION_B".into()), 1)])
        );
        assert_eq!(diff.changed, 1);
    }

    #[test]
    fn reject_reasons_are_counted_where_the_counts_differ() {
        let a = RowReject {
            line: 2,
            course_code: "X".into(),
            column: Some("TERM"),
            reason: "empty".into(),
        };
        let b = RowReject {
            column: None,
            reason: "too few columns".into(),
            ..a.clone()
        };
        let counts = reason_counts(&[a.clone(), b.clone()], &[a.clone(), a, b]);
        assert_eq!(counts, BTreeMap::from([("TERM: empty".into(), (1, 2))]));
    }
}
