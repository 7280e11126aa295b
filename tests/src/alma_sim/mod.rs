//! The Alma simulator: Alma's courses, reading-list and jobs APIs and its course loader,
//! served over real HTTP on loopback.
//!
//! Start it in-process with [`AlmaSim::start`] (or the `alma-sim` binary). It serves:
//!
//! | call | behaviour |
//! |---|---|
//! | `GET /almaws/v1/courses?q=&limit=&offset=&exact_search=` | `q` = `field~value` joined by ` AND ` (code, section, name, searchable_ids, year, instructors, all); `~` is a word/prefix match (see [`search`]); `limit` 0–100 (default 10, else 400); `course` absent when the page is empty; [`AlmaSim::change_listing_after_first_page`] changes the courses between pages |
//! | `GET /almaws/v1/courses/{id}[?view=full]` | `full` adds `reading_lists: {reading_list: [...]}` (inner key absent when none) |
//! | `GET /almaws/v1/courses/{id}/reading-lists` | `{reading_list, total_record_count}` |
//! | `DELETE /almaws/v1/courses/{id}` | 204 |
//! | `GET /almaws/v1/conf/jobs?type=SCHEDULED&profile_id=P` | the course loader job of profile `loader_profile_id` |
//! | `GET /almaws/v1/conf/jobs/{job}/instances?submit_date_from=&submit_date_to=&status=&limit=&offset=` | loader runs, newest first by submit time, or oldest first with [`SimOptions::instances_oldest_first`] (more can be added with [`AlmaSim::add_job_runs`]); dates `YYYY-MM-DD` only (else 400, `402217`); `limit` 0–100 (default 10) |
//! | `GET /almaws/v1/conf/jobs/{job}/instances/{id}` | one run |
//!
//! Governance, in this order: the key (header `Authorization: apikey K` or query
//! `apikey=K`; else 403, or 400 with [`SimOptions::bad_key_status`], `UNAUTHORIZED` in XML
//! whatever format was asked for, as Alma answers a bad key), the per-second limit (a sliding one-second window
//! of served calls, or a burst set by [`AlmaSim::throttle_for`]; over it → 429
//! `PER_SECOND_THRESHOLD`, not counted), the daily quota (→ 429 `DAILY_THRESHOLD`), then
//! injected faults (500, counted). With [`SimOptions::governance_in_xml`] the two 429s
//! come in XML whatever was asked for. Every `/almaws/` answer carries
//! `X-Exl-Api-Remaining` (without a quota it counts down from [`NOMINAL_DAILY_QUOTA`]).
//! Latency is added to every `/almaws/` request.
//! Bodies, error bodies included, are XML unless JSON is asked for (`Accept:
//! application/json` or `format=json`). Other error codes are numeric strings, as Alma's
//! are: documented in the conf API, `402216` (unknown job id), `402217` (a date not
//! `YYYY-MM-DD`), `402218` (unknown job instance id), `40166410` (a bad `q`, `limit` or
//! `offset`); placeholders, as no description gives them, `401006` (an unknown course id)
//! and `402119` (no API at the path (404), a method it does not take (405), an injected
//! 500). Unknown ids are HTTP 400, as Alma answers them.
//!
//! The course loader takes from `drop_dir` (the Alma SFTP directory) each
//! `YYYYMMDDHHMMSS.txt` stamped later than its last run, in the library's
//! [`SimOptions::time_zone`] (other names, such as `*.part` or dotfiles, are never looked
//! at), and applies it by the rules in [`loader`]. With [`SimOptions::loader_every`] it
//! runs on that schedule, as Alma does, and a run that finds no file is a
//! COMPLETED_NO_BULKS instance with zero counters and an empty file name (`external_id`);
//! without it, it looks every `watch_interval` and a new file starts a run at once. Either
//! way each run records its time, so a file stamped before a run that already happened is
//! never loaded. Each file is a job instance: QUEUED at submit, RUNNING after half of
//! `loader_delay` and while it works through the rows (`loader_row_time` each) on a copy
//! of the courses, so the API answers meanwhile; then COMPLETED_SUCCESS,
//! COMPLETED_WARNING (some error rows), COMPLETED_FAILED (bad format, nothing applied) or
//! COMPLETED_NO_BULKS (no data rows).
//! Counters (`counter[].type.value` at the top level of the instance in JSON, as Ex
//! Libris' `rest_job_instance` describes it; `<counters><counter>` in XML; values as
//! strings; `progress` a number, fractional while running):
//! [`COUNTER_ROWS_READ`] `course_loader.rows_read`, [`COUNTER_CREATED`]
//! `course_loader.courses_created`, [`COUNTER_UPDATED`] `course_loader.courses_updated`,
//! [`COUNTER_DELETED`] `course_loader.courses_deleted`, [`COUNTER_ROLLED_OVER`]
//! `course_loader.courses_rolled_over` (a ROLLOVER row counts here only), [`COUNTER_ERRORS`]
//! `course_loader.rows_with_errors`. A failed run reports no counters, only an alert.
//!
//! Test-only endpoints (no key, no limits, not logged): `GET /sim/courses`,
//! `POST /sim/loader/run`, `GET /sim/calls`, `DELETE /sim/calls`, `GET /sim/job-instances`,
//! `POST /sim/courses/{id}/broken-reading-lists/{empty|no-count|not-parseable|silent|empty-list}` (that
//! course's reading-list answers break until `DELETE /sim/courses/{id}/broken-reading-lists`).

