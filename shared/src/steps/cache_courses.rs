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
use crate::domain::AlmaCourse;
use crate::pipeline::PipelineError;
use crate::run::alma_rate::AlmaCaller;
use crate::store::StoreError;

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
    match ctx.store.get_json::<CourseCacheFile>(&cache_key).await {
        Ok(file) => {
            tracing::info!(year = input.year, cache_key = %cache_key, courses = file.courses.len(), "reused the day's course cache");
            return Ok(Resumable::Done(CacheOutput {
                year: input.year,
                cache_key,
                courses: file.courses.len() as u64,
                api_calls: 0,
                reused: true,
            }));
        }
        Err(StoreError::NotFound { .. }) => {}
        // An unreadable cache is made again rather than failing the run.
        Err(e @ StoreError::BadJson { .. }) => {
            tracing::warn!(error = %e, "the day's course cache is unreadable; fetching again")
        }
        Err(e) => return Err(e.into()),
    }

    // Up to `CACHE_MAP_CONCURRENCY` years at once, beside the job check: a branch's share.
    let year = input.year.to_string();
    let cache = resume::resumable_cache(
        ctx,
        &day,
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
    let courses = match resume::drive(ctx, &day, PushSide::AfterPush, &cache, work).await? {
        Resumable::Done(courses) => courses.as_ref().clone(),
        Resumable::More(more) => return Ok(Resumable::More(more)),
    };
    let alma = cache.client();
    let file = CourseCacheFile {
        year: input.year,
        fetched_at: ctx.now(),
        courses,
    };
    ctx.store.put_json(&cache_key, &file).await?;
    tracing::info!(
        year = input.year,
        cache_key = %cache_key,
        courses = file.courses.len(),
        api_calls = alma.calls_made(),
        "cached the year's courses"
    );
    Ok(Resumable::Done(CacheOutput {
        year: input.year,
        cache_key,
        courses: file.courses.len() as u64,
        api_calls: alma.calls_made(),
        reused: false,
    }))
}
