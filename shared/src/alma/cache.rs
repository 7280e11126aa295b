//! Memoized Alma lookups for a run: each year's course pages and each course's reading
//! lists are fetched at most once, however many rows or concurrent callers ask.
//!
//! A step that may stop before it is done seeds the cache with the answers the day has
//! saved ([`CourseCache::seed`]), takes the new ones to save as it goes
//! ([`CourseCache::unsaved`]), and sets a time after which no new call starts
//! ([`CourseCache::stop_at`]): calls already under way finish and are kept, and
//! [`CourseCache::stopped`] tells the caller that some answers are missing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::{stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use super::client::{year_query, AlmaClient, PAGE_SIZE};
use super::error::AlmaError;
use super::model::{listing_holds, MalformedBody, ReadingListsAnswer};
use super::progress::{Phase, Tracked};
use crate::domain::AlmaCourse;

type YearCell = Arc<OnceCell<Arc<Vec<AlmaCourse>>>>;

/// When an answer was learned; tests pass a fixed or shifted one.
pub type AnswerClock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// One saved reading-list answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedReadingList {
    pub has: bool,
    pub at: DateTime<Utc>,
}

/// The day's saved reading-list answers, by course id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedReadingLists {
    #[serde(default)]
    pub answers: BTreeMap<String, SavedReadingList>,
}

/// One saved page of a year's courses: Alma's total, and the page's courses of that year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPage {
    pub at: DateTime<Utc>,
    pub total: u64,
    pub courses: Vec<AlmaCourse>,
    /// Ids of the page's courses of other years (`year~2025` also finds year 20251): they
    /// count towards `total` too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<String>,
}

/// The day's saved pages of one year, by offset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedYearPages {
    pub year: String,
    #[serde(default)]
    pub pages: BTreeMap<u32, SavedPage>,
}

/// What the cache learned since the last [`CourseCache::unsaved`], with what it was seeded
/// from: each file is written whole.
#[derive(Debug, Default)]
pub struct Unsaved {
    pub reading_lists: Option<SavedReadingLists>,
    pub years: Vec<SavedYearPages>,
}

/// Every answer held, seeded or learned, and which files changed.
#[derive(Debug, Default)]
struct Ledger {
    lists: SavedReadingLists,
    lists_changed: bool,
    pages: BTreeMap<String, SavedYearPages>,
    years_changed: BTreeSet<String>,
    learned: u64,
    seeded: u64,
    oldest_seed: Option<DateTime<Utc>>,
}

impl Ledger {
    fn note_seed(&mut self, at: DateTime<Utc>) {
        self.seeded += 1;
        self.oldest_seed = Some(self.oldest_seed.map_or(at, |o| o.min(at)));
    }
}

/// A course's reading lists as the cache holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lists {
    /// Whether it has any.
    Known(bool),
    /// Alma's answer said neither a count nor a list: nothing can be decided on it.
    Unclear,
}

impl Lists {
    fn known(self) -> Option<bool> {
        match self {
            Lists::Known(has) => Some(has),
            Lists::Unclear => None,
        }
    }
}

/// Per-run cache over an [`AlmaClient`]. A failed fetch is not cached (nor saved): a later
/// call tries again.
pub struct CourseCache {
    client: AlmaClient,
    years: Mutex<HashMap<String, YearCell>>,
    pages: Mutex<HashMap<String, Arc<OnceCell<Arc<SavedPage>>>>>,
    reading_lists: Mutex<HashMap<String, Arc<OnceCell<Lists>>>>,
    ledger: Mutex<Ledger>,
    clock: AnswerClock,
    stop_at: Option<Instant>,
    stopped: AtomicBool,
}

impl std::fmt::Debug for CourseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CourseCache")
            .field("client", &self.client)
            .field("stop_at", &self.stop_at)
            .finish_non_exhaustive()
    }
}

