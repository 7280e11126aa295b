//! The run date's lease, `locks/YYYY/MM/DD/run.json`: which execution is running the day.
//! Plan takes it with a conditional write, so a second execution for the date (a duplicate
//! schedule, a rerun started too soon) stops at once with `RunInProgress`; Release gives it
//! back on every ending. A lease nobody gave back (an execution stopped by hand) runs out
//! by itself after the longest run the stack allows, and the next execution takes it over.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::store::{content_type, DayKeys, Store, StoreError};

/// Why the day's lease could not be taken. The steps carry it as `RunInProgress` or as the
/// store's own error, under the same stable names.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another execution holds the day's lease.
    #[error("execution {holder} is already running {run_date} (since {since})")]
    RunInProgress {
        run_date: String,
        holder: String,
        since: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything but the waits: the Lambda stages with their retries, each bounded by its
/// timeout (the longest, 11 min, times four tries), with room to spare.
pub const STAGES_ALLOWANCE: Duration = Duration::from_secs(3 * 3600);

/// The longest run the stack allows: `EXPORT_WAIT_MINUTES` for a late export, plus
/// `WAIT_LIMIT_SECONDS` for Alma's job, plus `HOLD_LIMIT_HOURS` for a held day, plus
/// [`STAGES_ALLOWANCE`]. A lease lasts that long from when it was taken.
pub fn longest_run(config: &Config) -> Duration {
    config.export_wait.wait + config.wait.limit + config.hold.limit + STAGES_ALLOWANCE
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub run_date: NaiveDate,
    pub execution_arn: String,
    #[serde(default)]
    pub execution_name: String,
    pub started_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at < now
    }

    /// The holding execution as people know it: its name, else its ARN.
    pub fn holder(&self) -> &str {
        if self.execution_name.is_empty() {
            &self.execution_arn
        } else {
            &self.execution_name
        }
    }
}

fn bad_json(store: &Store, key: &str, source: serde_json::Error) -> StoreError {
    StoreError::BadJson {
        bucket: store.bucket().to_string(),
        key: key.to_string(),
        source,
    }
}

/// The day's lease and its ETag, if one is there.
pub async fn read(store: &Store, day: &DayKeys) -> Result<Option<(Lease, String)>, StoreError> {
    store.get_json_versioned(&day.lease()).await
}

/// Takes the day's lease for `lease.execution_arn`: a free day, an expired lease or one
/// this execution already holds (a retried Plan). Another holder is `RunInProgress`.
pub async fn take(store: &Store, day: &DayKeys, lease: &Lease) -> Result<(), LeaseError> {
    let key = day.lease();
    let body = serde_json::to_vec_pretty(lease).map_err(|e| bad_json(store, &key, e))?;
    // Two tries: a lease that changed between the read and the write is read again once.
    for _ in 0..2 {
        match read(store, day).await? {
            None => {
                if store
                    .put_new(&key, body.clone(), content_type::JSON)
                    .await?
                {
                    return Ok(());
                }
            }
            Some((held, _)) if held.execution_arn == lease.execution_arn => return Ok(()),
            Some((held, etag)) if held.is_expired(lease.started_at) => {
                tracing::warn!(
                    holder = %held.execution_name,
                    expired_at = %held.expires_at,
                    "taking over an expired lease"
                );
                if store
                    .replace_if(&key, &etag, body.clone(), content_type::JSON)
                    .await?
                {
                    return Ok(());
                }
            }
            Some((held, _)) => return Err(in_progress(&held)),
        }
    }
    match read(store, day).await? {
        Some((held, _)) if held.execution_arn == lease.execution_arn => Ok(()),
        Some((held, _)) => Err(in_progress(&held)),
        None => Err(StoreError::Unavailable {
            operation: "PutObject",
            bucket: store.bucket().to_string(),
            key,
            source: "the lease kept changing under conditional writes".into(),
        }
        .into()),
    }
}

fn in_progress(held: &Lease) -> LeaseError {
    LeaseError::RunInProgress {
        run_date: held.run_date.to_string(),
        holder: held.holder().to_string(),
        since: held.started_at.to_rfc3339(),
    }
}

/// Gives the day's lease back if `execution_arn` holds it; another's lease is left alone.
pub async fn release(
    store: &Store,
    day: &DayKeys,
    execution_arn: &str,
) -> Result<bool, StoreError> {
    match read(store, day).await? {
        Some((held, etag)) if held.execution_arn == execution_arn => {
            store.delete_if(&day.lease(), &etag).await
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_lasts_the_longest_run_the_stack_allows() {
        let config = Config::from_lookup(|name| {
            match name {
                "BUCKET" => Some("b"),
                "ALMA_BASE_URL" => Some("https://alma.example.edu"),
                "EMAIL_FROM" => Some("a@example.edu"),
                "EMAIL_TO" => Some("b@example.edu"),
                "WAIT_LIMIT_SECONDS" => Some("14400"),
                _ => None,
            }
            .map(str::to_string)
        })
        .unwrap();
        assert_eq!(
            longest_run(&config),
            Duration::from_secs((2 + 4 + 20 + 3) * 3600)
        );
    }

    #[test]
    fn a_lease_past_its_end_is_expired() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let lease = Lease {
            run_date: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
            execution_arn: "arn".into(),
            execution_name: "x".into(),
            started_at: at("2026-11-28T16:00:00Z"),
            expires_at: at("2026-11-29T19:00:00Z"),
        };
        assert!(!lease.is_expired(at("2026-11-29T19:00:00Z")));
        assert!(lease.is_expired(at("2026-11-29T19:00:01Z")));
    }
}
