//! Alma-bound steps that resume: Transform's delete checks, a year's course cache and the
//! rollover report save what they learn from Alma under the day's `cache/…/answers/` as
//! they go, stop starting calls before their invocation's deadline ([`super::step_stop`]),
//! and answer `{"more": true, …}`; the state machine then runs the same step again, which
//! takes the saved answers instead of asking twice.
//!
//! Answers are kept per [`PushSide`]: Transform's delete checks are asked before the push, the
//! course caches and the report after Alma has loaded the day's file, which changes what
//! Alma would answer. So the report never takes the transform's answers.
//!
//! Age rule: a saved answer is used while it is younger than `GUARD_MAX_AGE_HOURS` (6 h by
//! default), the age up to which Push trusts the delete checks; an older one is asked
//! again. Transform's run summary dates its checks by the oldest answer it used, so Push's
//! fresh guard still sees their true age.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{StepContext, StepError};
use crate::alma::{
    AlmaError, CourseCache, SavedReadingLists, SavedYearPages, TransientReason, TransportFailure,
};
use crate::pipeline::PipelineError;
use crate::run::alma_rate::AlmaCaller;
use crate::store::{file_name, DayKeys, StoreError};

/// When the answers were learned, relative to the day's load into Alma.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushSide {
    /// Transform's delete checks.
    BeforePush,
    /// The course caches and the rollover report.
    AfterPush,
}

impl PushSide {
    pub fn folder(self) -> &'static str {
        match self {
            PushSide::BeforePush => "before-push",
            PushSide::AfterPush => "after-push",
        }
    }
}

/// How often learned answers are written while a step runs: a timeout loses at most this.
pub const SAVE_EVERY: Duration = Duration::from_secs(5);

/// A step's answer when it stopped before it was done. Small and bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct More {
    /// Always true: the state machine's Choice runs the step again.
    pub more: bool,
    /// Answers learned from Alma in this invocation (each one saved).
    pub answers_learned: u64,
    /// Answers this invocation took from what earlier ones saved.
    pub answers_reused: u64,
    pub api_calls: u64,
}

/// What a resumable step answers: its usual output once done, else [`More`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Resumable<T> {
    More(More),
    Done(T),
}

/// The error of a stop without a single answer learned: going round again would not help.
pub(crate) fn no_answer_in_time() -> AlmaError {
    AlmaError::Unavailable {
        method: "GET".into(),
        path: "courses".into(),
        attempts: 1,
        last: TransientReason::Transport {
            failure: TransportFailure::TimedOut,
            cause: Some("Alma answered nothing before the invocation's time ran out".into()),
        },
        source: None,
    }
}

