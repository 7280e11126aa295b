//! Institution rules as data: processing departments, the term table, the date format and
//! rollover exclusions (spec §2 **[fix]**). ASU's rules ship embedded as the default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::format::{Item, StrftimeItems};

use super::fasthash::FastMap;
use serde::Deserialize;

/// The shipped default: Arizona State University's rules.
pub const ASU_RULES_TOML: &str = include_str!("../../rules/asu.toml");

/// Index of a department or term name in [`Rules::name`].
pub type NameId = u16;

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read rules file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("rules file {origin} is not valid TOML or lacks a setting: {source}")]
    Parse {
        origin: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("rules file {origin}: {problem}")]
    Invalid { origin: String, problem: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    date_format: String,
    #[serde(default = "default_time_zone")]
    time_zone: String,
    #[serde(default)]
    rollover_exclusions: Vec<String>,
    processing_departments: DepartmentsFile,
    terms: BTreeMap<String, BTreeMap<String, String>>,
}

fn default_time_zone() -> String {
    "America/Phoenix".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentsFile {
    unknown_campus: String,
    campus: Vec<CampusFile>,
    #[serde(default, rename = "override")]
    overrides: Vec<OverrideFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampusFile {
    campuses: Vec<String>,
    department: String,
    #[serde(default)]
    colleges: Vec<CollegeFile>,
    #[serde(default)]
    warn_on_fallback: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CollegeFile {
    codes: Vec<String>,
    department: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideFile {
    #[serde(default)]
    course_id_prefixes: Vec<String>,
    #[serde(default)]
    course_code_prefixes: Vec<String>,
    department: String,
}

#[derive(Debug)]
struct CampusRule {
    colleges: FastMap<Box<str>, NameId>,
    fallback: NameId,
    warn_on_fallback: bool,
}

#[derive(Debug)]
enum OverrideOn {
    CourseId,
    CourseCode,
}

#[derive(Debug)]
struct Override {
    on: OverrideOn,
    prefixes: Vec<Box<str>>,
    department: NameId,
}

/// How the processing department was decided, for warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepartmentNote {
    Ok,
    /// The campus is in no table: the unknown-campus department was used.
    UnknownCampus,
    /// The campus needs a college that is in none of its tables: the fallback was used.
    CollegeFallback,
}

/// Compiled institution rules.
#[derive(Debug)]
pub struct Rules {
    names: Vec<Box<str>>,
    campuses: FastMap<Box<str>, usize>,
    campus_rules: Vec<CampusRule>,
    unknown_campus: NameId,
    overrides: Vec<Override>,
    /// TERM → (ending, term name), longest ending first.
    terms: FastMap<Box<str>, Vec<(Box<str>, NameId)>>,
    date_items: Vec<Item<'static>>,
    time_zone: chrono_tz::Tz,
    rollover_exclusions: Vec<String>,
}

impl Rules {
    /// ASU's rules, embedded in the binary.
    pub fn asu() -> Result<Rules, RulesError> {
        Rules::from_toml(ASU_RULES_TOML, "(built-in ASU rules)")
    }

    /// Loads a rules file.
    pub fn load(path: &Path) -> Result<Rules, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
            path: path.to_owned(),
            source,
        })?;
        Rules::from_toml(&text, &path.display().to_string())
    }

    /// Parses and checks rules; `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Rules, RulesError> {
        let file: RulesFile = toml::from_str(text).map_err(|source| RulesError::Parse {
            origin: origin.to_owned(),
            source,
        })?;
        compile(file).map_err(|problem| RulesError::Invalid {
            origin: origin.to_owned(),
            problem,
        })
    }

    /// The name behind a [`NameId`].
    pub fn name(&self, id: NameId) -> &str {
        self.names.get(usize::from(id)).map_or("", |n| n)
    }

    /// Processing department from CAMPUS, college, COURSE_ID and course code (spec §2.3).
    pub fn processing_department(
        &self,
        campus: &str,
        college: &str,
        course_id: &str,
        course_code: &str,
    ) -> (NameId, DepartmentNote) {
        let (mut dept, note) = match self.campuses.get(campus) {
            None => (self.unknown_campus, DepartmentNote::UnknownCampus),
            Some(&i) => {
                let rule = &self.campus_rules[i];
                match rule.colleges.get(college) {
                    Some(&d) => (d, DepartmentNote::Ok),
                    None if rule.warn_on_fallback => {
                        (rule.fallback, DepartmentNote::CollegeFallback)
                    }
                    None => (rule.fallback, DepartmentNote::Ok),
                }
            }
        };
        for o in &self.overrides {
            let value = match o.on {
                OverrideOn::CourseId => course_id,
                OverrideOn::CourseCode => course_code,
            };
            if o.prefixes.iter().any(|p| value.starts_with(&**p)) {
                dept = o.department;
            }
        }
        (dept, note)
    }

    /// Term1 from TERM and the course code (spec §2.4); `None` when nothing matches.
    pub fn term(&self, term: &str, course_code: &str) -> Option<NameId> {
        let segment = course_code.split('-').next().unwrap_or("");
        self.terms
            .get(term)?
            .iter()
            .find(|(ending, _)| segment.ends_with(&**ending))
            .map(|&(_, id)| id)
    }

    /// Formats a date for the loader file.
    pub fn format_date(&self, date: chrono::NaiveDate) -> impl std::fmt::Display + '_ {
        date.format_with_items(self.date_items.iter())
    }

    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.time_zone
    }

    /// Whether a copy request (or the Alma course it matched) is excluded from rollovers.
    pub fn rollover_excluded(&self, copy_year_term: &str, matched_code: Option<&str>) -> bool {
        self.rollover_exclusions
            .iter()
            .any(|e| e == copy_year_term || matched_code.is_some_and(|c| c.starts_with(e.as_str())))
    }

    /// Whether any rollover exclusion is set (lets callers skip work).
    pub fn has_rollover_exclusions(&self) -> bool {
        !self.rollover_exclusions.is_empty()
    }
}

