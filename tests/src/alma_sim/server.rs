//! The HTTP side: governance (auth, per-second limit, daily quota, faults, latency), the
//! `/almaws/v1/` endpoints and the test-only `/sim/` endpoints.
//!
//! Every request goes through one handler that routes by hand, so no extractor can answer
//! with anything but Alma's error shape.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use rand::RngExt;
use serde_json::{json, Value};

use super::loader::IdAlloc;
use super::model::{BrokenAnswer, CallRecord, JobInstance, SimCourse};
use super::{render, search, Fault, ListingChange};

/// Shown in `X-Exl-Api-Remaining` when no daily quota is set.
pub const NOMINAL_DAILY_QUOTA: u64 = 1_000_000;

/// Options the server needs after start.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub api_key: String,
    pub bad_key_status: StatusCode,
    pub per_second_limit: Option<u32>,
    pub daily_quota: Option<u64>,
    pub latency: Duration,
    pub fault: Option<Fault>,
    pub governance_in_xml: bool,
    pub instances_oldest_first: bool,
    pub loader_delay: Duration,
    pub loader_row_time: Duration,
    pub processing_departments: Vec<String>,
    pub loader_job_id: String,
    pub loader_profile_id: String,
}

#[derive(Debug)]
pub(crate) struct Store {
    pub courses: Vec<SimCourse>,
    pub ids: IdAlloc,
    pub calls: Vec<CallRecord>,
    /// Arrival times of the calls served in the last second.
    pub window: VecDeque<Instant>,
    pub quota_day: NaiveDate,
    pub used_today: u64,
    /// Calls that passed the limits, for `Fault::EveryNth`.
    pub served: u64,
    pub instances: Vec<JobInstance>,
    pub next_instance: u64,
    /// Courses whose reading-list answers are broken on purpose.
    pub broken_lists: HashMap<String, BrokenAnswer>,
    /// Until then every call is turned away as over the per-second limit.
    pub throttled_until: Option<Instant>,
    /// Made one by one, each once a course search has served its first page.
    pub listing_changes: VecDeque<ListingChange>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub settings: Settings,
    pub base_url: String,
    pub store: Mutex<Store>,
    /// The course loader's schedule and last run (one run at a time, as in Alma).
    pub loader: super::watcher::Loader,
    pub drop_dir: Option<std::path::PathBuf>,
    /// Call times count from here.
    pub started: Instant,
}

