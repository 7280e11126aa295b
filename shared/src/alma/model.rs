//! Alma's JSON bodies as we read them: lenient (absent keys, one object where an array is
//! usual, numbers as strings) because Alma omits empty arrays and varies by version.

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::AlmaCourse;

/// What is wrong with a body Alma answered 2xx with.
#[derive(Debug, thiserror::Error)]
pub enum MalformedBody {
    /// Not JSON, or JSON without the fields and types the call returns.
    #[error("the JSON does not have the expected shape: {0}")]
    Shape(#[source] serde_json::Error),
    /// Nothing at all where the call always answers something.
    #[error("the body is empty")]
    Empty,
    /// A field the answer must carry is absent, e.g. a course's `id`.
    #[error("it has no {field}")]
    Missing { field: &'static str },
    /// A reading-list answer with neither `total_record_count` nor `reading_list`: it does
    /// not say whether the course has lists.
    #[error(
        "it has no total_record_count and no reading_list: it does not say whether the \
         course has reading lists"
    )]
    Unclear,
    /// A listing whose pages, each course once, do not add up to the total Alma gave: it
    /// changed while it was read (a course added or deleted between pages).
    #[error(
        "its pages list {listed} distinct courses, not the {total} its total_record_count \
         says: the listing changed while it was read"
    )]
    ListingMismatch { total: u64, listed: u64 },
    /// A listing whose later page gives another total than its first.
    #[error(
        "its first page's total_record_count is {first}, a later page's {later}: the \
         listing changed while it was read"
    )]
    TotalChanged { first: u64, later: u64 },
    /// A job instance's time that is not RFC 3339.
    #[error("{field} {value:?} is not an RFC 3339 time: {source}")]
    Time {
        field: &'static str,
        value: String,
        #[source]
        source: chrono::ParseError,
    },
}

/// Whether a listing read page by page holds together: every page gives the first page's
/// `total`, and the pages, each course once, list `listed` = `total` courses. Alma's
/// answers come in no promised order, and a course added or deleted between pages shifts
/// the later ones (a course seen twice, another never).
pub(crate) fn listing_holds(
    total: u64,
    page_totals: impl IntoIterator<Item = u64>,
    listed: u64,
) -> Result<(), MalformedBody> {
    if let Some(later) = page_totals.into_iter().find(|t| *t != total) {
        return Err(MalformedBody::TotalChanged {
            first: total,
            later,
        });
    }
    if listed != total {
        return Err(MalformedBody::ListingMismatch { total, listed });
    }
    Ok(())
}

/// `{value, desc}` pairs: terms, processing department, status, counter types.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueDesc {
    #[serde(default, deserialize_with = "lenient_string")]
    pub value: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub desc: String,
}

/// An instructor of a course.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instructor {
    #[serde(default, deserialize_with = "lenient_string")]
    pub primary_id: String,
}

/// A course as `GET /courses` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlmaCourseRecord {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub section: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub year: String,
    #[serde(default, deserialize_with = "one_or_many")]
    pub searchable_id: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub term: Vec<ValueDesc>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: String,
    #[serde(default)]
    pub processing_department: Option<ValueDesc>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub instructor: Vec<Instructor>,
    /// As Alma writes it, e.g. `2026-08-20Z`.
    #[serde(default)]
    pub start_date: Option<String>,
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
}

impl AlmaCourseRecord {
    /// The part of the course the domain rules use.
    pub fn to_course(&self) -> AlmaCourse {
        AlmaCourse {
            id: self.id.clone(),
            code: self.code.clone(),
            section: self.section.clone(),
            year: self.year.clone(),
            searchable_ids: self.searchable_id.clone(),
        }
    }
}

impl From<AlmaCourseRecord> for AlmaCourse {
    fn from(r: AlmaCourseRecord) -> Self {
        AlmaCourse {
            id: r.id,
            code: r.code,
            section: r.section,
            year: r.year,
            searchable_ids: r.searchable_id,
        }
    }
}

/// One page of `GET /courses`. `course` is absent in Alma's JSON when the page is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoursePage {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total_record_count: u64,
    #[serde(default, rename = "course", deserialize_with = "one_or_many")]
    pub courses: Vec<AlmaCourseRecord>,
}