fn compile(file: RulesFile) -> Result<Rules, String> {
    let mut names: Vec<Box<str>> = Vec::new();
    let mut intern = |name: &str, what: &str| -> Result<NameId, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("{what} is empty"));
        }
        if let Some(i) = names.iter().position(|n| &**n == name) {
            return NameId::try_from(i).map_err(|_| "too many names".to_owned());
        }
        names.push(name.into());
        NameId::try_from(names.len() - 1).map_err(|_| "too many names".to_owned())
    };

    let deps = file.processing_departments;
    let unknown_campus = intern(
        &deps.unknown_campus,
        "processing_departments.unknown_campus",
    )?;
    if deps.campus.is_empty() {
        return Err("processing_departments has no [[processing_departments.campus]] rules".into());
    }
    let mut campuses = FastMap::default();
    let mut campus_rules = Vec::new();
    for (i, c) in deps.campus.iter().enumerate() {
        let what = format!("processing_departments.campus[{i}]");
        if c.campuses.is_empty() {
            return Err(format!("{what}.campuses is empty"));
        }
        let fallback = intern(&c.department, &format!("{what}.department"))?;
        let mut colleges = FastMap::default();
        for (j, col) in c.colleges.iter().enumerate() {
            let d = intern(&col.department, &format!("{what}.colleges[{j}].department"))?;
            for code in &col.codes {
                if colleges.insert(code.trim().into(), d).is_some() {
                    return Err(format!("{what}: college {code:?} is listed twice"));
                }
            }
        }
        for campus in &c.campuses {
            if campus.trim().is_empty() {
                return Err(format!("{what}.campuses has an empty campus"));
            }
            if campuses
                .insert(campus.trim().into(), campus_rules.len())
                .is_some()
            {
                return Err(format!(
                    "campus {campus:?} is listed in more than one campus rule"
                ));
            }
        }
        campus_rules.push(CampusRule {
            colleges,
            fallback,
            warn_on_fallback: c.warn_on_fallback,
        });
    }
    let mut overrides = Vec::new();
    for (i, o) in deps.overrides.iter().enumerate() {
        let what = format!("processing_departments.override[{i}]");
        let (on, prefixes) = match (
            o.course_id_prefixes.is_empty(),
            o.course_code_prefixes.is_empty(),
        ) {
            (false, true) => (OverrideOn::CourseId, &o.course_id_prefixes),
            (true, false) => (OverrideOn::CourseCode, &o.course_code_prefixes),
            _ => {
                return Err(format!(
                    "{what} needs exactly one of course_id_prefixes or course_code_prefixes"
                ))
            }
        };
        if prefixes.iter().any(|p| p.is_empty()) {
            return Err(format!("{what} has an empty prefix"));
        }
        let department = intern(&o.department, &format!("{what}.department"))?;
        overrides.push(Override {
            on,
            prefixes: prefixes.iter().map(|p| p.as_str().into()).collect(),
            department,
        });
    }

    if file.terms.is_empty() {
        return Err("[terms] is empty: no term table".into());
    }
    let mut terms = FastMap::default();
    for (term, endings) in &file.terms {
        if endings.is_empty() {
            return Err(format!("terms.{term} has no endings"));
        }
        let mut list = Vec::new();
        for (ending, name) in endings {
            if ending.is_empty() {
                return Err(format!("terms.{term} has an empty ending"));
            }
            list.push((
                ending.as_str().into(),
                intern(name, &format!("terms.{term}.{ending}"))?,
            ));
        }
        list.sort_by_key(|(e, _): &(Box<str>, NameId)| std::cmp::Reverse(e.len()));
        terms.insert(term.trim().into(), list);
    }

    let date_items = StrftimeItems::new(&file.date_format)
        .parse_to_owned()
        .map_err(|_| {
            format!(
                "date_format {:?} is not a valid strftime format",
                file.date_format
            )
        })?;
    if date_items.is_empty() {
        return Err("date_format is empty".into());
    }
    if file.rollover_exclusions.iter().any(|e| e.trim().is_empty()) {
        return Err("rollover_exclusions has an empty entry".into());
    }
    let time_zone = file.time_zone.parse::<chrono_tz::Tz>().map_err(|_| {
        format!(
            "time_zone {:?} is not an IANA time zone name",
            file.time_zone
        )
    })?;
    Ok(Rules {
        names,
        campuses,
        campus_rules,
        unknown_campus,
        overrides,
        terms,
        date_items,
        time_zone,
        rollover_exclusions: file.rollover_exclusions,
    })
}