impl Shared {
    /// Locks the store; a poisoned lock is still usable since every update is whole.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// Splits a query string into decoded pairs.
pub(crate) fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn tracking_id() -> String {
    format!("E01-{:016X}", rand::rng().random::<u64>())
}

/// Alma's error codes are numeric strings; only the governance and key answers carry names
/// (`PER_SECOND_THRESHOLD`, `DAILY_THRESHOLD`, `UNAUTHORIZED`). Those below marked
/// documented are listed in Ex Libris' OpenAPI description of the conf API (conf.json,
/// the 400 answers of `/conf/jobs...`); the others are placeholders, since no description
/// at hand gives the code Alma uses for them.
///
/// Documented: "402217 - 'Invalid date format.'" (`GET /conf/jobs/{job_id}/instances`).
const INVALID_DATE_FORMAT: &str = "402217";
/// Documented: "402216 - 'Invalid job id.'" (`/conf/jobs/{job_id}...`).
const INVALID_JOB_ID: &str = "402216";
/// Documented: "402218 - 'Invalid job instance id.'" (`/conf/jobs/{job_id}/instances/...`).
const INVALID_JOB_INSTANCE_ID: &str = "402218";
/// Documented in the conf API as "40166410 - 'Invalid parameter.'" (e.g. `GET
/// /conf/printers`) and for the jobs' `type`/`status`; used here for a bad `q`, `limit` or
/// `offset` of any call (a placeholder for the courses API).
const INVALID_PARAMETER: &str = "40166410";
/// Placeholder: the code of an unknown course id (HTTP 400) is not documented; clients
/// must not rely on it.
const UNKNOWN_COURSE: &str = "401006";
/// Documented in the conf API as "402119 - 'General error.'"; a placeholder for a path
/// without an API, a method it does not take, and an injected 5xx.
const GENERAL_ERROR: &str = "402119";

/// A finished answer before rendering.
enum Answer {
    Body(StatusCode, &'static str, Value),
    /// Sent as is, whatever format was asked for.
    Raw(StatusCode, String),
    NoContent,
    Error(StatusCode, &'static str, String),
}

fn err(status: StatusCode, code: &'static str, msg: impl Into<String>) -> Answer {
    Answer::Error(status, code, msg.into())
}

fn bad_param(msg: impl Into<String>) -> Answer {
    err(StatusCode::BAD_REQUEST, INVALID_PARAMETER, msg)
}

/// The single entry point.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/sim/") {
        return sim(&shared, req.method(), &path).await;
    }
    almaws(
        &shared,
        req.method().clone(),
        &path,
        req.uri().query().unwrap_or(""),
        req.headers(),
    )
    .await
}

fn wanted_format(q: &[(String, String)], headers: &HeaderMap) -> Option<Format> {
    match param(q, "format").map(str::to_ascii_lowercase).as_deref() {
        Some("json") => return Some(Format::Json),
        Some("xml") => return Some(Format::Xml),
        _ => {}
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if accept.contains("application/json") {
        Some(Format::Json)
    } else if accept.contains("application/xml") || accept.contains("text/xml") {
        Some(Format::Xml)
    } else {
        None
    }
}

async fn almaws(
    shared: &Shared,
    method: Method,
    path: &str,
    raw_query: &str,
    headers: &HeaderMap,
) -> Response {
    let s = &shared.settings;
    if !s.latency.is_zero() {
        tokio::time::sleep(s.latency).await;
    }
    let at_ms = shared.started.elapsed().as_millis() as u64;
    let q = query_pairs(raw_query);
    let keys = Keys::of(headers, &q);
    let mut format = wanted_format(&q, headers);
    let (answer, remaining) = if !keys.match_key(&s.api_key) {
        // Alma's gateway answers a bad key in XML, whatever was asked for.
        format = Some(Format::Xml);
        let answer = err(
            s.bad_key_status,
            "UNAUTHORIZED",
            "API-key not defined or not configured to allow this API.",
        );
        (answer, remaining_now(shared))
    } else {
        match admit(shared) {
            Err((answer, remaining)) => {
                if s.governance_in_xml && is_governance(&answer) {
                    format = Some(Format::Xml);
                }
                (answer, remaining)
            }
            Ok(remaining) => (route(shared, &method, path, &q), remaining),
        }
    };
    let response = render_answer(answer, format, remaining);
    let record = CallRecord {
        method: method.to_string(),
        path: path.to_string(),
        query: without_key(raw_query),
        key_in_header: keys.header.is_some(),
        key_in_query: keys.query.is_some(),
        status: response.status().as_u16(),
        at_ms,
    };
    tracing::debug!(method = %record.method, path = %record.path, status = record.status, "alma call");
    shared.lock().calls.push(record);
    response
}

/// The API keys a request carries: `Authorization: apikey K` and `?apikey=K`.
struct Keys {
    header: Option<String>,
    query: Option<String>,
}

impl Keys {
    fn of(headers: &HeaderMap, q: &[(String, String)]) -> Keys {
        let header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, key) = v.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("apikey")
                    .then(|| key.trim().to_string())
            });
        Keys {
            header,
            query: param(q, "apikey").map(str::to_string),
        }
    }

    fn match_key(&self, key: &str) -> bool {
        self.header.as_deref() == Some(key) || self.query.as_deref() == Some(key)
    }
}

/// The query as the call log keeps it: without any `apikey` parameter.
fn without_key(raw_query: &str) -> String {
    raw_query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("apikey=") && *p != "apikey")
        .collect::<Vec<_>>()
        .join("&")
}

fn roll_quota_day(store: &mut Store) {
    let today = Utc::now().date_naive();
    if store.quota_day != today {
        store.quota_day = today;
        store.used_today = 0;
    }
}

fn remaining(settings: &Settings, store: &Store) -> u64 {
    settings
        .daily_quota
        .unwrap_or(NOMINAL_DAILY_QUOTA)
        .saturating_sub(store.used_today)
}