/// The cell for `key`, created empty if new. The lock is never held across an await.
fn cell<T>(map: &Mutex<HashMap<String, Arc<OnceCell<T>>>>, key: &str) -> Arc<OnceCell<T>> {
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    map.entry(key.to_string()).or_default().clone()
}

fn page_key(year: &str, offset: u32) -> String {
    format!("{year}/{offset}")
}

/// A listing whose pages did not hold together (see [`listing_holds`]).
fn broken_listing(e: &AlmaError) -> bool {
    matches!(
        e,
        AlmaError::InvalidResponse {
            source: MalformedBody::ListingMismatch { .. } | MalformedBody::TotalChanged { .. },
            ..
        }
    )
}

/// Distinct values, first occurrence first.
fn distinct(items: &[String]) -> Vec<&str> {
    let mut seen = HashSet::new();
    items
        .iter()
        .map(String::as_str)
        .filter(|s| seen.insert(*s))
        .collect()
}

impl CourseCache {
    pub fn new(client: AlmaClient) -> CourseCache {
        CourseCache {
            client,
            years: Mutex::new(HashMap::new()),
            pages: Mutex::new(HashMap::new()),
            reading_lists: Mutex::new(HashMap::new()),
            ledger: Mutex::new(Ledger::default()),
            clock: Arc::new(Utc::now),
            stop_at: None,
            stopped: AtomicBool::new(false),
        }
    }

    /// Stamps learned answers with `clock`'s time.
    pub fn with_clock(mut self, clock: AnswerClock) -> CourseCache {
        self.clock = clock;
        self
    }

    /// No new Alma call starts at or after `stop` (the client sends none either, however
    /// long a call waited for its turn).
    pub fn stop_at(mut self, stop: Option<Instant>) -> CourseCache {
        self.stop_at = stop;
        self.client = self.client.stopping_at(stop);
        self
    }

