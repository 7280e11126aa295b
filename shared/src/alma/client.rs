//! The HTTP side: one shared token bucket, a concurrency cap, retries for GETs, the quota
//! floor and the call counter, all behind a cheap-to-clone handle.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::sync::{Semaphore, SemaphorePermit};
use tracing::Instrument;

use super::error::{AlmaError, TransientReason};
use super::model::{
    listing_holds, query_date, reading_lists_answer, AlmaCourseRecord, CoursePage, JobInstance,
    JobInstanceBody, JobInstancesBody, JobSummary, JobsBody, MalformedBody, ReadingListsAnswer,
};
use super::progress::{Phase, Progress};
use super::retry::{classify, AnswerVerdict, Backoff};
use crate::domain::AlmaCourse;
use crate::error::ErrorName;

/// Alma's page size ceiling for `GET /courses` and job instances.
pub const PAGE_SIZE: u32 = 100;
/// Pages of a job's runs read at most in one look: 1,000 runs since the day before a push
/// is far beyond any loader's schedule, and the bound keeps a check's calls few.
pub const MAX_JOB_INSTANCE_PAGES: u32 = 10;
/// Header carrying the calls left today.
const REMAINING_HEADER: &str = "x-exl-api-remaining";

/// Settings of an [`AlmaClient`]. Build with [`AlmaClientConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct AlmaClientConfig {
    /// Region host, e.g. `https://api-na.hosted.exlibrisgroup.com` (a trailing
    /// `/almaws/v1` is accepted too).
    pub base_url: String,
    pub api_key: SecretString,
    /// Calls per second for this client, shared by all clones (Alma allows 25 per
    /// institution, shared by every integration).
    pub rate_per_second: u32,
    /// This client's share of `rate_per_second`: it makes `rate_per_second / rate_divisor`
    /// calls per second (below one when the rate is split among more callers than it has
    /// calls). 1 for a caller that runs alone.
    pub rate_divisor: u32,
    /// The first call waits one interval too, as if a call had just been made: clients
    /// that follow one another (a Map's next branch) then keep the pace of the one before.
    pub paced_from_start: bool,
    /// Requests in flight at once.
    pub max_concurrency: usize,
    /// Whole-request timeout, per try.
    pub timeout: Duration,
    /// Retries after the first try, for GETs. With a deadline (see
    /// [`AlmaClient::until`]), answers over the per-second limit are retried past this
    /// count for as long as the deadline allows.
    pub max_retries: u32,
    /// First backoff ceiling between tries; doubles per retry up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Stop once `X-Exl-Api-Remaining` falls below this.
    pub remaining_floor: u64,
    /// An HTTP client to share (a warm Lambda keeps one for all its invocations, and with it
    /// its connections); one is built when `None`.
    pub http: Option<reqwest::Client>,
}

impl AlmaClientConfig {
    /// Defaults: [`DEFAULT_ALMA_RATE`](crate::config::DEFAULT_ALMA_RATE) calls/s, 16 in flight, 30 s timeout, 5 retries backing off from 200 ms
    /// up to 10 s, floor 100.
    pub fn new(base_url: impl Into<String>, api_key: SecretString) -> Self {
        AlmaClientConfig {
            base_url: base_url.into(),
            api_key,
            rate_per_second: crate::config::DEFAULT_ALMA_RATE,
            rate_divisor: 1,
            paced_from_start: false,
            max_concurrency: 16,
            timeout: Duration::from_secs(30),
            max_retries: 5,
            backoff_base: Backoff::default().base,
            backoff_cap: Backoff::default().cap,
            remaining_floor: 100,
            http: None,
        }
    }
}

/// Alma REST client. Clones share the token bucket, the concurrency cap, the call counter
/// and the quota stop.
#[derive(Clone)]
pub struct AlmaClient {
    inner: Arc<Inner>,
    /// No retry waits past this (the caller's own deadline).
    deadline: Option<Instant>,
    /// Told how long work goes (the command line's bars); none in the Lambdas.
    progress: Option<Arc<dyn Progress>>,
    /// No call is sent after this (a resumable step's stop time): its turn comes, and it
    /// is [`AlmaError::OutOfTime`].
    stop: Option<Instant>,
}

struct Inner {
    http: reqwest::Client,
    /// Sent with every request: the key (marked sensitive, so no Debug output shows it)
    /// and the JSON accept header.
    headers: HeaderMap,
    timeout: Duration,
    /// `…/almaws/v1`, without a trailing slash.
    base: Url,
    limiter: DefaultDirectRateLimiter,
    permits: Semaphore,
    max_concurrency: usize,
    max_retries: u32,
    backoff: Backoff,
    remaining_floor: u64,
    calls: AtomicU64,
    /// Last `X-Exl-Api-Remaining` seen; `u64::MAX` until then.
    remaining: AtomicU64,
    /// Set once the quota is exhausted: why. Every later call fails without being sent.
    quota_stop: OnceLock<String>,
}