fn remaining_now(shared: &Shared) -> u64 {
    let mut store = shared.lock();
    roll_quota_day(&mut store);
    remaining(&shared.settings, &store)
}

/// Applies the per-second limit, the daily quota and injected faults; a call turned away
/// by a limit is not counted.
fn admit(shared: &Shared) -> Result<u64, (Answer, u64)> {
    let s = &shared.settings;
    let mut store = shared.lock();
    roll_quota_day(&mut store);
    let now = Instant::now();
    while store
        .window
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
    {
        store.window.pop_front();
    }
    let throttled = store.throttled_until.is_some_and(|until| now < until);
    let over = s
        .per_second_limit
        .is_some_and(|limit| store.window.len() >= limit as usize);
    if throttled || over {
        let left = remaining(s, &store);
        return Err((
            err(
                StatusCode::TOO_MANY_REQUESTS,
                "PER_SECOND_THRESHOLD",
                "HTTP requests are more than allowed per second",
            ),
            left,
        ));
    }
    if let Some(quota) = s.daily_quota {
        if store.used_today >= quota {
            return Err((
                err(
                    StatusCode::TOO_MANY_REQUESTS,
                    "DAILY_THRESHOLD",
                    "Daily API Request Threshold has been reached.",
                ),
                0,
            ));
        }
    }
    store.window.push_back(now);
    store.used_today += 1;
    store.served += 1;
    let left = remaining(s, &store);
    let fault = match s.fault {
        Some(Fault::EveryNth(n)) => n > 0 && store.served.is_multiple_of(n),
        Some(Fault::Rate(p)) => rand::rng().random_bool(p.clamp(0.0, 1.0)),
        None => false,
    };
    if fault {
        return Err((
            err(
                StatusCode::INTERNAL_SERVER_ERROR,
                GENERAL_ERROR,
                "Internal server error (injected by the simulator).",
            ),
            left,
        ));
    }
    Ok(left)
}

/// An answer of Alma's governance: over the per-second limit or the daily quota.
fn is_governance(answer: &Answer) -> bool {
    matches!(answer, Answer::Error(_, code, _) if *code == "PER_SECOND_THRESHOLD" || *code == "DAILY_THRESHOLD")
}

fn render_answer(answer: Answer, format: Option<Format>, remaining: u64) -> Response {
    let (status, root, body, format) = match answer {
        Answer::NoContent => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            set_remaining(&mut r, remaining);
            return r;
        }
        Answer::Raw(status, text) => {
            let content_type = match format {
                Some(Format::Xml) => "application/xml;charset=UTF-8",
                _ => "application/json;charset=UTF-8",
            };
            let mut r = (status, [(header::CONTENT_TYPE, content_type)], text).into_response();
            set_remaining(&mut r, remaining);
            return r;
        }
        // Alma's default is XML, for errors too: JSON only when asked for.
        Answer::Body(status, root, body) => (status, root, body, format.unwrap_or(Format::Xml)),
        Answer::Error(status, code, msg) => (
            status,
            "web_service_result",
            render::error(code, &msg, &tracking_id()),
            format.unwrap_or(Format::Xml),
        ),
    };
    let (content_type, text) = match format {
        Format::Json => ("application/json;charset=UTF-8", body.to_string()),
        Format::Xml => ("application/xml;charset=UTF-8", render::to_xml(root, &body)),
    };
    let mut r = (status, [(header::CONTENT_TYPE, content_type)], text).into_response();
    set_remaining(&mut r, remaining);
    r
}

fn set_remaining(r: &mut Response, remaining: u64) {
    r.headers_mut()
        .insert("x-exl-api-remaining", HeaderValue::from(remaining));
}

fn parse_bounded(
    q: &[(String, String)],
    name: &str,
    default: usize,
    max: Option<usize>,
) -> Result<usize, Answer> {
    match param(q, name) {
        None | Some("") => Ok(default),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if max.is_none_or(|m| n <= m) => Ok(n),
            _ => Err(bad_param(format!(
                "Parameter {name} is not valid: {v:?}{}",
                max.map(|m| format!(" (0 to {m})")).unwrap_or_default()
            ))),
        },
    }
}

