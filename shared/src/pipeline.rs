//! The transform and the rollover report with Alma at hand.
//!
//! Each reads the export twice (pass 1 finds what to ask, pass 2 writes) and asks Alma for
//! exactly what pass 1 found, through a shared [`CourseCache`]: the pages of each year
//! needed and one reading-list check per distinct course, nothing else. Run both over one
//! cache and the second asks only for what the first did not. The passes themselves are
//! synchronous CPU/file work done inline.

use std::io::{Read, Seek, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{stream, StreamExt, TryStreamExt};

use crate::alma::{AlmaError, CourseCache, PAGE_SIZE};
use crate::domain::delta::Changed;
use crate::domain::facts::{AlmaFacts, CourseIndex, DeleteGuard};
use crate::domain::run::{self, reading_list_ids_for, DeleteTarget, RunError, Scan};
use crate::domain::{AlmaCourse, Rules, RunSummary};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Alma(#[from] AlmaError),
    #[error(transparent)]
    Run(#[from] RunError),
    /// The cache's stop time came before every question was asked (see
    /// [`CourseCache::stop_at`]); what was learned is in the cache.
    #[error("the step's time ran out before Alma was asked everything; it resumes from the saved answers")]
    Stopped,
}

/// Adds the cached courses of `years` to `index` (years the cache lacks are skipped).
fn index_years(cache: &CourseCache, index: &mut CourseIndex, years: &[String]) {
    for y in years {
        if !index.has_year(y) {
            if let Some(courses) = cache.courses_of_year(y) {
                index.insert_year(y, courses);
            }
        }
    }
}

/// What the delete guard got of one year.
enum GuardYear {
    /// In the cache (held already, or every page just loaded into it).
    Cached,
    /// Only the courses with the codes asked about.
    Codes(Vec<AlmaCourse>),
    /// The stop time came first.
    Stopped,
}

/// Times Alma calls and counts them.
struct AlmaClock<'c> {
    cache: &'c CourseCache,
    calls_before: u64,
    spent: Duration,
}

impl<'c> AlmaClock<'c> {
    fn new(cache: &'c CourseCache) -> Self {
        AlmaClock {
            cache,
            calls_before: cache.client().calls_made(),
            spent: Duration::ZERO,
        }
    }

    async fn years(&mut self, years: &[String]) -> Result<(), PipelineError> {
        let t = Instant::now();
        let r = self.cache.load_years(years).await;
        self.spent += t.elapsed();
        r?;
        self.not_stopped()
    }

    /// Out of time, an answer is missing: stop before deciding anything on what is there.
    fn not_stopped(&self) -> Result<(), PipelineError> {
        match self.cache.stopped() {
            true => Err(PipelineError::Stopped),
            false => Ok(()),
        }
    }

    /// The guard's courses for `targets` into `facts`, year by year: each code looked up by
    /// itself when that makes fewer calls than paging the rest of the year (whose first
    /// page tells its size), else the whole year through the cache, which saves its pages.
    /// A year looked up by code holds only those codes' courses, so it stays out of the cache.
    async fn guard_courses(
        &mut self,
        facts: &mut AlmaFacts,
        targets: &[DeleteTarget],
    ) -> Result<(), PipelineError> {
        let t = Instant::now();
        let r = self.guard_courses_untimed(facts, targets).await;
        self.spent += t.elapsed();
        r?;
        self.not_stopped()
    }

    async fn guard_courses_untimed(
        &self,
        facts: &mut AlmaFacts,
        targets: &[DeleteTarget],
    ) -> Result<(), PipelineError> {
        let years = run::distinct(targets.iter().map(|t| t.year.clone()));
        // All years at once, as the cache pages them.
        let fetched = futures::future::try_join_all(years.iter().map(|year| {
            let codes = run::distinct(
                targets
                    .iter()
                    .filter(|t| &t.year == year)
                    .map(|t| t.code.clone()),
            );
            self.guard_year(year, codes)
        }))
        .await?;
        let mut stopped = false;
        for (year, fetched) in years.iter().zip(fetched) {
            match fetched {
                GuardYear::Cached => {
                    index_years(self.cache, &mut facts.courses, std::slice::from_ref(year))
                }
                GuardYear::Codes(courses) => facts.courses.insert_year(year, Arc::new(courses)),
                GuardYear::Stopped => stopped = true,
            }
        }
        match stopped {
            true => Err(PipelineError::Stopped),
            false => Ok(()),
        }
    }

    /// One year of [`AlmaClock::guard_courses`].
    async fn guard_year(&self, year: &str, codes: Vec<String>) -> Result<GuardYear, AlmaError> {
        if self.cache.courses_of_year(year).is_some() {
            return Ok(GuardYear::Cached);
        }
        let Some(total) = self.cache.year_total(year).await? else {
            return Ok(GuardYear::Stopped);
        };
        let pages_left = total.div_ceil(u64::from(PAGE_SIZE)).saturating_sub(1);
        if codes.len() as u64 >= pages_left {
            // Out of time, the year stays unloaded and the cache says it stopped.
            self.cache.load_years(&[year.to_string()]).await?;
            return Ok(GuardYear::Cached);
        }
        tracing::info!(
            year,
            codes = codes.len(),
            pages_left,
            "looking DELETE codes up one by one"
        );
        let client = self.cache.client();
        let found: Result<Vec<Vec<AlmaCourse>>, AlmaError> = stream::iter(codes)
            .map(|code| async move { client.courses_with_code(&code).await })
            .buffer_unordered(client.max_concurrency())
            .try_collect()
            .await;
        match found {
            // A few calls, not saved: the next invocation asks them again.
            Err(AlmaError::OutOfTime) => Ok(GuardYear::Stopped),
            found => Ok(GuardYear::Codes(
                found?
                    .into_iter()
                    .flatten()
                    .filter(|c| c.year == year)
                    .collect(),
            )),
        }
    }

    async fn reading_lists(
        &mut self,
        facts: &mut AlmaFacts,
        ids: &[String],
    ) -> Result<(), PipelineError> {
        let t = Instant::now();
        let r = self.cache.reading_lists(ids).await;
        self.spent += t.elapsed();
        facts.reading_lists.extend(r?);
        facts
            .unclear_reading_lists
            .extend(self.cache.unclear_reading_lists(ids));
        self.not_stopped()
    }

    fn finish(self, summary: &mut RunSummary, started: Instant) {
        summary.alma_calls = self.cache.client().calls_made() - self.calls_before;
        let total = started.elapsed();
        summary.durations_ms.alma_ms = self.spent.as_millis() as u64;
        summary.durations_ms.total_ms = total.as_millis() as u64;
        summary.durations_ms.read_ms = total.saturating_sub(self.spent).as_millis() as u64;
    }
}

/// The transform with the delete guard checked against Alma.
pub async fn transform_with_alma<R: Read + Seek, W: Write>(
    input: &mut R,
    rules: &Rules,
    cache: &CourseCache,
    out: W,
) -> Result<RunSummary, PipelineError> {
    transform_only_with_alma(input, rules, cache, None, out).await
}

/// The transform writing only the courses `only` names when given (a delta file, §8): the
/// guard is asked about those courses' DELETE rows only.
#[tracing::instrument(skip_all)]
pub async fn transform_only_with_alma<R: Read + Seek, W: Write>(
    input: &mut R,
    rules: &Rules,
    cache: &CourseCache,
    only: Option<&Changed>,
    out: W,
) -> Result<RunSummary, PipelineError> {
    let started = Instant::now();
    let scan = run::scan(input, rules).map_err(RunError::Input)?;
    transform_scanned_with_alma(input, rules, cache, scan, only, out, started).await
}

/// [`transform_only_with_alma`] with pass 1 made already (`scan`, of `input`; `started`
/// when it began): the Transform step reads the copy years from the same scan.
pub async fn transform_scanned_with_alma<R: Read + Seek, W: Write>(
    input: &mut R,
    rules: &Rules,
    cache: &CourseCache,
    mut scan: Scan,
    only: Option<&Changed>,
    out: W,
    started: Instant,
) -> Result<RunSummary, PipelineError> {
    let mut clock = AlmaClock::new(cache);
    if let Some(only) = only {
        scan.delete_targets.retain(|t| only.contains(&t.code));
    }
    tracing::info!(delete_targets = scan.delete_targets.len(), "pass 1 done");
    let mut facts = AlmaFacts::default();
    clock
        .guard_courses(&mut facts, &scan.delete_targets)
        .await?;
    let ids = scan.transform_reading_list_ids(&facts.courses);
    clock.reading_lists(&mut facts, &ids).await?;
    let mut summary = run::transform_only(input, rules, DeleteGuard::Alma(&facts), only, out)?;
    clock.finish(&mut summary, started);
    Ok(summary)
}

/// The rollover report, matching copy requests against Alma.
#[tracing::instrument(skip_all)]
pub async fn rollover_report<R: Read + Seek, W: Write>(
    input: &mut R,
    rules: &Rules,
    cache: &CourseCache,
    out: W,
) -> Result<RunSummary, PipelineError> {
    let started = Instant::now();
    let mut clock = AlmaClock::new(cache);
    let scan = run::scan(input, rules).map_err(RunError::Input)?;
    let years = scan.rollover_years(rules);
    tracing::info!(copy_requests = scan.copy_candidates.len(), years = ?years, "pass 1 done");
    clock.years(&years).await?;
    let mut facts = AlmaFacts::default();
    index_years(cache, &mut facts.courses, &years);
    let ids = scan.rollover_reading_list_ids(rules, &facts.courses);
    clock.reading_lists(&mut facts, &ids).await?;
    // A found rollover whose code had a DELETE row first sits where the guard puts it:
    // ask the guard's questions for those codes only.
    let targets = scan.rollover_delete_targets(rules, &facts);
    if !targets.is_empty() {
        let more: Vec<String> = targets.iter().map(|t| t.year.clone()).collect();
        clock.years(&more).await?;
        index_years(cache, &mut facts.courses, &more);
        let ids = reading_list_ids_for(&targets, &facts.courses);
        clock.reading_lists(&mut facts, &ids).await?;
    }
    let mut summary = run::rollover_report(input, rules, &facts, out)?;
    clock.finish(&mut summary, started);
    Ok(summary)
}