impl std::fmt::Debug for AlmaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlmaClient")
            .field("base", &self.inner.base.as_str())
            .field("calls_made", &self.calls_made())
            .finish_non_exhaustive()
    }
}

/// The token bucket: one call every `divisor`/`rate` seconds with a burst of one, so no
/// one-second window (Alma's governance unit) ever sees more than `rate`/`divisor` calls
/// (rounded up) from us.
fn quota_for(rate_per_second: u32, divisor: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(rate_per_second)?;
    let divisor = NonZeroU32::new(divisor)?;
    let period = Duration::from_secs(u64::from(divisor.get())) / rate.get();
    Quota::with_period(period).map(|q| q.allow_burst(NonZeroU32::MIN))
}

/// `https://host[/prefix]` → `https://host[/prefix]/almaws/v1`.
fn api_base(base_url: &str) -> Result<Url, AlmaError> {
    let invalid = |detail: String| AlmaError::InvalidConfig {
        detail,
        source: None,
    };
    let mut url = Url::parse(base_url.trim())
        .map_err(|e| invalid(format!("Alma base URL {base_url:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(invalid(format!(
            "Alma base URL {base_url:?} must be http(s)://host"
        )));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(invalid(format!(
            "the Alma base URL (ALMA_BASE_URL, --alma-url) {base_url:?} is plain http:// to \
             a host that is not this machine: the API key would cross the network \
             unencrypted. Use https:// (http:// is only for a local simulator on 127.0.0.1, \
             ::1 or localhost)"
        )));
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_string();
    let path = if path.ends_with("/almaws/v1") {
        path
    } else {
        format!("{path}/almaws/v1")
    };
    url.set_path(&path);
    Ok(url)
}

/// Whether the URL's host is this machine: 127.0.0.0/8, ::1 or `localhost`. Only there may
/// the key go over plain HTTP (a local simulator).
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    match ip.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

fn invalid_config(detail: &str) -> AlmaError {
    AlmaError::InvalidConfig {
        detail: detail.to_string(),
        source: None,
    }
}

/// Refuses settings that cannot work; for workable ones, the token bucket's quota.
fn check_settings(cfg: &AlmaClientConfig) -> Result<Quota, AlmaError> {
    let quota = quota_for(cfg.rate_per_second, cfg.rate_divisor)
        .ok_or_else(|| invalid_config("rate_per_second and rate_divisor must be at least 1"))?;
    if cfg.max_concurrency == 0 {
        return Err(invalid_config("max_concurrency must be at least 1"));
    }
    if cfg.timeout.is_zero() {
        return Err(invalid_config("timeout must be more than zero"));
    }
    if cfg.backoff_base > cfg.backoff_cap {
        return Err(invalid_config("backoff_base must not exceed backoff_cap"));
    }
    Ok(quota)
}

/// The headers every request carries: the key and the JSON accept header.
fn request_headers(api_key: &SecretString) -> Result<HeaderMap, AlmaError> {
    let mut auth = HeaderValue::try_from(format!("apikey {}", api_key.expose_secret()))
        .map_err(|_| invalid_config("the API key contains characters not allowed in a header"))?;
    // Keeps the key out of reqwest's and hyper's Debug output.
    auth.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, auth);
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    Ok(headers)
}

/// The HTTP client built when none is shared.
fn http_client(timeout: Duration) -> Result<reqwest::Client, AlmaError> {
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("leganto/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AlmaError::InvalidConfig {
            detail: "cannot build the HTTP client".to_string(),
            source: Some(e),
        })
}

/// `year~<year>`: the search [`AlmaClient::courses_of_year`] pages through.
pub fn year_query(year: &str) -> String {
    format!("year~{year}")
}

impl AlmaClient {
    pub fn new(cfg: AlmaClientConfig) -> Result<AlmaClient, AlmaError> {
        let quota = check_settings(&cfg)?;
        let base = api_base(&cfg.base_url)?;
        let headers = request_headers(&cfg.api_key)?;
        let http = match cfg.http {
            Some(http) => http,
            None => http_client(cfg.timeout)?,
        };

        let limiter = RateLimiter::direct(quota);
        if cfg.paced_from_start {
            // Spends the one token a new bucket holds.
            let _ = limiter.check();
        }
        Ok(AlmaClient {
            inner: Arc::new(Inner {
                http,
                headers,
                timeout: cfg.timeout,
                base,
                limiter,
                permits: Semaphore::new(cfg.max_concurrency),
                max_concurrency: cfg.max_concurrency,
                max_retries: cfg.max_retries,
                backoff: Backoff {
                    base: cfg.backoff_base,
                    cap: cfg.backoff_cap,
                },
                remaining_floor: cfg.remaining_floor,
                calls: AtomicU64::new(0),
                remaining: AtomicU64::new(u64::MAX),
                quota_stop: OnceLock::new(),
            }),
            deadline: None,
            progress: None,
            stop: None,
        })
    }