mod job;
pub mod loader;
mod model;
mod render;
pub mod search;
mod server;
mod watcher;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use model::{
    BrokenAnswer, CallRecord, FixtureCourse, JobInstance, JobStatus, LoaderCounters, RowError,
    SimCourse, SimReadingList, COUNTER_CREATED, COUNTER_DELETED, COUNTER_ERRORS,
    COUNTER_ROLLED_OVER, COUNTER_ROWS_READ, COUNTER_UPDATED,
};
pub use server::NOMINAL_DAILY_QUOTA;
pub use watcher::stamp_of;

use loader::IdAlloc;
use server::{Settings, Shared, Store};

/// A change to Alma's courses made between the pages of a listing (see
/// [`AlmaSim::change_listing_after_first_page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingChange {
    /// A new course, first in Alma's order: it is never listed, and the later pages
    /// repeat a course.
    Add(FixtureCourse),
    /// The course with this id goes: the later pages skip a course.
    Remove(String),
}

/// Injected 5xx answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Every Nth call that passes the limits answers 500.
    EveryNth(u64),
    /// Each call that passes the limits answers 500 with this probability (0.0–1.0).
    Rate(f64),
}

/// The institution's processing departments when none are given.
pub const DEFAULT_PROCESSING_DEPARTMENTS: [&str; 11] = [
    "HAYDEN",
    "ASU_ONLINE",
    "NOBLE",
    "DESIGN",
    "LAW",
    "COURSE_UNIT",
    "DOWNTOWN",
    "FLETCHER",
    "POLYTECHNIC",
    "THUNDERBIRD",
    "MUSIC",
];

/// Alma's loader time per row as the sandbox shows it: 50 ms, so a 11,500-course full file
/// takes about 10 minutes (Alma itself can take hours) and a day's few hundred changes
/// seconds.
pub const REALISTIC_LOADER_ROW_TIME: Duration = Duration::from_millis(50);

