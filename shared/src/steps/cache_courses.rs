//! Cache Alma courses for one year: every course of the year from Alma into
//! `cache/YYYY/MM/DD/courses-<year>.json`, which the rollover report reads. A cache already
//! written for the run date is reused, so a rerun does not spend Alma's quota again. The
//! year's pages are saved as they come (see [`super::resume`]): out of time, the step
//! answers `"more": true` and its next invocation asks only for the pages still missing.

use crate::run::outputs::CacheOutput;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::resume::{self, PushSide, Resumable};
use super::{RunInfo, StepContext, StepError};
use crate::alma::{AlmaClient, CourseCache};
use crate::domain::AlmaCourse;
use crate::pipeline::PipelineError;
use crate::run::alma_rate::AlmaCaller;
use crate::store::{DayKeys, StoreError};

#[derive(Debug, Clone, Deserialize)]
pub struct CacheCoursesInput {
    pub run: RunInfo,
    pub year: i32,
}

/// The cache file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseCacheFile {
    pub year: i32,
    pub fetched_at: DateTime<Utc>,
    pub courses: Vec<AlmaCourse>,
}

pub async fn run(
    ctx: &StepContext,
    input: CacheCoursesInput,
) -> Result<Resumable<CacheOutput>, StepError> {
    let day = input.run.day();
    let cache_key = day.course_cache(input.year);
    if let Some(reused) = reuse_days_cache(ctx, input.year, &cache_key).await? {
        return Ok(Resumable::Done(reused));
    }
    let (cache, courses) = match fetch_year(ctx, &day, input.year).await? {
        Resumable::Done(fetched) => fetched,
        Resumable::More(more) => return Ok(Resumable::More(more)),
    };
    let output = write_cache(ctx, input.year, cache_key, courses, cache.client()).await?;
    Ok(Resumable::Done(output))
}

/// The cache file already written for the run date, if there is a readable one.
async fn reuse_days_cache(
    ctx: &StepContext,
    year: i32,
    cache_key: &str,
) -> Result<Option<CacheOutput>, StepError> {
    match ctx.store.get_json::<CourseCacheFile>(cache_key).await {
        Ok(file) => {
            tracing::info!(year, cache_key = %cache_key, courses = file.courses.len(), "reused the day's course cache");
            Ok(Some(CacheOutput {
                year,
                cache_key: cache_key.to_string(),
                courses: file.courses.len() as u64,
                api_calls: 0,
                reused: true,
            }))
        }
        Err(StoreError::NotFound { .. }) => Ok(None),
        // An unreadable cache is made again rather than failing the run.
        Err(e @ StoreError::BadJson { .. }) => {
            tracing::warn!(error = %e, "the day's course cache is unreadable; fetching again");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Every course of `year` from Alma, with the cache that asked (and saved its pages), or
/// `"more"` when the invocation's time ran out first.
async fn fetch_year(
    ctx: &StepContext,
    day: &DayKeys,
    year: i32,
) -> Result<Resumable<(CourseCache, Vec<AlmaCourse>)>, StepError> {
    // Up to `CACHE_MAP_CONCURRENCY` years at once, beside the job check: a branch's share.
    let year = year.to_string();
    let cache = resume::resumable_cache(
        ctx,
        day,
        PushSide::AfterPush,
        AlmaCaller::CacheBranch,
        Some(year.as_str()),
    )
    .await?;
    let work = async {
        cache.load_years(std::slice::from_ref(&year)).await?;
        match cache.courses_of_year(&year) {
            Some(courses) => Ok(courses),
            None => Err(PipelineError::Stopped),
        }
    };
    let courses = match resume::drive(ctx, day, PushSide::AfterPush, &cache, work).await? {
        Resumable::Done(courses) => courses.as_ref().clone(),
        Resumable::More(more) => return Ok(Resumable::More(more)),
    };
    Ok(Resumable::Done((cache, courses)))
}

/// Writes the year's cache file; the output counts the Alma calls `alma` made for it.
async fn write_cache(
    ctx: &StepContext,
    year: i32,
    cache_key: String,
    courses: Vec<AlmaCourse>,
    alma: &AlmaClient,
) -> Result<CacheOutput, StepError> {
    let file = CourseCacheFile {
        year,
        fetched_at: ctx.now(),
        courses,
    };
    ctx.store.put_json(&cache_key, &file).await?;
    tracing::info!(
        year,
        cache_key = %cache_key,
        courses = file.courses.len(),
        api_calls = alma.calls_made(),
        "cached the year's courses"
    );
    Ok(CacheOutput {
        year,
        cache_key,
        courses: file.courses.len() as u64,
        api_calls: alma.calls_made(),
        reused: false,
    })
}