    /// This client (sharing its bucket, counter and quota stop) bounded by `deadline`, such
    /// as a step's Lambda deadline less a margin: a burst of `PER_SECOND_THRESHOLD` answers
    /// is then waited out for as long as it takes until then, not just `max_retries` times,
    /// and no retry waits past it.
    pub fn until(&self, deadline: Instant) -> AlmaClient {
        AlmaClient {
            inner: Arc::clone(&self.inner),
            deadline: Some(deadline),
            progress: self.progress.clone(),
            stop: self.stop,
        }
    }

    /// This client (sharing what [`AlmaClient::until`] shares) sending nothing after
    /// `stop`: a call whose turn comes later is [`AlmaError::OutOfTime`], so a step can
    /// stop asking before its deadline while the calls already sent finish.
    pub fn stopping_at(&self, stop: Option<Instant>) -> AlmaClient {
        AlmaClient {
            inner: Arc::clone(&self.inner),
            deadline: self.deadline,
            stop,
            progress: self.progress.clone(),
        }
    }

    /// This client (sharing its bucket, counter and quota stop) telling `progress` how
    /// paging, checks and deletions go.
    pub fn with_progress(&self, progress: Arc<dyn Progress>) -> AlmaClient {
        AlmaClient {
            progress: Some(progress),
            ..self.clone()
        }
    }

    pub(crate) fn progress(&self) -> Option<&Arc<dyn Progress>> {
        self.progress.as_ref()
    }