/// How to start the simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub courses: Vec<FixtureCourse>,
    pub api_key: String,
    /// How a missing or wrong key is answered: 403 (the default) or 400, `UNAUTHORIZED`,
    /// in XML whatever was asked for, as Alma does.
    pub bad_key_status: u16,
    pub drop_dir: Option<PathBuf>,
    pub per_second_limit: Option<u32>,
    pub daily_quota: Option<u64>,
    pub latency: Duration,
    pub fault: Option<Fault>,
    /// Answer the governance errors (`PER_SECOND_THRESHOLD`, `DAILY_THRESHOLD`) in XML
    /// whatever format was asked for, as Alma's API gateway can.
    pub governance_in_xml: bool,
    /// List a job's instances oldest first: Alma promises no order, so clients must not
    /// rely on newest first (the default).
    pub instances_oldest_first: bool,
    pub loader_delay: Duration,
    /// The loader's time per data row, on top of `loader_delay`: Alma's loader works
    /// through every row, so a bigger file takes longer (0 in tests; the sandbox and the
    /// `alma-sim` binary default to [`REALISTIC_LOADER_ROW_TIME`]).
    pub loader_row_time: Duration,
    pub processing_departments: Vec<String>,
    pub loader_job_id: String,
    pub loader_profile_id: String,
    /// How often the loader looks for a new file when it has no schedule.
    pub watch_interval: Duration,
    /// Run the loader every this long, as Alma's integration profile does, an empty run
    /// included; `None`: a new file starts a run at once.
    pub loader_every: Option<Duration>,
    /// The library's time zone: loader file stamps are its local time.
    pub time_zone: Tz,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            courses: Vec::new(),
            api_key: "sim-key".to_string(),
            bad_key_status: 403,
            drop_dir: None,
            per_second_limit: Some(25),
            daily_quota: None,
            latency: Duration::ZERO,
            fault: None,
            governance_in_xml: false,
            instances_oldest_first: false,
            loader_delay: Duration::ZERO,
            loader_row_time: Duration::ZERO,
            processing_departments: DEFAULT_PROCESSING_DEPARTMENTS
                .iter()
                .map(|d| d.to_string())
                .collect(),
            loader_job_id: "S7100000000001".to_string(),
            loader_profile_id: "7200000000001".to_string(),
            watch_interval: Duration::from_millis(200),
            loader_every: None,
            time_zone: leganto_shared::config::DEFAULT_TIME_ZONE,
        }
    }
}

impl SimOptions {
    /// Defaults with the courses of a fixture file (a JSON array of [`FixtureCourse`]).
    pub fn with_fixture(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let bytes = std::fs::read(path.as_ref())?;
        let courses: Vec<FixtureCourse> = serde_json::from_slice(&bytes).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: not a courses fixture: {e}", path.as_ref().display()),
            )
        })?;
        Ok(SimOptions {
            courses,
            ..SimOptions::default()
        })
    }
}

/// A fixture course as the store holds it, without reading lists.
fn sim_course(f: &FixtureCourse) -> SimCourse {
    SimCourse {
        id: f.id.clone(),
        code: f.code.clone(),
        name: f.name.clone(),
        section: f.section.clone(),
        year: f.year.clone(),
        searchable_ids: f.searchable_id.clone(),
        instructors: Vec::new(),
        academic_department: None,
        processing_department: None,
        terms: Vec::new(),
        start_date: None,
        end_date: None,
        participants: None,
        weekly_hours: None,
        submit_lists_by: None,
        campus_participants: None,
        reading_lists: Vec::new(),
    }
}

/// The fixture's courses as the store holds them; `reading_lists: true` gives one list.
fn seed(fixture: &[FixtureCourse]) -> Vec<SimCourse> {
    let mut courses: Vec<SimCourse> = fixture.iter().map(sim_course).collect();
    let mut ids = IdAlloc::after(&courses);
    for (c, f) in courses.iter_mut().zip(fixture) {
        if f.reading_lists {
            c.reading_lists.push(SimReadingList {
                id: ids.list(),
                code: format!("{}-{}", f.code, f.section),
                name: format!("{} readings", f.name),
                status: "Complete".to_string(),
            });
        }
    }
    courses
}