/// `GET /courses/{id}/reading-lists`: only the count matters to us. How Alma answers for
/// a course without lists is in no schema found: a `total_record_count` of 0, or an
/// explicit empty `reading_list`, means none; an answer with neither says nothing.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReadingListsBody {
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub total_record_count: Option<u64>,
    /// `None` when absent (or null): the answer does not list the course's lists.
    #[serde(default, deserialize_with = "present_one_or_many")]
    pub reading_list: Option<Vec<Value>>,
}

/// What a reading-list answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadingListsAnswer {
    /// How many lists the course has.
    Count(u64),
    /// Neither a count nor a list (e.g. `{}`): nothing can be decided on it. Holds the
    /// body, for the log.
    Unclear(String),
}

impl ReadingListsBody {
    /// Reads an answer: an empty body or one that does not parse is malformed, never "no
    /// reading lists" (that would let a delete go out).
    pub fn parse(body: &[u8]) -> Result<ReadingListsBody, MalformedBody> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(MalformedBody::Empty);
        }
        serde_json::from_slice(body).map_err(MalformedBody::Shape)
    }

    /// The number of lists: with the count present, whichever of the count and the list
    /// says more; without it, the list's length; with neither, `None`.
    pub fn count(&self) -> Option<u64> {
        let listed = self.reading_list.as_ref().map(|l| l.len() as u64);
        match (self.total_record_count, listed) {
            (Some(total), listed) => Some(total.max(listed.unwrap_or(0))),
            (None, listed) => listed,
        }
    }
}

/// Reads a reading-list answer's body: its count, or [`ReadingListsAnswer::Unclear`] when it
/// says neither; an empty or unparseable body is malformed.
pub(crate) fn reading_lists_answer(body: &[u8]) -> Result<ReadingListsAnswer, MalformedBody> {
    let parsed = ReadingListsBody::parse(body)?;
    Ok(match parsed.count() {
        Some(n) => ReadingListsAnswer::Count(n),
        None => ReadingListsAnswer::Unclear(clip(body, 500)),
    })
}

/// The first `max` characters of a body, for a log line.
fn clip(body: &[u8], max: usize) -> String {
    String::from_utf8_lossy(body).chars().take(max).collect()
}

/// A configured Alma job, as `GET /conf/jobs` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: String,
    #[serde(default, rename = "type")]
    pub job_type: Option<ValueDesc>,
    #[serde(default)]
    pub link: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct JobsBody {
    #[serde(default, deserialize_with = "one_or_many")]
    pub job: Vec<JobSummary>,
}

/// Where a job run stands. Decided on Alma's `status`, never on `progress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    /// QUEUED, PENDING, INITIALIZING, RUNNING, FINALIZING — and any status Alma adds that we
    /// do not know, so a poller keeps waiting (up to its time limit) rather than moving on
    /// before the loader has finished.
    InProgress(String),
    /// COMPLETED_SUCCESS, COMPLETED_WARNING, COMPLETED_FAILED, COMPLETED_NO_BULKS, FAILED,
    /// SYSTEM_ABORTED, USER_ABORTED, MANUAL_HANDLING_REQUIRED, SKIPPED.
    Final(String),
}

const FINAL_STATUSES: [&str; 9] = [
    "COMPLETED_SUCCESS",
    "COMPLETED_WARNING",
    "COMPLETED_FAILED",
    "COMPLETED_NO_BULKS",
    "FAILED",
    "SYSTEM_ABORTED",
    "USER_ABORTED",
    "MANUAL_HANDLING_REQUIRED",
    "SKIPPED",
];

impl JobStatus {
    /// Classifies Alma's `status.value`.
    pub fn from_value(value: &str) -> JobStatus {
        let v = value.trim().to_ascii_uppercase();
        if FINAL_STATUSES.contains(&v.as_str()) {
            JobStatus::Final(v)
        } else {
            JobStatus::InProgress(v)
        }
    }

    /// Alma's status value, e.g. `COMPLETED_WARNING`.
    pub fn as_str(&self) -> &str {
        match self {
            JobStatus::InProgress(s) | JobStatus::Final(s) => s,
        }
    }

    /// The run has ended, whatever the outcome.
    pub fn is_done(&self) -> bool {
        matches!(self, JobStatus::Final(_))
    }

    /// The run ended and processed its input: COMPLETED_SUCCESS or COMPLETED_WARNING.
    /// (COMPLETED_NO_BULKS is not success for us: the file we pushed was not picked up.)
    pub fn is_success(&self) -> bool {
        matches!(self, JobStatus::Final(s) if s == "COMPLETED_SUCCESS" || s == "COMPLETED_WARNING")
    }