    /// Every HTTP request sent so far by this client and its clones, retries included.
    pub fn calls_made(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// The last `X-Exl-Api-Remaining` Alma reported, if any.
    pub fn last_remaining(&self) -> Option<u64> {
        match self.inner.remaining.load(Ordering::Relaxed) {
            u64::MAX => None,
            n => Some(n),
        }
    }

    pub(crate) fn max_concurrency(&self) -> usize {
        self.inner.max_concurrency
    }

    /// Retries after a first try, as the settings give them (`max_retries`).
    pub(crate) fn max_retries(&self) -> u32 {
        self.inner.max_retries
    }

    /// How long to wait before retry number `retry` (0-based): the backoff's ceiling, with
    /// no deadline passed.
    pub(crate) fn pause_before(&self, retry: u32) -> Duration {
        let pause = self.inner.backoff.ceiling(retry);
        match self.deadline {
            Some(deadline) => pause.min(deadline.saturating_duration_since(Instant::now())),
            None => pause,
        }
    }

    /// All courses whose `year` is exactly `year`, in Alma's order. Pages of 100: the first
    /// tells the total, the rest go out concurrently.
    pub async fn courses_of_year(&self, year: &str) -> Result<Vec<AlmaCourse>, AlmaError> {
        let first = self.search_courses(&year_query(year), PAGE_SIZE, 0).await?;
        self.courses_of_year_after(year, first).await
    }

    /// [`AlmaClient::courses_of_year`] once its first page (`q` = [`year_query`], offset 0,
    /// [`PAGE_SIZE`]) is at hand: e.g. fetched to learn how many pages the year takes.
    pub async fn courses_of_year_after(
        &self,
        year: &str,
        first: CoursePage,
    ) -> Result<Vec<AlmaCourse>, AlmaError> {
        let (records, pages) = self.search_rest(&year_query(year), first).await?;
        let mut seen = std::collections::HashSet::new();
        let courses: Vec<AlmaCourse> = records
            .into_iter()
            // `year~2025` is a prefix match: it also finds e.g. year 20251.
            .filter(|c| c.year == year)
            // Pages can shift under concurrent edits in Alma; keep one copy of each course.
            .filter(|c| seen.insert(c.id.clone()))
            .map(AlmaCourse::from)
            .collect();
        tracing::info!(
            year,
            courses = courses.len(),
            pages,
            "fetched courses of year"
        );
        Ok(courses)
    }

    /// Every course `q` finds, page after page as Alma returns them, and how many pages
    /// that took. Pages of 100: the first tells the total, the rest go out concurrently.
    /// Pages that, each course once, do not add up to that total (the listing changed while
    /// it was read) are [`AlmaError::InvalidResponse`].
    pub async fn search_all_courses(
        &self,
        q: &str,
    ) -> Result<(Vec<AlmaCourseRecord>, usize), AlmaError> {
        let first = self.search_courses(q, PAGE_SIZE, 0).await?;
        self.page_done();
        self.search_rest(q, first).await
    }

    /// The caller's phase counted a search as one page until its first page tells more.
    fn page_done(&self) {
        if let Some(p) = &self.progress {
            p.advanced(Phase::CoursePages);
        }
    }

    /// The pages of `q` after its `first`, concurrently; all its courses and the page count.
    async fn search_rest(
        &self,
        q: &str,
        first: CoursePage,
    ) -> Result<(Vec<AlmaCourseRecord>, usize), AlmaError> {
        let offsets: Vec<u32> = (u64::from(PAGE_SIZE)..first.total_record_count)
            .step_by(PAGE_SIZE as usize)
            .map(|o| u32::try_from(o).unwrap_or(u32::MAX))
            .collect();
        if let (Some(p), n @ 1..) = (&self.progress, offsets.len()) {
            p.grew(Phase::CoursePages, n as u64);
        }
        let rest = try_join_all(offsets.iter().map(|&offset| async move {
            let page = self.search_courses(q, PAGE_SIZE, offset).await;
            if page.is_ok() {
                self.page_done();
            }
            page
        }))
        .await?;
        let total = first.total_record_count;
        let totals: Vec<u64> = rest.iter().map(|page| page.total_record_count).collect();
        let records: Vec<AlmaCourseRecord> = std::iter::once(first)
            .chain(rest)
            .flat_map(|page| page.courses)
            .collect();
        let listed = records
            .iter()
            .map(|c| c.id.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len() as u64;
        listing_holds(total, totals, listed).map_err(|why| self.listing_broken(q, why))?;
        Ok((records, offsets.len() + 1))
    }

    /// [`AlmaError::InvalidResponse`] for the search `q`, whose pages do not hold together
    /// (see [`listing_holds`]).
    pub(crate) fn listing_broken(&self, q: &str, why: MalformedBody) -> AlmaError {
        tracing::warn!(q, why = %why, "a course listing does not hold together");
        let url = self.url(&["courses"], &[]);
        invalid_response("GET", url.path(), why)
    }

    /// How many reading lists the course `code` + `section` has; `None` when Alma holds no
    /// such course (a search for the code, then the count of the one with that section).
    pub async fn reading_lists_of(
        &self,
        code: &str,
        section: &str,
    ) -> Result<Option<u64>, AlmaError> {
        let courses = self.courses_with_code(code).await?;
        match courses.into_iter().find(|c| c.section == section) {
            Some(course) => self.reading_list_count(&course.id).await.map(Some),
            None => Ok(None),
        }
    }

    /// The courses Alma finds for `code~<code>` whose code is exactly `code` (`~` also
    /// matches longer codes), of every year.
    pub async fn courses_with_code(&self, code: &str) -> Result<Vec<AlmaCourse>, AlmaError> {
        let (records, _) = self.search_all_courses(&format!("code~{code}")).await?;
        let mut seen = std::collections::HashSet::new();
        Ok(records
            .into_iter()
            .filter(|c| c.code == code && seen.insert(c.id.clone()))
            .map(AlmaCourse::from)
            .collect())
    }

    /// One page of `GET /courses?q=…&limit=…&offset=…`.
    pub async fn search_courses(
        &self,
        q: &str,
        limit: u32,
        offset: u32,
    ) -> Result<CoursePage, AlmaError> {
        let limit = limit.to_string();
        let offset = offset.to_string();
        let url = self.url(
            &["courses"],
            &[("q", q), ("limit", &limit), ("offset", &offset)],
        );
        self.get_json(url).await
    }

    /// Whether the course has reading lists. An answer without its count is an error (see
    /// [`AlmaClient::reading_list_count`]), and so is one for a course Alma no longer holds
    /// (see [`AlmaClient::confirms_gone`]).
    pub async fn has_reading_lists(&self, course_id: &str) -> Result<bool, AlmaError> {
        Ok(self.reading_list_count(course_id).await? > 0)
    }

    /// `GET /courses/{id}/reading-lists`: how many lists the course has. An empty answer,
    /// one that does not parse, or one that says neither a count nor a list
    /// ([`ReadingListsAnswer::Unclear`]) is [`AlmaError::InvalidResponse`], never 0: "no
    /// lists" is what lets a delete go out.
    pub async fn reading_list_count(&self, course_id: &str) -> Result<u64, AlmaError> {
        match self.reading_lists_answer(course_id).await? {
            ReadingListsAnswer::Count(n) => Ok(n),
            ReadingListsAnswer::Unclear(_) => Err(invalid_response(
                "GET",
                &self.reading_lists_path(course_id),
                MalformedBody::Unclear,
            )),
        }
    }

    /// `GET /courses/{id}/reading-lists`: the count, or an answer that says neither a
    /// count nor a list. An empty answer or one that does not parse is
    /// [`AlmaError::InvalidResponse`].
    pub async fn reading_lists_answer(
        &self,
        course_id: &str,
    ) -> Result<ReadingListsAnswer, AlmaError> {
        let url = self.url(&["courses", course_id, "reading-lists"], &[]);
        let path = url.path().to_string();
        let body = self.send(Method::GET, url, true).await?;
        reading_lists_answer(&body).map_err(|source| invalid_response("GET", &path, source))
    }

    fn reading_lists_path(&self, course_id: &str) -> String {
        let url = self.url(&["courses", course_id, "reading-lists"], &[]);
        url.path().to_string()
    }

    /// `GET /courses/{id}`: the course. For an id Alma does not hold it answers HTTP 400
    /// (see [`AlmaClient::confirms_gone`]).
    pub async fn course(&self, course_id: &str) -> Result<AlmaCourseRecord, AlmaError> {
        let url = self.url(&["courses", course_id], &[]);
        let path = url.path().to_string();
        let course = self.get_json::<AlmaCourseRecord>(url).await?;
        // An answer without the id is not the course asked for.
        if course.id.trim().is_empty() {
            return Err(invalid_response(
                "GET",
                &path,
                MalformedBody::Missing { field: "id" },
            ));
        }
        Ok(course)
    }

    /// Whether `error`, Alma's answer to a call on the path of course `id`, means Alma no
    /// longer holds that course. Alma answers HTTP 400 for an id it does not hold, but its
    /// error code for that is not documented (and 400 has other causes), so no code is relied
    /// on: a search for the course's `code` that no longer lists `id` confirms it. Alma's
    /// code is logged.
    pub async fn confirms_gone(
        &self,
        error: &AlmaError,
        id: &str,
        code: &str,
    ) -> Result<bool, AlmaError> {
        let AlmaError::Api {
            status: 400,
            code: alma_code,
            message,
        } = error
        else {
            return Ok(false);
        };
        let gone = !self.code_lists_id(code, id).await?;
        tracing::info!(
            course_id = id,
            course_code = code,
            alma_code = %alma_code,
            alma_message = %message,
            gone,
            "Alma answered HTTP 400 on the course's path; a search tells whether it still holds the course"
        );
        Ok(gone)
    }

    /// Whether a search `code~<code>` lists the course `id`, page after page.
    async fn code_lists_id(&self, code: &str, id: &str) -> Result<bool, AlmaError> {
        let q = format!("code~{code}");
        let mut offset: u32 = 0;
        loop {
            let page = self.search_courses(&q, PAGE_SIZE, offset).await?;
            if page.courses.iter().any(|c| c.id == id) {
                return Ok(true);
            }
            offset = offset.saturating_add(PAGE_SIZE);
            if page.courses.is_empty() || u64::from(offset) >= page.total_record_count {
                return Ok(false);
            }
        }
    }

    /// `DELETE /courses/{id}`. Never retried: a retry after a lost answer would hit a
    /// course that is already gone.
    pub async fn delete_course(&self, course_id: &str) -> Result<(), AlmaError> {
        let url = self.url(&["courses", course_id], &[]);
        self.send(Method::DELETE, url, false).await.map(|_| ())
    }

    /// The scheduled job of an integration profile (the course loader's), if any.
    pub async fn find_scheduled_job(
        &self,
        profile_id: &str,
    ) -> Result<Option<JobSummary>, AlmaError> {
        let url = self.url(
            &["conf", "jobs"],
            &[("type", "SCHEDULED"), ("profile_id", profile_id)],
        );
        let body: JobsBody = self.get_json(url).await?;
        if body.job.len() > 1 {
            tracing::warn!(
                profile_id,
                jobs = body.job.len(),
                "several scheduled jobs for the profile; using the first"
            );
        }
        Ok(body.job.into_iter().next())
    }

    /// Runs of a job submitted on or after `submit_date_from`, newest first, every page
    /// (at most [`MAX_JOB_INSTANCE_PAGES`]).
    pub async fn job_instances(
        &self,
        job_id: &str,
        submit_date_from: chrono::NaiveDate,
    ) -> Result<Vec<JobInstance>, AlmaError> {
        Ok(self
            .job_instances_back_to(job_id, submit_date_from, None)
            .await?
            .instances)
    }

    /// Runs of a job submitted on or after `submit_date_from` (a day), newest first by
    /// their submit (else start) time. Alma promises no order, so every page is read, until
    /// the list ends or [`MAX_JOB_INSTANCE_PAGES`] pages were read, and the runs are sorted
    /// here. A run that shows twice, because new runs shifted the pages between calls, is
    /// kept once. `reached_back` tells whether a run from before `back_to` was among them.
    pub async fn job_instances_back_to(
        &self,
        job_id: &str,
        submit_date_from: chrono::NaiveDate,
        back_to: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<JobRuns, AlmaError> {
        let from = query_date(submit_date_from);
        let mut runs = JobRuns::default();
        let mut seen = std::collections::HashSet::new();
        let mut offset: u64 = 0;
        while runs.pages < MAX_JOB_INSTANCE_PAGES {
            let (page, total) = self.job_instance_page(job_id, &from, offset).await?;
            runs.pages += 1;
            let on_page = page.len() as u64;
            for run in page {
                let older = back_to.is_some_and(|t| run_time(&run) < Some(t));
                runs.reached_back = runs.reached_back || older;
                if seen.insert(run.id.clone()) {
                    runs.instances.push(run);
                }
            }
            offset += on_page;
            // A short page is the last; so is a full one that reaches the total Alma gave.
            if on_page < u64::from(PAGE_SIZE) || (total > 0 && offset >= total) {
                runs.complete = true;
                break;
            }
        }
        // Newest first, the id breaking ties, whatever order Alma answered in.
        runs.instances
            .sort_by(|a, b| run_time(b).cmp(&run_time(a)).then_with(|| b.id.cmp(&a.id)));
        if !runs.complete {
            tracing::warn!(
                job_id,
                pages = runs.pages,
                runs = runs.instances.len(),
                "more runs of the job than the pages read; some were not read"
            );
        }
        Ok(runs)
    }

    /// One page of a job's runs from `offset`, and the total Alma gave.
    async fn job_instance_page(
        &self,
        job_id: &str,
        submit_date_from: &str,
        offset: u64,
    ) -> Result<(Vec<JobInstance>, u64), AlmaError> {
        let limit = PAGE_SIZE.to_string();
        let offset = offset.to_string();
        let url = self.url(
            &["conf", "jobs", job_id, "instances"],
            &[
                ("submit_date_from", submit_date_from),
                ("limit", &limit),
                ("offset", &offset),
            ],
        );
        let path = url.path().to_string();
        let body: JobInstancesBody = self.get_json(url).await?;
        let runs = body
            .job_instance
            .into_iter()
            .map(|b| b.into_instance())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| invalid_response("GET", &path, source))?;
        Ok((runs, body.total_record_count))
    }

    pub async fn job_instance(
        &self,
        job_id: &str,
        instance_id: &str,
    ) -> Result<JobInstance, AlmaError> {
        let url = self.url(&["conf", "jobs", job_id, "instances", instance_id], &[]);
        let path = url.path().to_string();
        let body: JobInstanceBody = self.get_json(url).await?;
        body.into_instance()
            .map_err(|source| invalid_response("GET", &path, source))
    }

    /// `base/seg/seg?k=v`; segments are percent-encoded, so an id cannot escape its place.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, AlmaError> {
        let path = url.path().to_string();
        let body = self.send(Method::GET, url, true).await?;
        let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &body
        };
        serde_json::from_slice(body)
            .map_err(|e| invalid_response("GET", &path, MalformedBody::Shape(e)))
    }