/// What the server needs of the options after start.
fn settings(opts: &SimOptions) -> std::io::Result<Settings> {
    Ok(Settings {
        api_key: opts.api_key.clone(),
        bad_key_status: axum::http::StatusCode::from_u16(opts.bad_key_status)
            .map_err(std::io::Error::other)?,
        per_second_limit: opts.per_second_limit,
        daily_quota: opts.daily_quota,
        latency: opts.latency,
        fault: opts.fault,
        governance_in_xml: opts.governance_in_xml,
        instances_oldest_first: opts.instances_oldest_first,
        loader_delay: opts.loader_delay,
        loader_row_time: opts.loader_row_time,
        processing_departments: opts.processing_departments.clone(),
        loader_job_id: opts.loader_job_id.clone(),
        loader_profile_id: opts.loader_profile_id.clone(),
    })
}

/// The store at start: the fixture's courses, no calls, no runs.
fn store(fixture: &[FixtureCourse]) -> Store {
    let courses = seed(fixture);
    Store {
        ids: IdAlloc::after(&courses),
        courses,
        calls: Vec::new(),
        window: VecDeque::new(),
        quota_day: Utc::now().date_naive(),
        used_today: 0,
        served: 0,
        instances: Vec::new(),
        next_instance: 8_100_000_000_001,
        broken_lists: HashMap::new(),
        throttled_until: None,
        listing_changes: VecDeque::new(),
    }
}

/// What the server, the loader and the handle share, fresh from the options.
fn shared_state(opts: SimOptions, base_url: String) -> std::io::Result<Shared> {
    Ok(Shared {
        settings: settings(&opts)?,
        base_url,
        store: Mutex::new(store(&opts.courses)),
        loader: watcher::Loader {
            every: opts.loader_every,
            time_zone: opts.time_zone,
            last_run: tokio::sync::Mutex::new(None),
        },
        drop_dir: opts.drop_dir,
        started: std::time::Instant::now(),
    })
}

/// A running simulator; dropping it stops the server and the loader watcher.
#[derive(Debug)]
pub struct AlmaSim {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    watcher: Option<JoinHandle<()>>,
}

