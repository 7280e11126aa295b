//! A person's decision on a day the safety brake held: `reports/YYYY/MM/DD/decision.json`,
//! written by `leganto approve` / `leganto reject` and read by the held execution's
//! check-hold step.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{DayKeys, Store, StoreError};

/// What a person decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

/// `reports/YYYY/MM/DD/decision.json`, as `leganto approve` / `leganto reject` write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldDecision {
    pub decision: Verdict,
    /// Who decided: their AWS identity, else their login name.
    pub by: String,
    #[serde(default)]
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The held loader file the decision is about.
    pub loader_file: String,
}

/// The day's decision, if someone made one.
pub async fn read_decision(
    store: &Store,
    run_date: NaiveDate,
) -> Result<Option<HoldDecision>, StoreError> {
    match store
        .get_json(&DayKeys::new(run_date).hold_decision())
        .await
    {
        Ok(decision) => Ok(Some(decision)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