    /// Sends one request, retrying transient failures when `retry` is set: up to
    /// `max_retries` times, or, for answers over the per-second limit when the client has
    /// a deadline, for as long as the deadline allows. Each try waits for a concurrency
    /// permit, then for a token, and counts as a call.
    async fn send(&self, method: Method, url: Url, retry: bool) -> Result<bytes::Bytes, AlmaError> {
        let path = url.path().to_string();
        let mut attempt = 1;
        loop {
            let span = tracing::info_span!(
                "alma_request",
                method = %method,
                path = %path,
                attempt,
                status = tracing::field::Empty,
            );
            let failed = match self
                .attempt(&method, &url, &path, &span, attempt == 1)
                .await?
            {
                Attempt::Answered(body) => return Ok(body),
                Attempt::Failed(failed) => failed,
            };
            let delay = self.inner.backoff.delay(attempt - 1, &mut rand::rng());
            if !retry || !self.may_retry(attempt, &failed.reason, delay) {
                let err = AlmaError::Unavailable {
                    method: method.to_string(),
                    path,
                    attempts: attempt,
                    last: failed.reason,
                    source: failed.source,
                };
                tracing::error!(error = %err, "Alma unavailable");
                return Err(err);
            }
            span.in_scope(|| {
                tracing::warn!(
                    why = %failed.reason,
                    retry_in_ms = delay.as_millis() as u64,
                    "Alma call failed, retrying"
                )
            });
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Whether try number `attempt`, which failed for `reason`, gets another after `delay`.
    /// Nothing waits past the deadline; before it, being over the per-second limit is
    /// waited out however many tries that takes (Alma's other integrations may hold the
    /// shared limit for a while), anything else gets `max_retries` retries.
    fn may_retry(&self, attempt: u32, reason: &TransientReason, delay: Duration) -> bool {
        let within_retries = attempt <= self.inner.max_retries;
        match self.deadline {
            None => within_retries,
            Some(deadline) if Instant::now() + delay >= deadline => false,
            Some(_) => within_retries || matches!(reason, TransientReason::RateLimited { .. }),
        }
    }

    /// One try: waits for its turn, sends, and classifies what came back. `Err` is final.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        path: &str,
        span: &tracing::Span,
        first: bool,
    ) -> Result<Attempt, AlmaError> {
        let permit = self.wait_for_turn(first).await?;
        let outcome = self
            .try_once(method.clone(), url.clone(), path)
            .instrument(span.clone())
            .await;
        drop(permit);
        match outcome {
            Ok((status, body)) => {
                span.record("status", status);
                self.judge_answer(status, body, method, path, span)
            }
            Err(e) => transport_failure(e).map(Attempt::Failed),
        }
    }

    /// Holds a concurrency permit and a token, and counts the call about to be made; fails
    /// at once when the quota has run out. A call's `first` try is not sent after the stop
    /// time; a retry of one already sent goes on towards the deadline, so its answer is not
    /// lost.
    async fn wait_for_turn(&self, first: bool) -> Result<SemaphorePermit<'_>, AlmaError> {
        let stop = self.stop.filter(|_| first);
        let inner = &*self.inner;
        self.check_quota()?;
        let permit = inner
            .permits
            .acquire()
            .await
            .map_err(|_| AlmaError::InvalidConfig {
                detail: "the client's concurrency limit was closed".to_string(),
                source: None,
            })?;
        match stop {
            None => inner.limiter.until_ready().await,
            // Calls queued for their turn give up at the stop, not a turn apart after it.
            Some(stop) => tokio::select! {
                () = inner.limiter.until_ready() => {}
                () = tokio::time::sleep_until(stop.into()) => return Err(AlmaError::OutOfTime),
            },
        }
        // Another call may have hit the floor while this one waited.
        self.check_quota()?;
        if stop.is_some_and(|stop| Instant::now() >= stop) {
            return Err(AlmaError::OutOfTime);
        }
        inner.calls.fetch_add(1, Ordering::Relaxed);
        Ok(permit)
    }