impl AlmaSim {
    /// Starts on a free loopback port.
    pub async fn start(opts: SimOptions) -> std::io::Result<AlmaSim> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), opts).await
    }

    /// Starts on the given address (the binary's `--port`).
    pub async fn start_on(addr: SocketAddr, opts: SimOptions) -> std::io::Result<AlmaSim> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let base_url = format!("http://{local}");
        let watch_interval = opts.watch_interval;
        let shared = Arc::new(shared_state(opts, base_url)?);

        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(Arc::clone(&shared));
        let (shutdown, mut stop) = watch::channel(false);
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "alma simulator server stopped");
            }
        });
        let watcher = shared
            .drop_dir
            .is_some()
            .then(|| watcher::spawn(Arc::clone(&shared), watch_interval));
        tracing::info!(base_url = %shared.base_url, "alma simulator listening");
        Ok(AlmaSim {
            shared,
            shutdown,
            watcher,
        })
    }

    /// e.g. `http://127.0.0.1:41234`; API paths start `/almaws/v1/`.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    pub fn api_key(&self) -> &str {
        &self.shared.settings.api_key
    }

    /// The courses Alma holds now.
    pub fn courses(&self) -> Vec<SimCourse> {
        self.shared.lock().courses.clone()
    }

    /// Gives the course `course_id` a reading list, as a librarian would in Alma; `false`
    /// when Alma holds no such course.
    pub fn add_reading_list(&self, course_id: &str) -> bool {
        let mut store = self.shared.lock();
        let Some(course) = store.courses.iter_mut().find(|c| c.id == course_id) else {
            return false;
        };
        let n = course.reading_lists.len() + 1;
        course.reading_lists.push(SimReadingList {
            id: format!("{}{n:03}", course.id),
            code: format!("{}-{}", course.code, course.section),
            name: format!("{} readings {n}", course.name),
            status: "BeingPrepared".to_string(),
        });
        true
    }

    /// Deletes the course `course_id`, as a librarian would in Alma; `false` when Alma
    /// holds no such course.
    pub fn remove_course(&self, course_id: &str) -> bool {
        let mut store = self.shared.lock();
        let before = store.courses.len();
        store.courses.retain(|c| c.id != course_id);
        store.courses.len() < before
    }

    /// Once a course search has served its first page (offset 0), makes `change` to the
    /// courses Alma holds, so the later pages of that search shift, as when a librarian (or
    /// the loader) edits courses while a listing is read. Changes queue up: each search's
    /// first page makes the next one.
    pub fn change_listing_after_first_page(&self, change: ListingChange) {
        self.shared.lock().listing_changes.push_back(change);
    }

    /// Every `/almaws/` call so far, in arrival order of completion.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.shared.lock().calls.clone()
    }

    /// The simulator's clock now, as a call's `at_ms` counts it.
    pub fn now_ms(&self) -> u64 {
        self.shared.started.elapsed().as_millis() as u64
    }

    /// Forgets the call log.
    /// The most calls (whatever their answer) that arrived within any `window`, such as
    /// Alma's one second.
    pub fn most_calls_within(&self, window: Duration) -> usize {
        let window = window.as_millis() as u64;
        let mut times: Vec<u64> = self.calls().iter().map(|c| c.at_ms).collect();
        times.sort_unstable();
        let mut busiest = 0;
        let mut first = 0;
        for (last, at) in times.iter().enumerate() {
            while times[first] + window <= *at {
                first += 1;
            }
            busiest = busiest.max(last - first + 1);
        }
        busiest
    }

    pub fn clear_calls(&self) {
        self.shared.lock().calls.clear();
    }

    /// From now on, answers `course_id`'s reading lists with `answer` (even for a course
    /// it does not hold); `None` answers them normally again.
    pub fn break_reading_lists(&self, course_id: &str, answer: Option<BrokenAnswer>) {
        let mut store = self.shared.lock();
        match answer {
            Some(a) => store.broken_lists.insert(course_id.to_string(), a),
            None => store.broken_lists.remove(course_id),
        };
    }

    /// Runs the loader now and returns the finished runs (none without a drop directory).
    /// On a schedule ([`SimOptions::loader_every`]) this is one more run: it takes the
    /// files stamped later than the last run, or is an empty COMPLETED_NO_BULKS run.
    /// Without one it takes any new file, and finding none is no run (an empty answer).
    pub async fn run_loader_now(&self) -> std::io::Result<Vec<JobInstance>> {
        watcher::run_once(&self.shared).await
    }

    /// Answers every call with 429 `PER_SECOND_THRESHOLD` for `how_long` from now, as when
    /// the institution's other integrations use up the shared per-second limit.
    pub fn throttle_for(&self, how_long: Duration) {
        self.shared.lock().throttled_until = Some(std::time::Instant::now() + how_long);
    }

    /// Adds finished runs of the loader job submitted at the given times (a busy job:
    /// other profiles' files, manual runs) and returns their ids. Runs stay in submit
    /// order, so the API lists them newest first as Alma does.
    pub fn add_job_runs(&self, submitted: &[DateTime<Utc>]) -> Vec<String> {
        let mut store = self.shared.lock();
        let mut ids = Vec::with_capacity(submitted.len());
        for &at in submitted {
            let id = store.next_instance.to_string();
            store.next_instance += 1;
            store.instances.push(JobInstance {
                id: id.clone(),
                file_name: format!("other-{id}.txt"),
                status: JobStatus::CompletedSuccess,
                submit_time: at,
                start_time: Some(at),
                end_time: Some(at),
                counters: LoaderCounters::default(),
                row_errors: Vec::new(),
                failure: None,
            });
            ids.push(id);
        }
        store.instances.sort_by_key(|i| i.submit_time);
        ids
    }

    /// Every loader run so far, oldest first, with per-row errors.
    pub fn job_instances(&self) -> Vec<JobInstance> {
        self.shared.lock().instances.clone()
    }
}

impl Drop for AlmaSim {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(w) = &self.watcher {
            w.abort();
        }
    }
}
