//! The baseline of delta loads (course-loading.md §8) in the bucket: the course rows of the
//! last day Alma loaded, under `state/` (outside the expiry rule, replaced each loaded day).
//! The transform saves each day's course rows beside the day and reads the baseline to
//! choose a delta or a full file; the job check promotes the day's rows once Alma's job
//! for the pushed file ended COMPLETED_SUCCESS or COMPLETED_WARNING. A dry run never
//! touches `state/`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::full_load::{self, FollowedRequest};
use super::receipt::read_receipt;
use super::summary::SummaryStamp;
use super::RunInfo;
use crate::domain::delta::{Baseline, FullLoadPolicy};
use crate::store::{content_type, Store, StoreError, BASELINE, BASELINE_ROWS};

/// `state/baseline.json`: which day the baseline's rows are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineRecord {
    /// The run date of the loaded day.
    pub run_date: NaiveDate,
    /// Alma's status for that day's job.
    pub job_status: String,
    pub promoted_at: DateTime<Utc>,
}

/// The day's file: the changes since the baseline, or every course and why.
#[derive(Debug)]
pub enum LoadPlan {
    Delta {
        baseline: Baseline,
        loaded: NaiveDate,
    },
    Full {
        reason: String,
        /// The request for a full load the file follows, which its push removes.
        requested: Option<FollowedRequest>,
    },
}

/// Alma's job statuses after which the day counts as loaded.
pub fn loaded(job_status: &str) -> bool {
    matches!(job_status, "COMPLETED_SUCCESS" | "COMPLETED_WARNING")
}

/// What the baseline record says, if there is one; an unreadable record reads as none
/// (a full file then puts things right).
async fn record(store: &Store) -> Result<Option<BaselineRecord>, StoreError> {
    match store.get_json::<BaselineRecord>(BASELINE).await {
        Ok(r) => Ok(Some(r)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e @ StoreError::BadJson { .. }) => {
            tracing::warn!(error = %e, "the baseline record is unreadable; sending a full file");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A full file for `reason`, asked for by nobody.
fn full(reason: impl Into<String>) -> LoadPlan {
    LoadPlan::Full {
        reason: reason.into(),
        requested: None,
    }
}

/// Delta or full for `run`, as §8, a person's request ([`full_load`]) and the
/// `FullLoadPolicy` settings say.
pub async fn plan(
    store: &Store,
    policy: &FullLoadPolicy,
    run: &RunInfo,
) -> Result<LoadPlan, StoreError> {
    let record = record(store).await?;
    let loaded = record.as_ref().map(|r| r.run_date);
    // A rerun's own --full first; then a person's request, whatever else holds.
    if !run.full && full_load::follows_requests(run) {
        if let Some(requested) = full_load::read(store).await? {
            tracing::info!(by = %requested.request.by, at = %requested.request.at, "a full load was asked for");
            return Ok(LoadPlan::Full {
                reason: requested.request.reason(),
                requested: Some(requested),
            });
        }
    }
    if let Some(reason) = policy.full_reason(run.full, run.run_date, loaded) {
        return Ok(full(reason));
    }
    let Some(loaded) = loaded else {
        return Ok(full("no baseline: no loaded day yet"));
    };
    let bytes = match store.get(BASELINE_ROWS).await {
        Ok(b) => b,
        Err(StoreError::NotFound { .. }) => {
            return Ok(full("no baseline: its course rows are missing"))
        }
        Err(e) => return Err(e),
    };
    match Baseline::from_gzip(&bytes) {
        Ok(baseline) => Ok(LoadPlan::Delta { baseline, loaded }),
        Err(e) => {
            tracing::warn!(error = %e, "the baseline is unreadable; sending a full file");
            Ok(full("the baseline cannot be read"))
        }
    }
}

/// Whether the day's course rows came with the file Alma got: the run summary names the
/// transform's file the rows came with, the day's receipt the one its push started from.
async fn rows_are_of_the_pushed_file(store: &Store, run: &RunInfo) -> Result<bool, StoreError> {
    let Some(receipt) = read_receipt(store, run.run_date).await? else {
        tracing::warn!("the day has no push receipt; the baseline is kept");
        return Ok(false);
    };
    let pushed_from = receipt.transform_key.unwrap_or(receipt.loader_key);
    let rows_of = match store
        .get_json::<SummaryStamp>(&run.day().run_summary())
        .await
    {
        Ok(summary) => summary.loader_key,
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let same = rows_of.as_deref() == Some(pushed_from.as_str());
    if !same {
        tracing::warn!(
            pushed_from,
            rows_of = ?rows_of,
            "the day's course rows are not those of the file pushed; the baseline is kept"
        );
    }
    Ok(same)
}

/// Makes the day's course rows the baseline once Alma loaded its file (`job_status`).
/// Returns whether it did. Never for a dry run, a failed job, or a day older than the
/// baseline's.
pub async fn promote(
    store: &Store,
    run: &RunInfo,
    job_status: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if run.dry_run || !loaded(job_status) {
        return Ok(false);
    }
    if let Some(current) = record(store).await? {
        if current.run_date > run.run_date {
            tracing::info!(baseline = %current.run_date, "the baseline is a later day's; kept");
            return Ok(false);
        }
    }
    if !rows_are_of_the_pushed_file(store, run).await? {
        return Ok(false);
    }
    let day = run.day();
    let rows = match store.get(&day.course_rows()).await {
        Ok(b) => b,
        Err(StoreError::NotFound { key, .. }) => {
            tracing::warn!(key, "the day has no course rows; the baseline is kept");
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    store.put(BASELINE_ROWS, rows, content_type::GZIP).await?;
    // Last: the record names the rows just written.
    store
        .put_json(
            BASELINE,
            &BaselineRecord {
                run_date: run.run_date,
                job_status: job_status.to_string(),
                promoted_at: now,
            },
        )
        .await?;
    tracing::info!(run_date = %run.run_date, job_status, "the day's course rows are the baseline");
    Ok(true)
}
