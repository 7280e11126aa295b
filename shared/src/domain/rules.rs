//! Institution rules as data: the processing-department rules, the term table, the date
//! format and the rollover exclusions, which the original tool hard-coded, and the export's
//! own shape (`[export]`, [`ExportProfile`]). ASU's rules ship embedded as the default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::format::{Item, StrftimeItems};

use rustc_hash::FxHashMap;
use serde::Deserialize;

use super::profile::{self, ExportFile, ExportProfile, ProfileProblem};

/// The shipped default: Arizona State University's rules.
pub const ASU_RULES_TOML: &str = include_str!("../../rules/asu.toml");

/// Index of a department or term name in [`Rules::name`].
pub type NameId = u16;

/// Why rules cannot be loaded.
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
    Invalid {
        origin: String,
        #[source]
        problem: RulesProblem,
    },
}

/// What is wrong with a rules file that parsed: each names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum RulesProblem {
    #[error("{setting} is empty")]
    EmptyName { setting: String },
    #[error("more than {} distinct department and term names", usize::from(NameId::MAX) + 1)]
    TooManyNames,
    #[error("processing_departments has no [[processing_departments.campus]] rules")]
    NoCampusRules,
    #[error("processing_departments.campus[{rule}].campuses is empty")]
    NoCampuses { rule: usize },
    #[error("processing_departments.campus[{rule}].campuses has an empty campus")]
    EmptyCampus { rule: usize },
    #[error(
        "campus {campus:?} is listed in more than one campus rule: \
         processing_departments.campus[{first}] and processing_departments.campus[{second}]"
    )]
    CampusInTwoRules {
        campus: String,
        first: usize,
        second: usize,
    },
    #[error("processing_departments.campus[{rule}]: college {college:?} is listed twice")]
    CollegeListedTwice { rule: usize, college: String },
    #[error(
        "processing_departments.override[{rule}] needs exactly one of course_id_prefixes or \
         course_code_prefixes"
    )]
    OverrideNeedsOnePrefixList { rule: usize },
    #[error("processing_departments.override[{rule}] has an empty prefix")]
    EmptyOverridePrefix { rule: usize },
    #[error("[terms] is empty: no term table")]
    NoTerms,
    #[error("terms.{term} has no endings")]
    TermWithoutEndings { term: String },
    #[error("date_format {format:?} is not a valid strftime format: {source}")]
    DateFormat {
        format: String,
        #[source]
        source: chrono::format::ParseError,
    },
    #[error("date_format is empty")]
    EmptyDateFormat,
    #[error("rollover_exclusions has an empty entry")]
    EmptyRolloverExclusion,
    /// The time zone is the deployment's (`TIME_ZONE`), which also times the schedule.
    #[error(
        "time_zone is not a rule: remove it and set TIME_ZONE (the stack's TimeZone \
         parameter, or --time-zone for the leganto command) instead"
    )]
    TimeZoneIsASetting,
    /// The `[export]` table: each names its key (`export.delimiter`, ...).
    #[error(transparent)]
    Export(#[from] ProfileProblem),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    date_format: String,
    /// Accepted only to say where it went (see [`RulesProblem::TimeZoneIsASetting`]).
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    rollover_exclusions: Vec<String>,
    processing_departments: DepartmentsFile,
    terms: BTreeMap<String, BTreeMap<String, String>>,
    /// The export's shape; absent, the CEM export's.
    #[serde(default)]
    export: ExportFile,
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
    colleges: FxHashMap<Box<str>, NameId>,
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

/// Term value → (ending, term name), longest ending first.
type TermTable = FxHashMap<Box<str>, Vec<(Box<str>, NameId)>>;

/// Compiled institution rules.
#[derive(Debug)]
pub struct Rules {
    names: Vec<Box<str>>,
    campuses: FxHashMap<Box<str>, usize>,
    campus_rules: Vec<CampusRule>,
    unknown_campus: NameId,
    overrides: Vec<Override>,
    terms: TermTable,
    date_items: Vec<Item<'static>>,
    rollover_exclusions: Vec<String>,
    export: ExportProfile,
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

    /// Processing department from the campus, college, course id and course code: the campus
    /// rule (by college where it has a table), then the overrides, later ones winning.
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

    /// How the export is written: its separator, dates, columns and status words.
    pub fn export(&self) -> &ExportProfile {
        &self.export
    }

    /// Term1 from the term column and the ending of the course code's first `-` segment,
    /// the longest ending winning (an ending of `""` matches every code, so it decides only
    /// when no other does); `None` when nothing matches.
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

/// Department and term names, each stored once and referred to by [`NameId`].
#[derive(Default)]
struct Names(Vec<Box<str>>);

impl Names {
    /// The id of `name` (trimmed); `setting` names where it came from if it is empty.
    fn intern(
        &mut self,
        name: &str,
        setting: impl FnOnce() -> String,
    ) -> Result<NameId, RulesProblem> {
        let name = name.trim();
        if name.is_empty() {
            return Err(RulesProblem::EmptyName { setting: setting() });
        }
        let i = match self.0.iter().position(|n| &**n == name) {
            Some(i) => i,
            None => {
                self.0.push(name.into());
                self.0.len() - 1
            }
        };
        NameId::try_from(i).map_err(|_| RulesProblem::TooManyNames)
    }
}

/// The processing-department rules: campus tables and the overrides applied after them.
struct Departments {
    campuses: FxHashMap<Box<str>, usize>,
    campus_rules: Vec<CampusRule>,
    unknown_campus: NameId,
    overrides: Vec<Override>,
}

fn compile(file: RulesFile) -> Result<Rules, RulesProblem> {
    let mut names = Names::default();
    let departments = compile_departments(&file.processing_departments, &mut names)?;
    let terms = compile_terms(&file.terms, &mut names)?;
    let date_items = compile_date_format(&file.date_format)?;
    if file.time_zone.is_some() {
        return Err(RulesProblem::TimeZoneIsASetting);
    }
    if file.rollover_exclusions.iter().any(|e| e.trim().is_empty()) {
        return Err(RulesProblem::EmptyRolloverExclusion);
    }
    let export = profile::compile(file.export)?;
    Ok(Rules {
        names: names.0,
        campuses: departments.campuses,
        campus_rules: departments.campus_rules,
        unknown_campus: departments.unknown_campus,
        overrides: departments.overrides,
        terms,
        date_items,
        rollover_exclusions: file.rollover_exclusions,
        export,
    })
}

/// The processing-department rules: campus rules first, then the overrides.
fn compile_departments(
    deps: &DepartmentsFile,
    names: &mut Names,
) -> Result<Departments, RulesProblem> {
    let unknown_campus = names.intern(&deps.unknown_campus, || {
        "processing_departments.unknown_campus".to_owned()
    })?;
    if deps.campus.is_empty() {
        return Err(RulesProblem::NoCampusRules);
    }
    let mut campuses = FxHashMap::default();
    let mut campus_rules = Vec::with_capacity(deps.campus.len());
    for (rule, c) in deps.campus.iter().enumerate() {
        if c.campuses.is_empty() {
            return Err(RulesProblem::NoCampuses { rule });
        }
        let compiled = compile_campus_rule(rule, c, names)?;
        for campus in &c.campuses {
            let campus = campus.trim();
            if campus.is_empty() {
                return Err(RulesProblem::EmptyCampus { rule });
            }
            if let Some(first) = campuses.insert(campus.into(), rule) {
                return Err(RulesProblem::CampusInTwoRules {
                    campus: campus.to_owned(),
                    first,
                    second: rule,
                });
            }
        }
        campus_rules.push(compiled);
    }
    let overrides = deps
        .overrides
        .iter()
        .enumerate()
        .map(|(rule, o)| compile_override(rule, o, names))
        .collect::<Result<_, _>>()?;
    Ok(Departments {
        campuses,
        campus_rules,
        unknown_campus,
        overrides,
    })
}

/// One campus rule: its college table and the fallback department.
fn compile_campus_rule(
    rule: usize,
    c: &CampusFile,
    names: &mut Names,
) -> Result<CampusRule, RulesProblem> {
    let setting = format!("processing_departments.campus[{rule}]");
    let fallback = names.intern(&c.department, || format!("{setting}.department"))?;
    let mut colleges = FxHashMap::default();
    for (j, col) in c.colleges.iter().enumerate() {
        let department = names.intern(&col.department, || {
            format!("{setting}.colleges[{j}].department")
        })?;
        for code in &col.codes {
            if colleges.insert(code.trim().into(), department).is_some() {
                return Err(RulesProblem::CollegeListedTwice {
                    rule,
                    college: code.clone(),
                });
            }
        }
    }
    Ok(CampusRule {
        colleges,
        fallback,
        warn_on_fallback: c.warn_on_fallback,
    })
}

/// One override: prefixes of either the course id or the course code, never both.
fn compile_override(
    rule: usize,
    o: &OverrideFile,
    names: &mut Names,
) -> Result<Override, RulesProblem> {
    let (on, prefixes) = match (
        o.course_id_prefixes.is_empty(),
        o.course_code_prefixes.is_empty(),
    ) {
        (false, true) => (OverrideOn::CourseId, &o.course_id_prefixes),
        (true, false) => (OverrideOn::CourseCode, &o.course_code_prefixes),
        _ => return Err(RulesProblem::OverrideNeedsOnePrefixList { rule }),
    };
    if prefixes.iter().any(|p| p.is_empty()) {
        return Err(RulesProblem::EmptyOverridePrefix { rule });
    }
    let department = names.intern(&o.department, || {
        format!("processing_departments.override[{rule}].department")
    })?;
    Ok(Override {
        on,
        prefixes: prefixes.iter().map(|p| p.as_str().into()).collect(),
        department,
    })
}

/// The term table: per term value, its code endings longest first, so the longest match
/// wins and an ending of `""` (codes without a session suffix) comes last.
fn compile_terms(
    table: &BTreeMap<String, BTreeMap<String, String>>,
    names: &mut Names,
) -> Result<TermTable, RulesProblem> {
    if table.is_empty() {
        return Err(RulesProblem::NoTerms);
    }
    let mut terms = FxHashMap::default();
    for (term, endings) in table {
        if endings.is_empty() {
            return Err(RulesProblem::TermWithoutEndings { term: term.clone() });
        }
        let mut list = Vec::with_capacity(endings.len());
        for (ending, name) in endings {
            let id = names.intern(name, || format!("terms.{term}.{ending}"))?;
            list.push((ending.as_str().into(), id));
        }
        list.sort_by_key(|(e, _): &(Box<str>, NameId)| std::cmp::Reverse(e.len()));
        terms.insert(term.trim().into(), list);
    }
    Ok(terms)
}

fn compile_date_format(format: &str) -> Result<Vec<Item<'static>>, RulesProblem> {
    let items = StrftimeItems::new(format)
        .parse_to_owned()
        .map_err(|source| RulesProblem::DateFormat {
            format: format.to_owned(),
            source,
        })?;
    if items.is_empty() {
        return Err(RulesProblem::EmptyDateFormat);
    }
    Ok(items)
}