    /// COMPLETED_WARNING: some rows were in error (details only in Alma's UI).
    pub fn has_warnings(&self) -> bool {
        matches!(self, JobStatus::Final(s) if s == "COMPLETED_WARNING")
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobInstance {
    pub id: String,
    pub submit_time: Option<DateTime<Utc>>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub status: JobStatus,
    pub status_desc: String,
    /// Alma's `progress` percentage (a double: may be fractional); informative only.
    pub progress: f64,
    /// `(type value, type description, value)`, in Alma's order.
    pub counters: Vec<(String, String, u64)>,
    /// Alert descriptions (their value when there is no description).
    pub alerts: Vec<String>,
}

/// The raw JSON of a job instance, before classification. Ex Libris' description of the
/// conf API (`rest_job_instance`) puts `counter` and `alert` at the top level of the
/// instance in JSON; only the XML wraps them (`<counters><counter>`). The wrapped form is
/// read too, in case a gateway answers with it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct JobInstanceBody {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub submit_time: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub start_time: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub end_time: String,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub progress: f64,
    #[serde(default)]
    pub status: ValueDesc,
    #[serde(default, deserialize_with = "one_or_many")]
    pub counter: Vec<CounterBody>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub alert: Vec<ValueDesc>,
    /// The XML-like wrapped form, `counters: {counter: [...]}`.
    #[serde(default)]
    pub counters: CountersBody,
    /// The XML-like wrapped form, `alerts: {alert: [...]}`.
    #[serde(default)]
    pub alerts: AlertsBody,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CountersBody {
    #[serde(default, deserialize_with = "one_or_many")]
    pub counter: Vec<CounterBody>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CounterBody {
    #[serde(default, rename = "type")]
    pub counter_type: ValueDesc,
    /// A string in Alma's description; read as a count.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub value: u64,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AlertsBody {
    #[serde(default, deserialize_with = "one_or_many")]
    pub alert: Vec<ValueDesc>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct JobInstancesBody {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total_record_count: u64,
    #[serde(default, deserialize_with = "one_or_many")]
    pub job_instance: Vec<JobInstanceBody>,
}

impl JobInstanceBody {
    /// Classifies the status and parses the times; an unreadable time is an error.
    pub fn into_instance(self) -> Result<JobInstance, MalformedBody> {
        let counters = documented_or_wrapped(self.counter, self.counters.counter);
        let alerts = documented_or_wrapped(self.alert, self.alerts.alert);
        Ok(JobInstance {
            submit_time: parse_time("submit_time", &self.submit_time)?,
            start_time: parse_time("start_time", &self.start_time)?,
            end_time: parse_time("end_time", &self.end_time)?,
            status: JobStatus::from_value(&self.status.value),
            status_desc: self.status.desc,
            progress: self.progress,
            counters: counters
                .into_iter()
                .map(|c| (c.counter_type.value, c.counter_type.desc, c.value))
                .collect(),
            alerts: alerts
                .into_iter()
                .map(|a| if a.desc.is_empty() { a.value } else { a.desc })
                .collect(),
            id: self.id,
        })
    }
}

/// The documented top-level list, else the wrapped one.
fn documented_or_wrapped<T>(documented: Vec<T>, wrapped: Vec<T>) -> Vec<T> {
    if documented.is_empty() {
        wrapped
    } else {
        documented
    }
}

/// Alma's times: RFC 3339 (`2026-11-28T10:15:30.123Z`); blank means not yet. `field` names
/// the time in errors.
fn parse_time(field: &'static str, s: &str) -> Result<Option<DateTime<Utc>>, MalformedBody> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|source| MalformedBody::Time {
            field,
            value: s.to_owned(),
            source,
        })
}

/// A date as a query parameter such as `submit_date_from` takes it: `YYYY-MM-DD`, as Ex
/// Libris documents it (another form is error 402217, "Invalid date format").
pub(crate) fn query_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A JSON value or array of them; absent or null means empty.
fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(de::Error::custom))
            .collect(),
        one => serde_json::from_value(one)
            .map(|v| vec![v])
            .map_err(de::Error::custom),
    }
}

/// A string, a number or a bool as text; null means empty.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(de::Error::custom(format!("expected a string, got {other}"))),
    }
}

