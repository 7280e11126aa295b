//! Decide on a day the safety brake held: `leganto approve` and `leganto reject` write
//! `reports/YYYY/MM/DD/decision.json`, which the held execution's check-hold step reads at
//! its next look. Refused when the day is not held (its summary's brake did not trip) or
//! was already pushed.

use chrono::{DateTime, NaiveDate, Utc};

use super::OpsError;
use crate::run::hold::{HoldDecision, Verdict};
use crate::run::receipt::read_receipt;
use crate::run::summary::TransformOutput;
use crate::store::{DayKeys, Store, StoreError};

/// What a person asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRequest {
    pub run_date: NaiveDate,
    pub decision: Verdict,
    /// Who decides (their AWS identity, else their login name).
    pub by: String,
    /// Why; required for a reject.
    pub reason: String,
}

/// The decision written, and what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub decision: HoldDecision,
    pub key: String,
    /// What tripped the brake, from the day's summary.
    pub reasons: Vec<String>,
}

/// Writes the decision for the day's held loader file.
#[tracing::instrument(skip(store), fields(run_date = %request.run_date, decision = ?request.decision), err)]
pub async fn decide(
    store: &Store,
    request: &DecisionRequest,
    now: DateTime<Utc>,
) -> Result<Decided, OpsError> {
    let run_date = request.run_date;
    require_reason_for_reject(request)?;
    let day = DayKeys::new(run_date);
    let summary = read_day_summary(store, &day, run_date).await?;
    require_tripped_brake(&summary, run_date)?;
    require_not_pushed(store, run_date).await?;
    let decision = HoldDecision {
        decision: request.decision,
        by: request.by.clone(),
        reason: request.reason.trim().to_string(),
        at: now,
        loader_file: summary.loader_file_name.clone(),
    };
    let key = day.hold_decision();
    store.put_json(&key, &decision).await?;
    tracing::info!(key = %key, loader_file = %decision.loader_file, by = %decision.by, "wrote the decision");
    Ok(Decided {
        decision,
        key,
        reasons: summary.brake.reasons,
    })
}

/// The decision refused for the day, saying why.
fn refused(run_date: NaiveDate, why: String) -> OpsError {
    OpsError::DecisionRefused {
        run_date: run_date.to_string(),
        why,
    }
}

fn require_reason_for_reject(request: &DecisionRequest) -> Result<(), OpsError> {
    if request.decision == Verdict::Reject && request.reason.trim().is_empty() {
        return Err(refused(
            request.run_date,
            "a reject needs a reason: pass --reason \"...\"".into(),
        ));
    }
    Ok(())
}

/// The day's run summary; refused when the day was never transformed.
async fn read_day_summary(
    store: &Store,
    day: &DayKeys,
    run_date: NaiveDate,
) -> Result<TransformOutput, OpsError> {
    match store.get_json(&day.run_summary()).await {
        Ok(summary) => Ok(summary),
        Err(StoreError::NotFound { .. }) => Err(refused(
            run_date,
            format!(
                "s3://{}/{} is missing, so the day was never transformed; \
                 nothing is held (leganto status --run-date {run_date} shows the day)",
                store.bucket(),
                day.run_summary()
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

fn require_tripped_brake(summary: &TransformOutput, run_date: NaiveDate) -> Result<(), OpsError> {
    if !summary.brake.tripped {
        return Err(refused(
            run_date,
            format!(
                "the safety brake did not trip for {} (the day's loader file), so nothing \
                 waits for a decision",
                summary.loader_file_name
            ),
        ));
    }
    Ok(())
}

/// Refused once the day's loader file was pushed: a decision would change nothing.
async fn require_not_pushed(store: &Store, run_date: NaiveDate) -> Result<(), OpsError> {
    if let Some(receipt) = read_receipt(store, run_date).await? {
        return Err(refused(
            run_date,
            format!(
                "{} was already pushed at {}; a decision would change nothing",
                receipt.file_name, receipt.pushed_at
            ),
        ));
    }
    Ok(())
}
