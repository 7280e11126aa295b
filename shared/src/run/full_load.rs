//! A full load asked for the next scheduled day: `leganto full-load next` writes
//! `state/full-load-request.json` (who, when); the next live scheduled run's transform
//! sends every course and says why, and its push, once done, removes the request, so a
//! day that fails before its push keeps it for the next one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::RunInfo;
use crate::store::{content_type, Store, StoreError, FULL_LOAD_REQUEST};

/// What `state/full-load-request.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullLoadRequest {
    /// Who asked (their AWS identity, else their login name).
    pub by: String,
    pub at: DateTime<Utc>,
}

/// At most this many characters of who asked are kept: the run's state carries them.
pub const MAX_BY_CHARS: usize = 200;

impl FullLoadRequest {
    /// `by`'s first [`MAX_BY_CHARS`] characters asked at `at`.
    pub fn new(by: &str, at: DateTime<Utc>) -> FullLoadRequest {
        FullLoadRequest {
            by: by.trim().chars().take(MAX_BY_CHARS).collect(),
            at,
        }
    }

    /// Why the day's file is full: "a full load was asked for by … on …".
    pub fn reason(&self) -> String {
        format!(
            "a full load was asked for by {} on {}",
            self.by,
            self.at.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

/// The request a run follows, with the ETag it was read at: the push removes exactly
/// that version, never a request made after the transform read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowedRequest {
    #[serde(flatten)]
    pub request: FullLoadRequest,
    pub etag: String,
}

/// Whether `run` is the one a request is for: a live run the schedule started (its input
/// named no day and no stage), not a dry run, a preflight or a rerun by hand.
pub fn follows_requests(run: &RunInfo) -> bool {
    run.scheduled && !run.dry_run
}

/// The request standing, if any.
pub async fn read(store: &Store) -> Result<Option<FollowedRequest>, StoreError> {
    Ok(store
        .get_json_versioned::<FullLoadRequest>(FULL_LOAD_REQUEST)
        .await?
        .map(|(request, etag)| FollowedRequest { request, etag }))
}

/// Records `request` unless one stands (a conditional write): `Err` with the standing one.
pub async fn ask(
    store: &Store,
    request: &FullLoadRequest,
) -> Result<Result<(), FullLoadRequest>, StoreError> {
    let body = serde_json::to_vec_pretty(request).map_err(|e| StoreError::BadJson {
        bucket: store.bucket().to_string(),
        key: FULL_LOAD_REQUEST.to_string(),
        source: e,
    })?;
    if store
        .put_new(FULL_LOAD_REQUEST, body, content_type::JSON)
        .await?
    {
        return Ok(Ok(()));
    }
    match read(store).await? {
        Some(standing) => Ok(Err(standing.request)),
        // Gone between the write and the read: asked for again.
        None => Box::pin(ask(store, request)).await,
    }
}

/// Removes the request as it was read; `Ok(false)` when it changed or is gone.
pub async fn remove(store: &Store, followed: &FollowedRequest) -> Result<bool, StoreError> {
    store.delete_if(FULL_LOAD_REQUEST, &followed.etag).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Stage;

    fn run() -> RunInfo {
        let mut run = RunInfo::for_date("2026-11-28".parse().unwrap());
        run.scheduled = true;
        run
    }

    #[test]
    fn only_a_live_scheduled_run_follows_a_request() {
        assert!(follows_requests(&run()));
        let mut dry = run();
        dry.dry_run = true;
        assert!(!follows_requests(&dry), "a dry run loads nothing");
        let mut by_hand = run();
        by_hand.scheduled = false;
        by_hand.start_at = Stage::Transform;
        assert!(!follows_requests(&by_hand), "a rerun by hand");
    }

    #[test]
    fn the_reason_says_who_asked_and_when() {
        let request = FullLoadRequest {
            by: "arn:aws:iam::123456789012:user/pat".into(),
            at: "2026-11-27T22:05:00Z".parse().unwrap(),
        };
        assert_eq!(
            request.reason(),
            "a full load was asked for by arn:aws:iam::123456789012:user/pat on 2026-11-27 22:05 UTC"
        );
    }
}