/// Saved answers learned at or after this are used (see the module's age rule).
pub fn fresh_since(ctx: &StepContext) -> DateTime<Utc> {
    let max_age =
        chrono::Duration::from_std(ctx.config.alma.guard_max_age).unwrap_or(chrono::Duration::MAX);
    ctx.now()
        .checked_sub_signed(max_age)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A course cache for a resumable step at `caller`'s share of `AlmaRate`: seeded with the
/// day's saved answers (only `year`'s pages when given), stamping answers with the step's
/// clock, and starting no new call after the invocation's stop time.
pub async fn resumable_cache(
    ctx: &StepContext,
    day: &DayKeys,
    phase: PushSide,
    caller: AlmaCaller,
    year: Option<&str>,
) -> Result<CourseCache, StepError> {
    let clock = ctx.clock();
    let cache = CourseCache::new(ctx.alma_for(caller).await?)
        .with_clock(clock)
        .stop_at(super::step_stop());
    let mut since = fresh_since(ctx);
    if phase == PushSide::BeforePush {
        // Answers from before the day's load say nothing of Alma after it (a rerun of the
        // transform then): only those learned since the push count.
        if let Some(receipt) = crate::run::receipt::read_receipt(&ctx.store, day.run_date()).await?
        {
            since = since.max(receipt.pushed_at);
        }
    }
    let mut reused = 0;
    if year.is_none() {
        if let Some(saved) =
            read::<SavedReadingLists>(ctx, &day.reading_list_answers(phase.folder())).await?
        {
            reused += cache.seed_reading_lists(saved, since);
        }
    }
    let page_files: Vec<String> = match year {
        Some(year) => vec![day.page_answers(phase.folder(), year)],
        None => ctx
            .store
            .list(&day.answers_prefix(phase.folder()))
            .await?
            .into_iter()
            .map(|o| o.key)
            .filter(|k| file_name(k).starts_with("pages-") && k.ends_with(".json"))
            .collect(),
    };
    for key in &page_files {
        if let Some(saved) = read::<SavedYearPages>(ctx, key).await? {
            reused += cache.seed_year_pages(saved, since);
        }
    }
    tracing::info!(reused, fresh_since = %since, "took the day's saved Alma answers");
    Ok(cache)
}

/// A saved file, if there is one; an unreadable one is asked again rather than failing.
async fn read<T: serde::de::DeserializeOwned>(
    ctx: &StepContext,
    key: &str,
) -> Result<Option<T>, StepError> {
    match ctx.store.get_json::<T>(key).await {
        Ok(saved) => Ok(Some(saved)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e @ StoreError::BadJson { .. }) => {
            tracing::warn!(error = %e, "saved Alma answers are unreadable; asking again");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes the files whose answers changed since the last save.
pub async fn save(
    ctx: &StepContext,
    day: &DayKeys,
    phase: PushSide,
    cache: &CourseCache,
) -> Result<(), StepError> {
    let unsaved = cache.unsaved();
    if let Some(lists) = &unsaved.reading_lists {
        ctx.store
            .put_json(&day.reading_list_answers(phase.folder()), lists)
            .await?;
    }
    for pages in &unsaved.years {
        ctx.store
            .put_json(&day.page_answers(phase.folder(), &pages.year), pages)
            .await?;
    }
    Ok(())
}

/// Runs `work` over `cache`, saving what it learns every [`SAVE_EVERY`] and once more at
/// the end (an error too keeps what was learned, for the retry). A stop with answers
/// learned is [`Resumable::More`]; a stop with none is `AlmaUnavailable`.
pub async fn drive<T, W>(
    ctx: &StepContext,
    day: &DayKeys,
    phase: PushSide,
    cache: &CourseCache,
    work: W,
) -> Result<Resumable<T>, StepError>
where
    W: Future<Output = Result<T, PipelineError>>,
{
    tokio::pin!(work);
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + SAVE_EVERY, SAVE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = every.tick() => save(ctx, day, phase, cache).await?,
        }
    };
    save(ctx, day, phase, cache).await?;
    match result {
        Ok(done) => Ok(Resumable::Done(done)),
        Err(PipelineError::Stopped) if cache.learned() > 0 => {
            let more = More {
                more: true,
                answers_learned: cache.learned(),
                answers_reused: cache.seeded(),
                api_calls: cache.client().calls_made(),
            };
            tracing::info!(
                answers_learned = more.answers_learned,
                answers_reused = more.answers_reused,
                api_calls = more.api_calls,
                "stopped before the deadline; the step resumes from the saved answers"
            );
            Ok(Resumable::More(more))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_step_answers_its_usual_output_and_a_stopped_one_says_more() {
        let done: Resumable<u32> = Resumable::Done(7);
        assert_eq!(serde_json::to_value(&done).unwrap(), serde_json::json!(7));
        let more: Resumable<u32> = Resumable::More(More {
            more: true,
            answers_learned: 3,
            answers_reused: 2,
            api_calls: 3,
        });
        let json = serde_json::to_value(&more).unwrap();
        assert_eq!(json["more"], true);
        assert!(json.to_string().len() < 200);
    }
}