fn route(shared: &Shared, method: &Method, path: &str, q: &[(String, String)]) -> Answer {
    let Some(rest) = path.strip_prefix("/almaws/v1/") else {
        return err(
            StatusCode::NOT_FOUND,
            GENERAL_ERROR,
            format!("No API at {path}"),
        );
    };
    let segs: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let get = method == Method::GET;
    match (segs.as_slice(), get, method == Method::DELETE) {
        (["courses"], true, _) => search_courses(shared, q),
        (["courses", id], true, _) => get_course(shared, id, q),
        (["courses", id], _, true) => delete_course(shared, id),
        (["courses", id, "reading-lists"], true, _) => reading_lists(shared, id),
        (["conf", "jobs"], true, _) => jobs(shared, q),
        (["conf", "jobs", job], true, _) => one_job(shared, job),
        (["conf", "jobs", job, "instances"], true, _) => instances(shared, job, q),
        (["conf", "jobs", job, "instances", id], true, _) => one_instance(shared, job, id),
        (
            ["courses"] | ["courses", _] | ["courses", _, "reading-lists"] | ["conf", "jobs", ..],
            _,
            _,
        ) => err(
            StatusCode::METHOD_NOT_ALLOWED,
            GENERAL_ERROR,
            format!("{method} is not supported on {path}"),
        ),
        _ => err(
            StatusCode::NOT_FOUND,
            GENERAL_ERROR,
            format!("No API at {path}"),
        ),
    }
}

fn search_courses(shared: &Shared, q: &[(String, String)]) -> Answer {
    let limit = match parse_bounded(q, "limit", 10, Some(100)) {
        Ok(n) => n,
        Err(a) => return a,
    };
    let offset = match parse_bounded(q, "offset", 0, None) {
        Ok(n) => n,
        Err(a) => return a,
    };
    let exact = param(q, "exact_search").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let clauses = match search::parse(param(q, "q").unwrap_or("")) {
        Ok(c) => c,
        Err(e) => return bad_param(format!("Parameter q is not valid: {e}")),
    };
    let mut store = shared.lock();
    let hits: Vec<&SimCourse> = store
        .courses
        .iter()
        .filter(|c| search::matches(c, &clauses, exact))
        .collect();
    let total = hits.len();
    let page: Vec<Value> = hits
        .iter()
        .skip(offset)
        .take(limit)
        .map(|c| render::course(&shared.base_url, c, false))
        .collect();
    if offset == 0 {
        if let Some(change) = store.listing_changes.pop_front() {
            change_listing(&mut store.courses, change);
        }
    }
    Answer::Body(
        StatusCode::OK,
        "courses",
        render::page("course", page, total),
    )
}

fn change_listing(courses: &mut Vec<SimCourse>, change: ListingChange) {
    match change {
        ListingChange::Add(course) => courses.insert(0, super::sim_course(&course)),
        ListingChange::Remove(id) => courses.retain(|c| c.id != id),
    }
}

fn course_not_found(id: &str) -> Answer {
    err(
        StatusCode::BAD_REQUEST,
        UNKNOWN_COURSE,
        format!("Course with id {id} was not found."),
    )
}

fn get_course(shared: &Shared, id: &str, q: &[(String, String)]) -> Answer {
    let full = param(q, "view").is_some_and(|v| v.eq_ignore_ascii_case("full"));
    let store = shared.lock();
    match store.courses.iter().find(|c| c.id == id) {
        Some(c) => Answer::Body(
            StatusCode::OK,
            "course",
            render::course(&shared.base_url, c, full),
        ),
        None => course_not_found(id),
    }
}

fn delete_course(shared: &Shared, id: &str) -> Answer {
    let mut store = shared.lock();
    match store.courses.iter().position(|c| c.id == id) {
        Some(i) => {
            store.courses.remove(i);
            Answer::NoContent
        }
        None => course_not_found(id),
    }
}