    /// What an answer means: the body, a failure worth another try, or a final error.
    fn judge_answer(
        &self,
        status: u16,
        body: bytes::Bytes,
        method: &Method,
        path: &str,
        span: &tracing::Span,
    ) -> Result<Attempt, AlmaError> {
        match classify(status, &body, method.as_str(), path) {
            AnswerVerdict::Success => Ok(Attempt::Answered(body)),
            AnswerVerdict::Transient(reason) => Ok(Attempt::Failed(TransientFailure {
                reason,
                source: None,
            })),
            AnswerVerdict::Fail(e) => {
                if let AlmaError::QuotaExhausted { detail } = &e {
                    // No call can succeed today: stop the other tasks too.
                    let _ = self.inner.quota_stop.set(detail.clone());
                }
                span.in_scope(
                    || tracing::warn!(error = %e, kind = e.error_name(), "Alma call failed"),
                );
                Err(e)
            }
        }
    }

    /// One HTTP exchange: the status and the whole body. Notes `X-Exl-Api-Remaining`.
    async fn try_once(
        &self,
        method: Method,
        url: Url,
        path: &str,
    ) -> Result<(u16, bytes::Bytes), reqwest::Error> {
        let resp = self
            .inner
            .http
            .request(method, url)
            .headers(self.inner.headers.clone())
            .timeout(self.inner.timeout)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let remaining = resp
            .headers()
            .get(REMAINING_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(remaining) = remaining {
            self.note_remaining(remaining, path);
        }
        let body = resp.bytes().await?;
        Ok((status, body))
    }

    fn note_remaining(&self, remaining: u64, path: &str) {
        let inner = &*self.inner;
        inner.remaining.fetch_min(remaining, Ordering::Relaxed);
        if remaining < inner.remaining_floor {
            let detail = format!(
                "X-Exl-Api-Remaining is {remaining} after {path}, below the floor of {} kept for \
                 other integrations",
                inner.remaining_floor
            );
            if inner.quota_stop.set(detail).is_ok() {
                tracing::error!(
                    remaining,
                    floor = inner.remaining_floor,
                    "Alma daily quota below the floor; stopping calls"
                );
            }
        }
    }

    fn check_quota(&self) -> Result<(), AlmaError> {
        match self.inner.quota_stop.get() {
            Some(detail) => Err(AlmaError::QuotaExhausted {
                detail: detail.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// What [`AlmaClient::job_instances_back_to`] read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobRuns {
    /// Newest first by submit (else start) time, each once.
    pub instances: Vec<JobInstance>,
    /// Calls made: one per page.
    pub pages: u32,
    /// A run older than `back_to` was read.
    pub reached_back: bool,
    /// The look ended at the end of the list, not at the page bound: every run since
    /// `submit_date_from` is in `instances`.
    pub complete: bool,
}

/// When a run was submitted, else started: what runs are ordered by.
pub(crate) fn run_time(run: &JobInstance) -> Option<chrono::DateTime<chrono::Utc>> {
    run.submit_time.or(run.start_time)
}

/// How one try ended, when it did not end the call.
enum Attempt {
    Answered(bytes::Bytes),
    Failed(TransientFailure),
}

/// A try that failed in a way another may not.
struct TransientFailure {
    reason: TransientReason,
    source: Option<reqwest::Error>,
}

/// An exchange that got no answer: worth another try, unless the request could not even be
/// built.
fn transport_failure(e: reqwest::Error) -> Result<TransientFailure, AlmaError> {
    let reason = TransientReason::transport(&e);
    if e.is_builder() {
        return Err(AlmaError::InvalidConfig {
            detail: format!("cannot build the request: {reason}"),
            source: Some(e.without_url()),
        });
    }
    Ok(TransientFailure {
        reason,
        source: Some(e.without_url()),
    })
}

fn invalid_response(method: &str, path: &str, source: MalformedBody) -> AlmaError {
    AlmaError::InvalidResponse {
        method: method.to_string(),
        path: path.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_gets_the_api_prefix_once() {
        for base in [
            "https://api-na.hosted.exlibrisgroup.com",
            "https://api-na.hosted.exlibrisgroup.com/",
            "https://api-na.hosted.exlibrisgroup.com/almaws/v1/",
        ] {
            assert_eq!(
                api_base(base).unwrap().as_str(),
                "https://api-na.hosted.exlibrisgroup.com/almaws/v1",
                "{base}"
            );
        }
        assert_eq!(
            api_base("http://127.0.0.1:8080/sim").unwrap().as_str(),
            "http://127.0.0.1:8080/sim/almaws/v1"
        );
    }

    #[test]
    fn plain_http_is_accepted_only_for_loopback() {
        for base in [
            "http://127.0.0.1:8080",
            "http://127.8.9.10",
            "http://[::1]:9000/sim",
            "http://localhost:3000",
            "http://LOCALHOST",
            "https://api-eu.hosted.exlibrisgroup.com",
            "https://10.0.0.5",
        ] {
            assert!(api_base(base).is_ok(), "{base}");
        }
        for base in [
            "http://api-na.hosted.exlibrisgroup.com",
            "http://10.0.0.5:8080",
            "http://128.0.0.1",
            "http://[::2]",
            "http://localhost.example.com",
            "http://0.0.0.0:8080",
        ] {
            let e = api_base(base).unwrap_err();
            assert_eq!(e.error_name(), "AlmaInvalidConfig", "{base}");
            let text = e.to_string();
            assert!(
                text.contains("ALMA_BASE_URL") && text.contains("--alma-url"),
                "names the setting: {text}"
            );
            assert!(text.contains("Use https://"), "{text}");
        }
        let cfg = AlmaClientConfig::new(
            "http://api-na.hosted.exlibrisgroup.com",
            SecretString::from("k".to_string()),
        );
        assert_eq!(
            AlmaClient::new(cfg).unwrap_err().error_name(),
            "AlmaInvalidConfig"
        );
    }

    #[test]
    fn a_base_url_that_is_not_http_is_a_config_error() {
        for base in ["", "ftp://x", "not a url", "mailto:a@b"] {
            let e = api_base(base).unwrap_err();
            assert_eq!(e.error_name(), "AlmaInvalidConfig", "{base}");
        }
    }

    fn client() -> AlmaClient {
        AlmaClient::new(AlmaClientConfig::new(
            "http://127.0.0.1:9",
            SecretString::from("s3cr3t-key".to_string()),
        ))
        .unwrap()
    }

    #[test]
    fn ids_are_encoded_as_one_path_segment_and_queries_are_encoded() {
        let c = client();
        let u = c.url(&["courses", "61/../x?y"], &[]);
        assert_eq!(u.path(), "/almaws/v1/courses/61%2F..%2Fx%3Fy");
        let u = c.url(
            &["courses"],
            &[("q", "year~2026 AND code~A&B"), ("limit", "100")],
        );
        assert_eq!(u.path(), "/almaws/v1/courses");
        let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("q".into(), "year~2026 AND code~A&B".into()));
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let cfg = AlmaClientConfig::new(
            "http://127.0.0.1:9",
            SecretString::from("s3cr3t-key".to_string()),
        );
        assert!(!format!("{cfg:?}").contains("s3cr3t"));
        let c = AlmaClient::new(cfg).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert!(!format!("{:?}", c.inner.headers).contains("s3cr3t"));
    }

    #[test]
    fn settings_that_cannot_work_are_rejected() {
        let base =
            || AlmaClientConfig::new("http://127.0.0.1:9", SecretString::from("k".to_string()));
        let mut cfg = base();
        cfg.rate_per_second = 0;
        assert_eq!(
            AlmaClient::new(cfg).unwrap_err().error_name(),
            "AlmaInvalidConfig"
        );
        let mut cfg = base();
        cfg.max_concurrency = 0;
        assert!(AlmaClient::new(cfg).is_err());
        let mut cfg = base();
        cfg.api_key = SecretString::from("bad\nkey".to_string());
        let e = AlmaClient::new(cfg).unwrap_err();
        assert!(!e.to_string().contains("bad\nkey"));
    }

    #[test]
    fn the_bucket_allows_one_call_per_interval_without_burst() {
        let q = quota_for(25, 1).unwrap();
        assert_eq!(q.burst_size().get(), 1);
        assert_eq!(q.replenish_interval(), Duration::from_millis(40));
        assert!(quota_for(0, 1).is_none());
        assert!(quota_for(1, 0).is_none());
    }

    #[test]
    fn a_share_below_one_call_a_second_spaces_calls_seconds_apart() {
        let q = quota_for(2, 4).unwrap();
        assert_eq!(q.burst_size().get(), 1);
        assert_eq!(q.replenish_interval(), Duration::from_secs(2));
        assert_eq!(
            quota_for(9, 3).unwrap().replenish_interval(),
            Duration::from_nanos(333_333_333)
        );
    }

    #[tokio::test]
    async fn a_client_paced_from_start_waits_one_interval_before_its_first_call() {
        let mut cfg =
            AlmaClientConfig::new("http://127.0.0.1:9", SecretString::from("k".to_string()));
        cfg.rate_per_second = 1;
        cfg.paced_from_start = true;
        let paced = AlmaClient::new(cfg.clone()).unwrap();
        assert!(paced.inner.limiter.check().is_err());
        cfg.paced_from_start = false;
        let eager = AlmaClient::new(cfg).unwrap();
        assert!(eager.inner.limiter.check().is_ok());
    }
}