/// A number or a numeric string; null or blank means 0.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(0),
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| de::Error::custom(format!("expected a count, got {n}"))),
        Value::String(s) if s.trim().is_empty() => Ok(0),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| de::Error::custom(format!("expected a count, got {s:?}"))),
        other => Err(de::Error::custom(format!("expected a count, got {other}"))),
    }
}

/// [`one_or_many`] that tells an absent or null key (`None`) from an empty list.
fn present_one_or_many<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        other => one_or_many(other).map(Some).map_err(de::Error::custom),
    }
}

/// A number or a numeric string; null, blank or absent means not given.
fn lenient_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        other => lenient_u64(other).map(Some).map_err(de::Error::custom),
    }
}

/// A number or a numeric string, whole or not; null or blank means 0.
fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let n = match Value::deserialize(d)? {
        Value::Null => return Ok(0.0),
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s.trim().is_empty() => return Ok(0.0),
        Value::String(s) => s.trim().parse().ok(),
        other => return Err(de::Error::custom(format!("expected a number, got {other}"))),
    };
    n.filter(|n: &f64| n.is_finite())
        .ok_or_else(|| de::Error::custom("expected a finite number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_course_page_without_the_course_key_is_empty() {
        let p: CoursePage = serde_json::from_str(r#"{"total_record_count":0}"#).unwrap();
        assert_eq!(p, CoursePage::default());
    }

    #[test]
    fn course_records_tolerate_absent_single_and_null_fields() {
        let p: CoursePage = serde_json::from_str(
            r#"{"total_record_count":"2","course":[
              {"id":"61","code":"2026Fall-X-ENG101-1","section":"1","year":2026,
               "searchable_id":"ENG 101","term":{"value":"FALL"},
               "processing_department":{"value":"MAIN","desc":"Main"},
               "instructor":[{"primary_id":"ab1"}],"start_date":"2026-08-20Z","status":"ACTIVE"},
              {"id":"62","code":"C","name":null,"section":"2","year":"2026"}]}"#,
        )
        .unwrap();
        assert_eq!(p.total_record_count, 2);
        let a = &p.courses[0];
        assert_eq!(a.year, "2026");
        assert_eq!(a.searchable_id, vec!["ENG 101"]);
        assert_eq!(a.term[0].value, "FALL");
        assert_eq!(a.processing_department.as_ref().unwrap().desc, "Main");
        assert_eq!(a.instructor[0].primary_id, "ab1");
        let b = &p.courses[1];
        assert!(b.searchable_id.is_empty() && b.name.is_empty() && b.term.is_empty());
        assert_eq!(
            b.to_course(),
            AlmaCourse {
                id: "62".into(),
                code: "C".into(),
                section: "2".into(),
                year: "2026".into(),
                searchable_ids: vec![],
            }
        );
    }

    fn count_of(body: &str) -> Result<Option<u64>, MalformedBody> {
        Ok(ReadingListsBody::parse(body.as_bytes())?.count())
    }

    #[test]
    fn reading_list_count_is_the_total_or_the_longer_list() {
        assert_eq!(count_of(r#"{"total_record_count":0}"#).unwrap(), Some(0));
        assert_eq!(count_of(r#"{"total_record_count":"2"}"#).unwrap(), Some(2));
        assert_eq!(
            count_of(
                r#"{"total_record_count":3,"reading_list":[{"id":"1"},{"id":"2"},{"id":"3"}]}"#
            )
            .unwrap(),
            Some(3)
        );
        // A count lower than the list it came with: the list wins.
        assert_eq!(
            count_of(r#"{"total_record_count":1,"reading_list":[{"id":"1"},{"id":"2"}]}"#).unwrap(),
            Some(2)
        );
    }

    #[test]
    fn an_explicit_list_without_a_count_says_how_many() {
        assert_eq!(count_of(r#"{"reading_list":[]}"#).unwrap(), Some(0));
        assert_eq!(count_of(r#"{"reading_list":{"id":"1"}}"#).unwrap(), Some(1));
        assert_eq!(
            count_of(r#"{"reading_list":[{"id":"1"},{"id":"2"}]}"#).unwrap(),
            Some(2)
        );
    }

    #[test]
    fn an_answer_with_neither_count_nor_list_is_unclear_never_none() {
        for body in [
            "{}",
            r#"{"total_record_count":null}"#,
            r#"{"total_record_count":" "}"#,
            r#"{"reading_list":null}"#,
            r#"{"link":"x"}"#,
            "[]",
        ] {
            assert_eq!(count_of(body).unwrap(), None, "{body}");
            assert_eq!(
                reading_lists_answer(body.as_bytes()).unwrap(),
                ReadingListsAnswer::Unclear(body.to_string()),
                "{body}"
            );
        }
        let long = format!(r#"{{"note":"{}"}}"#, "x".repeat(2000));
        match reading_lists_answer(long.as_bytes()).unwrap() {
            ReadingListsAnswer::Unclear(kept) => assert_eq!(kept.chars().count(), 500),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            MalformedBody::Unclear.to_string(),
            "it has no total_record_count and no reading_list: it does not say whether the \
             course has reading lists"
        );
    }

    #[test]
    fn an_empty_or_unparseable_reading_list_answer_is_malformed() {
        for body in ["", " \r\n"] {
            assert!(
                matches!(count_of(body), Err(MalformedBody::Empty)),
                "{body:?}"
            );
        }
        for body in [
            "<html>bad gateway</html>",
            r#"{"total_record_count":"many"}"#,
            r#"{"total_record_count":-1}"#,
            r#"{"total_record_count":2"#,
        ] {
            assert!(
                matches!(count_of(body), Err(MalformedBody::Shape(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn a_listing_holds_when_every_page_gives_the_same_total_and_the_courses_add_up_to_it() {
        assert!(listing_holds(250, [250, 250, 250], 250).is_ok());
        assert!(listing_holds(0, [], 0).is_ok());
        let e = listing_holds(250, [250, 251, 251], 250).unwrap_err();
        assert!(
            matches!(
                e,
                MalformedBody::TotalChanged {
                    first: 250,
                    later: 251
                }
            ),
            "{e:?}"
        );
        let e = listing_holds(250, [250, 250], 249).unwrap_err();
        assert_eq!(
            e.to_string(),
            "its pages list 249 distinct courses, not the 250 its total_record_count says: \
             the listing changed while it was read"
        );
    }

    #[test]
    fn every_documented_status_is_classified() {
        for s in ["QUEUED", "PENDING", "INITIALIZING", "RUNNING", "FINALIZING"] {
            let st = JobStatus::from_value(s);
            assert!(
                !st.is_done() && !st.is_success() && !st.has_warnings(),
                "{s}"
            );
        }
        for s in FINAL_STATUSES {
            assert!(JobStatus::from_value(s).is_done(), "{s}");
        }
        assert!(JobStatus::from_value("COMPLETED_SUCCESS").is_success());
        let warn = JobStatus::from_value("completed_warning");
        assert!(warn.is_success() && warn.has_warnings());
        assert_eq!(warn.as_str(), "COMPLETED_WARNING");
        for s in [
            "COMPLETED_FAILED",
            "COMPLETED_NO_BULKS",
            "FAILED",
            "SYSTEM_ABORTED",
            "SKIPPED",
        ] {
            let st = JobStatus::from_value(s);
            assert!(st.is_done() && !st.is_success(), "{s}");
        }
    }

    #[test]
    fn an_unknown_status_keeps_the_poller_waiting() {
        assert!(!JobStatus::from_value("SOMETHING_NEW").is_done());
    }

    #[test]
    fn a_job_instance_is_read_from_status_not_progress() {
        let body: JobInstanceBody = serde_json::from_str(
            r#"{"id":"9001","submit_time":"2026-11-28T10:00:00.000Z","start_time":"2026-11-28T10:01:00Z",
                "progress":100,"status":{"value":"RUNNING","desc":"Running"},
                "counter":[{"type":{"value":"course_loader.rows_read","desc":"Rows read"},"value":"12"},
                           {"type":{"value":"c2","desc":"d2"},"value":3}],
                "alert":{"value":"a1","desc":""}}"#,
        )
        .unwrap();
        let inst = body.into_instance().unwrap();
        assert!(!inst.status.is_done(), "progress 100 does not mean done");
        assert_eq!(inst.status_desc, "Running");
        assert!(inst.end_time.is_none());
        assert_eq!(
            inst.submit_time.unwrap().to_rfc3339(),
            "2026-11-28T10:00:00+00:00"
        );
        assert_eq!(
            inst.counters,
            vec![
                ("course_loader.rows_read".into(), "Rows read".into(), 12),
                ("c2".into(), "d2".into(), 3)
            ]
        );
        assert_eq!(inst.alerts, vec!["a1"]);
    }

    /// An instance as Ex Libris documents it: the properties and example values of
    /// `rest_job_instance` in the published OpenAPI description of the conf API
    /// (developers.exlibrisgroup.com/wp-content/uploads/alma/openapi/conf.json and its
    /// schemas/rest_job_instance.json; the copy read was
    /// github.com/ugent-library/exlibris-alma-sdk, schema/refs/rest_job_instance.json).
    /// The description gives no whole sample, so this one is built from those property
    /// names and examples, with a fractional `progress` (a double).
    const DOCUMENTED_INSTANCE: &str = r#"{
        "link": "",
        "id": "1108569450000121",
        "external_id": "1108569450000121",
        "name": "Export Physical Items - war and love - 04/15/2015 16:07",
        "submitted_by": {"value": "exl_impl", "desc": "Implementer"},
        "submit_time": "2015-04-15T13:07:40.800Z",
        "start_time": "2015-04-15T13:07:40.868Z",
        "end_time": "2015-04-15T13:07:44.359Z",
        "progress": 37.5,
        "status": {"value": "RUNNING", "desc": "Running"},
        "status_date": "2015-04-15Z",
        "alert": [{"value": "alert_general_success", "desc": "The job completed successfully."}],
        "counter": [
            {"type": {"value": "c.jobs.counter.rows_read", "desc": "Rows read"}, "value": "4"},
            {"type": {"value": "c.jobs.counter.rows_failed", "desc": "Rows failed"}, "value": "0"}
        ],
        "job_info": {"id": "S7100000000001", "name": "Course Loader", "type": {"value": "SCHEDULED"}}
    }"#;

    #[test]
    fn the_documented_instance_gives_its_counters_alerts_and_fractional_progress() {
        let body: JobInstanceBody = serde_json::from_str(DOCUMENTED_INSTANCE).unwrap();
        let inst = body.into_instance().unwrap();
        assert_eq!(inst.id, "1108569450000121");
        assert_eq!(inst.progress, 37.5);
        assert_eq!(inst.status.as_str(), "RUNNING");
        assert_eq!(
            inst.counters,
            vec![
                ("c.jobs.counter.rows_read".into(), "Rows read".into(), 4),
                ("c.jobs.counter.rows_failed".into(), "Rows failed".into(), 0),
            ]
        );
        assert_eq!(inst.alerts, vec!["The job completed successfully."]);
        assert_eq!(
            inst.end_time.unwrap().to_rfc3339(),
            "2015-04-15T13:07:44.359+00:00"
        );
    }

    #[test]
    fn the_wrapped_counters_and_alerts_are_tolerated() {
        let body: JobInstanceBody = serde_json::from_str(
            r#"{"id":"1","progress":"12.25","status":{"value":"COMPLETED_SUCCESS"},
                "counters":{"counter":{"type":{"value":"rows","desc":"Rows"},"value":"7"}},
                "alerts":{"alert":[{"value":"alert_general_success"}]}}"#,
        )
        .unwrap();
        let inst = body.into_instance().unwrap();
        assert_eq!(inst.progress, 12.25);
        assert_eq!(inst.counters, vec![("rows".into(), "Rows".into(), 7)]);
        assert_eq!(inst.alerts, vec!["alert_general_success"]);
    }

    #[test]
    fn a_progress_that_is_not_a_number_is_malformed() {
        for progress in [r#""most""#, "[]", "true"] {
            let body = format!(r#"{{"id":"1","progress":{progress}}}"#);
            assert!(
                serde_json::from_str::<JobInstanceBody>(&body).is_err(),
                "{body}"
            );
        }
        let none: JobInstanceBody = serde_json::from_str(r#"{"id":"1","progress":null}"#).unwrap();
        assert_eq!(none.progress, 0.0);
    }

    #[test]
    fn a_bad_time_is_reported() {
        let body = JobInstanceBody {
            submit_time: "yesterday".into(),
            ..Default::default()
        };
        let err = body.into_instance().unwrap_err();
        assert!(
            matches!(&err, MalformedBody::Time { field: "submit_time", value, .. } if value == "yesterday"),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("submit_time \"yesterday\""),
            "{err}"
        );
    }

    #[test]
    fn query_dates_are_written_the_way_alma_reads_them() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert_eq!(query_date(d), "2026-11-28");
        let d = NaiveDate::from_ymd_opt(2027, 1, 5).unwrap();
        assert_eq!(query_date(d), "2027-01-05");
    }
}
