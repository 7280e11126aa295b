//! Push to Alma SFTP: the day's loader file from S3 to Alma's SFTP directory under its
//! own name, atomically; an identical file already there is left alone (reruns never
//! duplicate). Never in a dry run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::transform::TransformOutput;
use super::RunInfo;
#[cfg(feature = "sftp")]
use {
    super::{StepContext, StepError},
    crate::sftp::UploadOutcome,
    crate::store::{file_name, StoreError},
    chrono::SubsecRound,
};

#[derive(Debug, Clone, Deserialize)]
pub struct PushInput {
    pub run: RunInfo,
    #[serde(default)]
    pub transform: Option<TransformOutput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushOutput {
    pub file_name: String,
    /// Absent when recalled by a rerun's plan (which may not read the SFTP login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_path: Option<String>,
    pub bytes: u64,
    pub pushed_at: DateTime<Utc>,
    /// An identical file was already on the server: nothing was uploaded.
    #[serde(default)]
    pub already_there: bool,
    /// Not pushed in this execution: the plan found the day's loader file in S3.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recalled: bool,
}

/// The loader file to push: the transform's, else the day's latest in `alma/`.
#[cfg(feature = "sftp")]
async fn loader_key(ctx: &StepContext, input: &PushInput) -> Result<String, StepError> {
    if let Some(t) = &input.transform {
        return Ok(t.loader_key.clone());
    }
    let prefix = input.run.day().alma_prefix();
    let latest = ctx
        .store
        .list(&prefix)
        .await?
        .into_iter()
        .map(|o| o.key)
        .filter(|k| k.ends_with(".txt"))
        .max();
    latest.ok_or_else(|| {
        StoreError::NotFound {
            bucket: ctx.store.bucket().to_string(),
            key: format!("{prefix}*.txt"),
        }
        .into()
    })
}

/// Needs the `sftp` feature (libssh2); the types above do not, so later steps read them.
#[cfg(feature = "sftp")]
pub async fn run(ctx: &StepContext, input: PushInput) -> Result<PushOutput, StepError> {
    if input.run.dry_run {
        // The state machine skips this step in a dry run; refuse rather than load Alma.
        return Err(StepError::invalid_input(
            "this is a dry run: nothing may be pushed to Alma",
        ));
    }
    let key = loader_key(ctx, &input).await?;
    let name = file_name(&key).to_string();
    let bytes = ctx.store.get(&key).await?;
    let size = bytes.len() as u64;
    let sftp = ctx.alma_sftp().await?;
    let outcome = sftp.upload_atomic(&name, bytes.to_vec()).await?;
    let remote_path = format!("{}/{name}", sftp.login().directory.trim_end_matches('/'));
    let already_there = outcome == UploadOutcome::AlreadyPresent;
    tracing::info!(
        loader_key = %key,
        remote_path = %remote_path,
        bytes = size,
        already_there,
        "pushed the loader file"
    );
    Ok(PushOutput {
        file_name: name,
        remote_path: Some(remote_path),
        bytes: size,
        pushed_at: ctx.now().trunc_subsecs(0),
        already_there,
        recalled: false,
    })
}