fn reading_lists(shared: &Shared, id: &str) -> Answer {
    let store = shared.lock();
    let broken = store.broken_lists.get(id).copied();
    let lists: Option<Vec<Value>> = store.courses.iter().find(|c| c.id == id).map(|c| {
        c.reading_lists
            .iter()
            .map(|l| render::reading_list(&shared.base_url, &c.id, l))
            .collect()
    });
    match (broken, lists) {
        (Some(BrokenAnswer::Empty), _) => Answer::Raw(StatusCode::OK, String::new()),
        (Some(BrokenAnswer::NotParseable), _) => Answer::Raw(
            StatusCode::OK,
            "<html><body>Service busy</body></html>".into(),
        ),
        (Some(BrokenAnswer::Silent), _) => Answer::Body(StatusCode::OK, "reading_lists", json!({})),
        (Some(BrokenAnswer::EmptyList), _) => Answer::Body(
            StatusCode::OK,
            "reading_lists",
            json!({ "reading_list": [] }),
        ),
        (Some(BrokenAnswer::NoCount), lists) => {
            let mut page = render::page("reading_list", lists.unwrap_or_default(), 0);
            if let Value::Object(m) = &mut page {
                m.remove("total_record_count");
            }
            Answer::Body(StatusCode::OK, "reading_lists", page)
        }
        (None, None) => course_not_found(id),
        (None, Some(lists)) => {
            let n = lists.len();
            Answer::Body(
                StatusCode::OK,
                "reading_lists",
                render::page("reading_list", lists, n),
            )
        }
    }
}

fn jobs(shared: &Shared, q: &[(String, String)]) -> Answer {
    let s = &shared.settings;
    let limit = match parse_bounded(q, "limit", 10, Some(100)) {
        Ok(n) => n,
        Err(a) => return a,
    };
    let offset = match parse_bounded(q, "offset", 0, None) {
        Ok(n) => n,
        Err(a) => return a,
    };
    let type_ok = param(q, "type").is_none_or(|t| t.eq_ignore_ascii_case("SCHEDULED"));
    let profile_ok = param(q, "profile_id").is_none_or(|p| p == s.loader_profile_id);
    let all: Vec<Value> = if type_ok && profile_ok {
        vec![render::job(
            &shared.base_url,
            &s.loader_job_id,
            &s.loader_profile_id,
        )]
    } else {
        Vec::new()
    };
    let total = all.len();
    let page = all.into_iter().skip(offset).take(limit).collect();
    Answer::Body(StatusCode::OK, "jobs", render::page("job", page, total))
}

fn job_not_found(job: &str) -> Answer {
    err(
        StatusCode::BAD_REQUEST,
        INVALID_JOB_ID,
        format!("Invalid job id. Job {job} was not found."),
    )
}

fn one_job(shared: &Shared, job: &str) -> Answer {
    let s = &shared.settings;
    if job != s.loader_job_id {
        return job_not_found(job);
    }
    Answer::Body(
        StatusCode::OK,
        "job",
        render::job(&shared.base_url, &s.loader_job_id, &s.loader_profile_id),
    )
}