    /// `Ok(None)` (and noted) for a call the stop time kept from being sent.
    fn unless_stopped<T>(&self, result: Result<T, AlmaError>) -> Result<Option<T>, AlmaError> {
        match result {
            Ok(answer) => Ok(Some(answer)),
            Err(AlmaError::OutOfTime) => {
                self.stopped.store(true, Ordering::Relaxed);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub fn client(&self) -> &AlmaClient {
        &self.client
    }

    /// Whether a question went unasked because the stop time had come.
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Answers learned from Alma by this cache (seeded ones not counted).
    pub fn learned(&self) -> u64 {
        self.ledger().learned
    }

    /// Answers taken from what was saved.
    pub fn seeded(&self) -> u64 {
        self.ledger().seeded
    }

    /// When the oldest seeded answer was learned, if any was seeded.
    pub fn oldest_seed(&self) -> Option<DateTime<Utc>> {
        self.ledger().oldest_seed
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True (and noted) when the stop time has come.
    fn out_of_time(&self) -> bool {
        let out = self.stop_at.is_some_and(|stop| Instant::now() >= stop);
        if out {
            self.stopped.store(true, Ordering::Relaxed);
        }
        out
    }

    /// Takes the saved reading-list answers learned at or after `fresh_since`; the rest
    /// are asked again. How many were taken.
    pub fn seed_reading_lists(&self, saved: SavedReadingLists, fresh_since: DateTime<Utc>) -> u64 {
        let mut ledger = self.ledger();
        let mut taken = 0;
        for (id, answer) in saved.answers {
            if answer.at < fresh_since {
                continue;
            }
            // A cell already answered keeps its answer (and its place in the ledger).
            if cell(&self.reading_lists, &id)
                .set(Lists::Known(answer.has))
                .is_ok()
            {
                ledger.note_seed(answer.at);
                ledger.lists.answers.insert(id, answer);
                taken += 1;
            }
        }
        taken
    }

    /// As [`CourseCache::seed_reading_lists`], for a year's saved pages.
    pub fn seed_year_pages(&self, saved: SavedYearPages, fresh_since: DateTime<Utc>) -> u64 {
        let mut ledger = self.ledger();
        let mut taken = 0;
        let year = saved.year;
        for (offset, page) in saved.pages {
            if page.at < fresh_since {
                continue;
            }
            if cell(&self.pages, &page_key(&year, offset))
                .set(Arc::new(page.clone()))
                .is_ok()
            {
                ledger.note_seed(page.at);
                let pages = ledger.pages.entry(year.clone()).or_default();
                pages.year.clone_from(&year);
                pages.pages.insert(offset, page);
                taken += 1;
            }
        }
        taken
    }

    /// The files that changed since the last call, each whole (seeded answers included).
    pub fn unsaved(&self) -> Unsaved {
        let mut ledger = self.ledger();
        let reading_lists = std::mem::take(&mut ledger.lists_changed).then(|| ledger.lists.clone());
        let years = std::mem::take(&mut ledger.years_changed)
            .into_iter()
            .filter_map(|y| ledger.pages.get(&y).cloned())
            .collect();
        Unsaved {
            reading_lists,
            years,
        }
    }

    fn learned_reading_list(&self, id: &str, has: bool) {
        let at = (self.clock)();
        let mut ledger = self.ledger();
        ledger
            .lists
            .answers
            .insert(id.to_string(), SavedReadingList { has, at });
        ledger.lists_changed = true;
        ledger.learned += 1;
    }

    fn learned_page(&self, year: &str, offset: u32, page: &SavedPage) {
        let mut ledger = self.ledger();
        let pages = ledger.pages.entry(year.to_string()).or_default();
        pages.year = year.to_string();
        pages.pages.insert(offset, page.clone());
        ledger.years_changed.insert(year.to_string());
        ledger.learned += 1;
    }

    /// One page of `year`'s courses, from the cache or Alma; `None` once out of time.
    /// How many courses Alma holds for `year`: its first page, fetched and saved like any
    /// page. `None` when the stop time kept it from being asked.
    pub async fn year_total(&self, year: &str) -> Result<Option<u64>, AlmaError> {
        Ok(self.page(year, 0).await?.map(|page| page.total))
    }

    async fn page(&self, year: &str, offset: u32) -> Result<Option<Arc<SavedPage>>, AlmaError> {
        let cell = cell(&self.pages, &page_key(year, offset));
        if let Some(page) = cell.get() {
            return Ok(Some(Arc::clone(page)));
        }
        if self.out_of_time() {
            return Ok(None);
        }
        let page = cell
            .get_or_try_init(|| async {
                let found = self
                    .client
                    .search_courses(&year_query(year), PAGE_SIZE, offset)
                    .await?;
                // `year~2025` is a prefix match: it also finds e.g. year 20251.
                let (courses, others): (Vec<_>, Vec<_>) =
                    found.courses.into_iter().partition(|c| c.year == year);
                let page = SavedPage {
                    at: (self.clock)(),
                    total: found.total_record_count,
                    courses: courses.into_iter().map(AlmaCourse::from).collect(),
                    others: others.into_iter().map(|c| c.id).collect(),
                };
                self.learned_page(year, offset, &page);
                Ok::<_, AlmaError>(Arc::new(page))
            })
            .await;
        Ok(self.unless_stopped(page)?.map(Arc::clone))
    }

    /// Every course of `year`, page after page (the first tells the total); `None` when
    /// the stop time left pages unasked.
    async fn fetch_year(
        &self,
        year: &str,
        phase: &Tracked,
    ) -> Result<Option<Vec<AlmaCourse>>, AlmaError> {
        let Some(first) = self.page(year, 0).await? else {
            return Ok(None);
        };
        phase.advance();
        let Some(rest) = self.rest_of_year(year, first.total, phase).await? else {
            return Ok(None);
        };
        let pages: Vec<&SavedPage> = std::iter::once(&*first)
            .chain(rest.iter().map(|page| &**page))
            .collect();
        let courses = self.whole_listing(year, first.total, &pages)?;
        tracing::info!(
            year,
            courses = courses.len(),
            pages = pages.len(),
            "fetched courses of year"
        );
        Ok(Some(courses))
    }

    /// [`CourseCache::fetch_year`], listing the year again (after the client's backoff, up
    /// to its `max_retries` times) while its pages do not hold together: a course added or
    /// deleted while the pages were read is read right the next time. Still broken after
    /// that, the listing is [`AlmaError::InvalidResponse`].
    async fn fetch_year_whole(
        &self,
        year: &str,
        phase: &Tracked,
    ) -> Result<Option<Vec<AlmaCourse>>, AlmaError> {
        let mut retry = 0;
        loop {
            match self.fetch_year(year, phase).await {
                Err(e) if broken_listing(&e) && retry < self.client.max_retries() => {
                    tracing::warn!(year, retry, error = %e, "listing the year again");
                    tokio::time::sleep(self.client.pause_before(retry)).await;
                    retry += 1;
                }
                answer => return answer,
            }
        }
    }

    /// The pages of `year` after the first, concurrently; `None` when the stop time left
    /// some unasked.
    async fn rest_of_year(
        &self,
        year: &str,
        total: u64,
        phase: &Tracked,
    ) -> Result<Option<Vec<Arc<SavedPage>>>, AlmaError> {
        let offsets: Vec<u32> = (u64::from(PAGE_SIZE)..total)
            .step_by(PAGE_SIZE as usize)
            .map(|o| u32::try_from(o).unwrap_or(u32::MAX))
            .collect();
        phase.grow(offsets.len() as u64);
        let rest: Vec<Option<Arc<SavedPage>>> = stream::iter(offsets)
            .map(|offset| async move {
                let page = self.page(year, offset).await;
                if matches!(page, Ok(Some(_))) {
                    phase.advance();
                }
                page
            })
            .buffered(self.client.max_concurrency())
            .try_collect()
            .await?;
        Ok(rest.into_iter().collect())
    }

    /// The year's courses, each once (pages can shift under concurrent edits in Alma). Every
    /// page must give the same `total`, and the courses, those of other years included, add
    /// up to it: a listing that does not (a course added or deleted while it was read) is
    /// [`AlmaError::InvalidResponse`], and the year's pages are forgotten, saved ones too,
    /// so the next listing asks them afresh.
    fn whole_listing(
        &self,
        year: &str,
        total: u64,
        pages: &[&SavedPage],
    ) -> Result<Vec<AlmaCourse>, AlmaError> {
        let mut seen = HashSet::new();
        let courses: Vec<AlmaCourse> = pages
            .iter()
            .flat_map(|page| page.courses.iter())
            .filter(|c| seen.insert(c.id.clone()))
            .cloned()
            .collect();
        let others: HashSet<&str> = pages
            .iter()
            .flat_map(|page| page.others.iter().map(String::as_str))
            .collect();
        let listed = (seen.len() + others.len()) as u64;
        let totals = pages.iter().map(|page| page.total);
        match listing_holds(total, totals, listed) {
            Ok(()) => Ok(courses),
            Err(why) => {
                tracing::warn!(
                    year,
                    "the year's pages do not hold together; forgetting them"
                );
                self.forget_pages(year);
                Err(self.client.listing_broken(&year_query(year), why))
            }
        }
    }

    /// Drops the pages held for `year`, and marks its saved pages to be written empty.
    fn forget_pages(&self, year: &str) {
        // The keys of `page_key`.
        let prefix = format!("{year}/");
        self.pages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|key, _| !key.starts_with(&prefix));
        let mut ledger = self.ledger();
        let pages = ledger.pages.entry(year.to_string()).or_default();
        pages.year = year.to_string();
        pages.pages.clear();
        ledger.years_changed.insert(year.to_string());
    }

    /// Fetches the courses of every year not yet held, all years concurrently. Out of time,
    /// a year left unfinished stays unloaded (see [`CourseCache::stopped`]).
    pub async fn load_years(&self, years: &[String]) -> Result<(), AlmaError> {
        let cells: Vec<_> = distinct(years)
            .into_iter()
            .map(|year| (year, cell(&self.years, year)))
            .collect();
        // One page per year not yet held until each year's first page tells more.
        let missing = cells.iter().filter(|(_, c)| !c.initialized()).count();
        let phase = Tracked::start(self.client.progress(), Phase::CoursePages, missing as u64);
        let phase_ref = &phase;
        let fetches = cells.into_iter().map(|(year, cell)| async move {
            if cell.initialized() {
                return Ok(());
            }
            if let Some(courses) = self.fetch_year_whole(year, phase_ref).await? {
                // A concurrent caller may have set it: the same pages, the same courses.
                let _ = cell.set(Arc::new(courses));
            }
            Ok::<_, AlmaError>(())
        });
        futures::future::try_join_all(fetches).await?;
        phase.finish();
        Ok(())
    }

    /// The courses of `year`, if loaded or inserted.
    pub fn courses_of_year(&self, year: &str) -> Option<Arc<Vec<AlmaCourse>>> {
        let map = self.years.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(year).and_then(|c| c.get().cloned())
    }

    /// Puts a year's courses in the cache (e.g. read back from a cache file), replacing any.
    pub fn insert_year(&self, year: &str, courses: Vec<AlmaCourse>) {
        let cell = Arc::new(OnceCell::new_with(Some(Arc::new(courses))));
        let mut map = self.years.lock().unwrap_or_else(PoisonError::into_inner);
        map.insert(year.to_string(), cell);
    }

    /// Alma's answer on the course's reading lists. One Alma no longer holds (deleted since
    /// it was listed: today's loader runs while the courses are cached) has none. An answer
    /// that says neither a count nor a list is logged with its body.
    async fn ask_reading_lists(&self, id: &str) -> Result<Lists, AlmaError> {
        let error = match self.client.reading_lists_answer(id).await {
            Ok(ReadingListsAnswer::Count(n)) => return Ok(Lists::Known(n > 0)),
            Ok(ReadingListsAnswer::Unclear(body)) => {
                tracing::warn!(
                    course_id = id,
                    body = %body,
                    "Alma's reading-list answer did not say whether the course has any; no \
                     DELETE goes out on it"
                );
                return Ok(Lists::Unclear);
            }
            Err(e) => e,
        };
        match self.code_of(id) {
            Some(code) if self.client.confirms_gone(&error, id, &code).await? => {
                Ok(Lists::Known(false))
            }
            _ => Err(error),
        }
    }

    /// The courses among `course_ids` whose reading-list answer said neither a count nor a
    /// list (left out of [`CourseCache::reading_lists`]).
    pub fn unclear_reading_lists(&self, course_ids: &[String]) -> HashSet<String> {
        course_ids
            .iter()
            .filter(|id| cell(&self.reading_lists, id).get() == Some(&Lists::Unclear))
            .cloned()
            .collect()
    }

    /// The code of course `id` in the years held, if any holds it.
    fn code_of(&self, id: &str) -> Option<String> {
        let map = self.years.lock().unwrap_or_else(PoisonError::into_inner);
        map.values()
            .filter_map(|cell| cell.get())
            .flat_map(|courses| courses.iter())
            .find(|c| c.id == id)
            .map(|c| c.code.clone())
    }

    /// Whether each course has reading lists, asking Alma once per distinct id over the
    /// cache's lifetime; up to the client's concurrency at once. Out of time, the ids not
    /// yet asked are left out (see [`CourseCache::stopped`]); so are those whose answer
    /// said nothing (see [`CourseCache::unclear_reading_lists`]).
    pub async fn reading_lists(
        &self,
        course_ids: &[String],
    ) -> Result<HashMap<String, bool>, AlmaError> {
        let ids = distinct(course_ids);
        let width = self.client.max_concurrency();
        let unasked = ids
            .iter()
            .filter(|id| !cell(&self.reading_lists, id).initialized())
            .count();
        let phase = Tracked::start(
            self.client.progress(),
            Phase::ReadingListChecks,
            unasked as u64,
        );
        let phase_ref = &phase;
        // Owned ids: a closure over `&str` makes callers' futures fail the `Send` check
        // for every lifetime ("FnOnce is not general enough", e.g. in an axum handler).
        let answers = stream::iter(ids.into_iter().map(str::to_owned))
            .map(|id: String| {
                let cell = cell(&self.reading_lists, &id);
                async move {
                    if let Some(lists) = cell.get() {
                        return Ok(lists.known().map(|has| (id, has)));
                    }
                    if self.out_of_time() {
                        return Ok(None);
                    }
                    let lists = cell
                        .get_or_try_init(|| async {
                            let lists = self.ask_reading_lists(&id).await?;
                            if let Lists::Known(has) = lists {
                                self.learned_reading_list(&id, has);
                            }
                            phase_ref.advance();
                            Ok::<_, AlmaError>(lists)
                        })
                        .await;
                    let known = self.unless_stopped(lists)?.and_then(|l| l.known());
                    Ok::<_, AlmaError>(known.map(|has| (id, has)))
                }
            })
            // Unordered but never cut short by the stop: a call under way finishes and is kept.
            .buffer_unordered(width)
            .try_filter_map(|answer| async move { Ok(answer) })
            .try_collect()
            .await?;
        phase.finish();
        Ok(answers)
    }
}

/// Lambda and axum handlers spawn these futures, which must be `Send` for every lifetime,
/// not just the caller's: this fails to compile if one ever stops being so.
#[allow(dead_code)]
fn futures_are_spawnable(cache: Arc<CourseCache>, day: chrono::NaiveDate) {
    fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
    let years = vec!["2026".to_string()];
    let c = Arc::clone(&cache);
    spawnable(async move { c.load_years(&years).await });
    let c = Arc::clone(&cache);
    spawnable(async move { c.reading_lists(&["1".to_string()]).await });
    let client = cache.client().clone();
    spawnable(async move {
        client.courses_of_year("2026").await?;
        client.search_courses("year~2026", 10, 0).await?;
        client.reading_list_count("1").await?;
        client.course("1").await?;
        client.delete_course("1").await?;
        client.find_scheduled_job("p").await?;
        client.job_instances("j", day).await?;
        client.job_instance("j", "i").await
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alma::AlmaClientConfig;

    fn course(id: &str, year: &str) -> AlmaCourse {
        AlmaCourse {
            id: id.into(),
            code: format!("C-{id}"),
            section: id.into(),
            year: year.into(),
            searchable_ids: vec![],
        }
    }

    fn offline_cache() -> CourseCache {
        // Port 9 (discard) on loopback: nothing answers, and these tests must not call.
        let client = AlmaClient::new(AlmaClientConfig::new(
            "http://127.0.0.1:9",
            secrecy::SecretString::from("k".to_string()),
        ))
        .unwrap();
        CourseCache::new(client)
    }

    #[tokio::test]
    async fn inserted_years_are_served_without_calling_alma() {
        let cache = offline_cache();
        assert!(cache.courses_of_year("2025").is_none());
        cache.insert_year("2025", vec![course("1", "2025")]);
        cache
            .load_years(&["2025".into(), "2025".into()])
            .await
            .unwrap();
        assert_eq!(cache.courses_of_year("2025").unwrap().len(), 1);
        assert_eq!(cache.client().calls_made(), 0);
        cache.insert_year("2025", vec![course("1", "2025"), course("2", "2025")]);
        assert_eq!(cache.courses_of_year("2025").unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_empty_id_list_needs_no_calls() {
        let cache = offline_cache();
        assert!(cache.reading_lists(&[]).await.unwrap().is_empty());
        assert_eq!(cache.client().calls_made(), 0);
    }

    #[tokio::test]
    async fn work_already_cached_shows_no_phase() {
        use crate::alma::progress::tests::Recorder;
        let rec = Arc::new(Recorder::default());
        let cache = CourseCache::new(offline_cache().client().with_progress(rec.clone()));
        cache.insert_year("2025", vec![course("1", "2025")]);
        cache.load_years(&["2025".into()]).await.unwrap();
        cache.reading_lists(&[]).await.unwrap();
        assert!(rec.calls().is_empty(), "{:?}", rec.calls());
    }

    #[tokio::test]
    async fn a_failed_year_ends_its_phase_as_cut_short() {
        use crate::alma::progress::tests::Recorder;
        let rec = Arc::new(Recorder::default());
        let client = AlmaClient::new(AlmaClientConfig {
            max_retries: 0,
            ..AlmaClientConfig::new(
                "http://127.0.0.1:9",
                secrecy::SecretString::from("k".to_string()),
            )
        })
        .unwrap();
        let cache = CourseCache::new(client.with_progress(rec.clone()));
        assert!(cache
            .load_years(&["2026".into(), "2027".into(), "2026".into()])
            .await
            .is_err());
        assert_eq!(
            rec.calls(),
            ["started CoursePages 2", "finished CoursePages false"]
        );
    }

    #[tokio::test]
    async fn seeded_answers_are_served_without_calling_alma_and_stale_ones_are_left_out() {
        let now = Utc::now();
        let old = now - chrono::Duration::hours(7);
        let cache = offline_cache();
        let mut lists = SavedReadingLists::default();
        lists
            .answers
            .insert("1".into(), SavedReadingList { has: true, at: now });
        lists.answers.insert(
            "2".into(),
            SavedReadingList {
                has: false,
                at: old,
            },
        );
        let since = now - chrono::Duration::hours(6);
        assert_eq!(cache.seed_reading_lists(lists, since), 1);
        let mut pages = SavedYearPages {
            year: "2025".into(),
            ..SavedYearPages::default()
        };
        pages.pages.insert(
            0,
            SavedPage {
                at: now,
                total: 1,
                courses: vec![course("9", "2025")],
                others: vec![],
            },
        );
        assert_eq!(cache.seed_year_pages(pages, since), 1);

        let answers = cache.reading_lists(&["1".into()]).await.unwrap();
        assert_eq!(answers.get("1"), Some(&true));
        cache.load_years(&["2025".into()]).await.unwrap();
        assert_eq!(cache.courses_of_year("2025").unwrap().len(), 1);
        assert_eq!(cache.client().calls_made(), 0);
        assert_eq!((cache.seeded(), cache.learned()), (2, 0));
        assert_eq!(cache.oldest_seed(), Some(now));
        // Nothing new was learned: nothing to write.
        let unsaved = cache.unsaved();
        assert!(unsaved.reading_lists.is_none() && unsaved.years.is_empty());
    }

    #[tokio::test]
    async fn past_its_stop_time_the_cache_sends_nothing_and_says_it_stopped() {
        let cache = offline_cache().stop_at(Some(Instant::now()));
        let answers = cache
            .reading_lists(&["1".into(), "2".into()])
            .await
            .unwrap();
        assert!(answers.is_empty());
        cache.load_years(&["2025".into()]).await.unwrap();
        assert!(cache.courses_of_year("2025").is_none());
        assert!(cache.stopped());
        assert_eq!(cache.client().calls_made(), 0);
    }

    #[test]
    fn distinct_keeps_first_occurrences_in_order() {
        let v: Vec<String> = ["b", "a", "b", "c", "a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(distinct(&v), vec!["b", "a", "c"]);
    }
}
