//! Build the rollover report: the day's export matched against the cached Alma courses
//! (`cache/…`; a year not cached is fetched), reading lists checked in Alma; the report
//! goes to `reports/…/rollover_YYYYMMDDHHMMSS.txt`.

mod ledger;

use crate::run::outputs::{AlmaJobOutput, ReportOutput};
use serde::Deserialize;

use super::cache_courses::CourseCacheFile;
use super::resume::{self, PushSide, Resumable};
use super::transform::{export_key, spool_export};
use super::{RunInfo, StepContext, StepError};
use crate::alma::CourseCache;
use crate::domain::delta::{self, Changed, DeltaError};
use crate::pipeline;
use crate::run::alma_rate::AlmaCaller;
use crate::run::outputs::CacheOutput;
use crate::run::outputs::PullOutput;
use crate::run::summary::TransformOutput;
use crate::store::{content_type, file_name, DayKeys, StoreError};

#[derive(Debug, Clone, Deserialize)]
pub struct RolloverReportInput {
    pub run: RunInfo,
    #[serde(default)]
    pub pull: Option<PullOutput>,
    #[serde(default)]
    pub transform: Option<TransformOutput>,
    #[serde(default)]
    pub caches: Option<Vec<CacheOutput>>,
    /// What Alma's job said: sent rollovers are judged only once it loaded the day.
    #[serde(default)]
    pub alma_job: Option<AlmaJobOutput>,
}

/// Of the report's rows, how many have a course row new or changed since the baseline the
/// day's delta was made against: today's course rows and the baseline day's, both kept
/// under `reports/` (the `state/` copy may already be today's). `None` for a full load.
async fn new_since_baseline(
    ctx: &StepContext,
    day: &DayKeys,
    transform: Option<&TransformOutput>,
    report: &[u8],
) -> Result<Option<u64>, NotCounted> {
    let Some(since) = transform
        .and_then(|t| t.load.as_ref())
        .and_then(|l| l.since)
    else {
        return Ok(None);
    };
    let today = delta::gunzip(&ctx.store.get(&day.course_rows()).await?)?;
    let baseline_key = DayKeys::new(since).course_rows();
    let baseline = delta::Baseline::from_gzip(&ctx.store.get(&baseline_key).await?)?;
    let changed = Changed::between(&today, &baseline);
    let new = delta::rows(report)
        .filter(|(code, _)| std::str::from_utf8(code).is_ok_and(|c| changed.contains(c)))
        .count();
    Ok(Some(new as u64))
}

/// Why the report's new rows were not counted (the report goes on without the count).
#[derive(Debug, thiserror::Error)]
enum NotCounted {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rows(#[from] DeltaError),
}

/// Puts the day's cache files into `cache`: those the Map made, else all in `cache/…`.
async fn load_caches(
    ctx: &StepContext,
    input: &RolloverReportInput,
    cache: &CourseCache,
) -> Result<usize, StepError> {
    let keys: Vec<String> = match &input.caches {
        Some(caches) => caches.iter().map(|c| c.cache_key.clone()).collect(),
        None => ctx
            .store
            .list(&input.run.day().cache_prefix())
            .await?
            .into_iter()
            .map(|o| o.key)
            .filter(|k| file_name(k).starts_with("courses-") && k.ends_with(".json"))
            .collect(),
    };
    for key in &keys {
        let file: CourseCacheFile = ctx.store.get_json(key).await?;
        cache.insert_year(&file.year.to_string(), file.courses);
    }
    Ok(keys.len())
}

/// The report, or `"more": true` when its time ran out before Alma was asked everything
/// (see [`resume`]).
pub async fn run(
    ctx: &StepContext,
    input: RolloverReportInput,
) -> Result<Resumable<ReportOutput>, StepError> {
    let day = input.run.day();
    let export_key = export_key(ctx, &day, input.pull.as_ref()).await?;
    let mut export = spool_export(ctx, &export_key).await?;
    let (rules, rules_version) = ctx.rules().await?;
    let cache =
        resume::resumable_cache(ctx, &day, PushSide::AfterPush, AlmaCaller::Alone, None).await?;
    let caches = load_caches(ctx, &input, &cache).await?;

    let mut report = Vec::new();
    let work = pipeline::rollover_report(&mut export, &rules, &cache, &mut report);
    let summary = match resume::drive(ctx, &day, PushSide::AfterPush, &cache, work).await? {
        Resumable::Done(summary) => summary,
        Resumable::More(more) => return Ok(Resumable::More(more)),
    };
    let counts = summary.rollovers.clone().unwrap_or_default();

    let new_since_baseline = match new_since_baseline(ctx, &day, input.transform.as_ref(), &report)
        .await
    {
        Ok(new) => new,
        Err(e) => {
            tracing::warn!(error = %e, "the report's rows new since the baseline were not counted");
            None
        }
    };
    let ledger = ledger::check_ledger_or_warn(ctx, &input, &report).await;
    let report_key = day.rollover_report(ctx.local_now());
    ctx.store
        .put(&report_key, report, content_type::TEXT)
        .await?;
    tracing::info!(
        report_key = %report_key,
        caches,
        found = counts.found,
        not_found = counts.not_found,
        ambiguous = counts.ambiguous,
        new_since_baseline,
        alma_calls = summary.alma_calls,
        "built the rollover report"
    );
    Ok(Resumable::Done(ReportOutput {
        report_file_name: file_name(&report_key).to_string(),
        report_key,
        rollovers: counts.found,
        ambiguous: counts.ambiguous,
        not_found: counts.not_found,
        candidates: counts.candidates,
        without_reading_lists: counts.without_reading_lists,
        excluded: counts.excluded,
        api_calls: summary.alma_calls,
        new_since_baseline,
        rules: Some(rules_version),
        ledger,
    }))
}
