//! `leganto full-load next|cancel|show`: ask for a full load on the next scheduled day,
//! take the request back, or see it ([`crate::run::full_load`] says what a run does with
//! it).

use chrono::{DateTime, Utc};

use super::OpsError;
use crate::run::full_load::{self, FullLoadRequest};
use crate::store::Store;

/// What asking did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// The request now stands.
    Recorded(FullLoadRequest),
    /// One stood already (kept as it was): the next scheduled day is full either way.
    Standing(FullLoadRequest),
}

/// Asks for a full load on the next scheduled day, by `by` at `now`.
#[tracing::instrument(skip(store), err)]
pub async fn ask(store: &Store, by: &str, now: DateTime<Utc>) -> Result<Asked, OpsError> {
    let request = FullLoadRequest::new(by, now);
    Ok(match full_load::ask(store, &request).await? {
        Ok(()) => Asked::Recorded(request),
        Err(standing) => Asked::Standing(standing),
    })
}

/// Takes the request back; `None` when there was none.
#[tracing::instrument(skip(store), err)]
pub async fn cancel(store: &Store) -> Result<Option<FullLoadRequest>, OpsError> {
    // Two tries: a request replaced between the read and the delete is read again once.
    for _ in 0..2 {
        let Some(standing) = full_load::read(store).await? else {
            return Ok(None);
        };
        if full_load::remove(store, &standing).await? {
            return Ok(Some(standing.request));
        }
    }
    Err(OpsError::FullLoadChanged {
        bucket: store.bucket().to_string(),
    })
}

/// The request standing, if any.
pub async fn show(store: &Store) -> Result<Option<FullLoadRequest>, OpsError> {
    Ok(full_load::read(store).await?.map(|s| s.request))
}