/// `2026-11-28` and nothing else: `submit_date_from`/`submit_date_to` are documented as
/// `YYYY-MM-DD`.
fn parse_day(v: &str) -> Option<NaiveDate> {
    let b = v.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    shape
        .then(|| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
        .flatten()
}

fn instances(shared: &Shared, job: &str, q: &[(String, String)]) -> Answer {
    if job != shared.settings.loader_job_id {
        return job_not_found(job);
    }
    let limit = match parse_bounded(q, "limit", 10, Some(100)) {
        Ok(n) => n,
        Err(a) => return a,
    };
    let offset = match parse_bounded(q, "offset", 0, None) {
        Ok(n) => n,
        Err(a) => return a,
    };
    let mut bounds = [None, None];
    for (i, name) in ["submit_date_from", "submit_date_to"].iter().enumerate() {
        if let Some(v) = param(q, name).filter(|v| !v.is_empty()) {
            match parse_day(v) {
                Some(d) => bounds[i] = Some(d),
                None => {
                    return err(
                        StatusCode::BAD_REQUEST,
                        INVALID_DATE_FORMAT,
                        format!("Invalid date format. {name} {v:?} is not YYYY-MM-DD."),
                    )
                }
            }
        }
    }
    let status = param(q, "status").filter(|v| !v.is_empty());
    let store = shared.lock();
    // Newest first, or oldest first: Alma promises neither.
    let in_order: Box<dyn Iterator<Item = &JobInstance>> = if shared.settings.instances_oldest_first
    {
        Box::new(store.instances.iter())
    } else {
        Box::new(store.instances.iter().rev())
    };
    let hits: Vec<&JobInstance> = in_order
        .filter(|i| {
            let day = i.submit_time.date_naive();
            bounds[0].is_none_or(|from| day >= from)
                && bounds[1].is_none_or(|to| day <= to)
                && status.is_none_or(|s| s.eq_ignore_ascii_case(i.status.value()))
        })
        .collect();
    let page: Vec<Value> = hits
        .iter()
        .skip(offset)
        .take(limit)
        .map(|i| render::job_instance(&shared.base_url, job, i))
        .collect();
    Answer::Body(
        StatusCode::OK,
        "job_instances",
        render::page("job_instance", page, hits.len()),
    )
}

fn one_instance(shared: &Shared, job: &str, id: &str) -> Answer {
    if job != shared.settings.loader_job_id {
        return job_not_found(job);
    }
    let store = shared.lock();
    match store.instances.iter().find(|i| i.id == id) {
        Some(i) => Answer::Body(
            StatusCode::OK,
            "job_instance",
            render::job_instance(&shared.base_url, job, i),
        ),
        None => err(
            StatusCode::BAD_REQUEST,
            INVALID_JOB_INSTANCE_ID,
            format!("Invalid job instance id. Job instance {id} was not found."),
        ),
    }
}

/// `POST /sim/courses/{id}/broken-reading-lists/{answer}` or
/// `DELETE /sim/courses/{id}/broken-reading-lists`.
fn break_reading_lists(shared: &Shared, delete: bool, path: &str) -> Response {
    let segs: Vec<&str> = path
        .trim_start_matches("/sim/courses/")
        .split('/')
        .collect();
    let (id, answer) = match (segs.as_slice(), delete) {
        ([id, "broken-reading-lists"], true) => (*id, None),
        ([id, "broken-reading-lists", name], false) => match BrokenAnswer::from_name(name) {
            Some(a) => (*id, Some(a)),
            None => {
                return sim_json(
                    StatusCode::BAD_REQUEST,
                    json!({ "error": format!("no broken answer {name:?}: use empty, no-count, not-parseable, silent or empty-list") }),
                )
            }
        },
        _ => {
            return sim_json(
                StatusCode::NOT_FOUND,
                json!({ "error": format!("no simulator endpoint {path}") }),
            )
        }
    };
    let mut store = shared.lock();
    match answer {
        Some(a) => store.broken_lists.insert(id.to_string(), a),
        None => store.broken_lists.remove(id),
    };
    StatusCode::NO_CONTENT.into_response()
}

fn sim_json(status: StatusCode, v: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(v.to_string()),
    )
        .into_response()
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

async fn sim(shared: &Arc<Shared>, method: &Method, path: &str) -> Response {
    match (method.as_str(), path.trim_end_matches('/')) {
        ("GET", "/sim/courses") => sim_json(StatusCode::OK, to_value(&shared.lock().courses)),
        ("GET", "/sim/calls") => sim_json(StatusCode::OK, to_value(&shared.lock().calls)),
        ("DELETE", "/sim/calls") => {
            shared.lock().calls.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET", "/sim/job-instances") => {
            sim_json(StatusCode::OK, to_value(&shared.lock().instances))
        }
        (m @ ("POST" | "DELETE"), p) if p.starts_with("/sim/courses/") => {
            break_reading_lists(shared, m == "DELETE", p)
        }
        ("POST", "/sim/loader/run") => match super::watcher::run_once(shared).await {
            Ok(done) => sim_json(StatusCode::OK, to_value(&done)),
            Err(e) => sim_json(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "error": format!("cannot read the drop directory: {e}") }),
            ),
        },
        _ => sim_json(
            StatusCode::NOT_FOUND,
            json!({ "error": format!("no simulator endpoint {method} {path}") }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_decode_percent_and_plus() {
        let q = query_pairs("q=code~A%20B+C&limit=5&x=%zz&y=%4");
        assert_eq!(q[0], ("q".into(), "code~A B C".into()));
        assert_eq!(q[1], ("limit".into(), "5".into()));
        assert_eq!(q[2], ("x".into(), "%zz".into()));
        assert_eq!(q[3], ("y".into(), "%4".into()));
    }
}
