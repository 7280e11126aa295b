//! Pull the CEM export: the run date's `leganto_export_YYYYMMDD*` from the CEM SFTP server
//! into `cem/YYYY/MM/DD/<name>`, byte for byte. Several candidates → the newest (by mtime,
//! then name) and a warning; none → `SourceFileMissing`.
//!
//! Only a complete export is taken: one last modified at least `SFTP_SETTLED_AGE_SECONDS`
//! ago, or whose size and modification time stay the same across two listings
//! `SFTP_SETTLE_SECONDS` apart. One still changing is listed again until it settles, for at
//! most `SFTP_COMPLETE_WAIT_SECONDS`; then `SourceFileIncomplete`. A file over
//! `SFTP_MAX_DOWNLOAD_MB` is `SftpFileTooLarge`, before anything is read.
//!
//! Asked only to look (`{"look": true, "run"}`, a scheduled run's first state), it lists the
//! server and answers whether the export is there and, if not, whether to look again
//! ([`crate::run::export_wait`]); it reads and writes nothing else.

#[cfg(feature = "sftp")]
use crate::run::outputs::PullOutput;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::RunInfo;
#[cfg(feature = "sftp")]
use crate::run::export_wait::look_again;
pub use crate::run::export_wait::ExportLook;
use crate::run::limits::{self, capped};
use crate::sftp::RemoteFile;
#[cfg(feature = "sftp")]
use {
    super::{StepContext, StepError},
    crate::store::content_type,
};

#[derive(Debug, Clone, Deserialize)]
pub struct PullInput {
    pub run: RunInfo,
    /// Only look for the export ([`ExportLook`]); pull nothing.
    #[serde(default)]
    pub look: bool,
}

/// Pull's answer: the export pulled (`$.pull`), or, asked only to look, what the look
/// found (`$.export_look`).
#[cfg(feature = "sftp")]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum PullAnswer {
    Pulled(PullOutput),
    Looked(ExportLook),
}

/// Whether `files` hold an export for the run date (a name starting with `prefix`).
pub fn export_is_there(files: &[RemoteFile], prefix: &str) -> bool {
    files.iter().any(|f| f.name.starts_with(prefix))
}

/// `leganto_export_20261128`: every export for the run date starts so.
pub fn export_prefix(run_date: chrono::NaiveDate) -> String {
    format!("leganto_export_{}", run_date.format("%Y%m%d"))
}

/// The export to take among the candidates: the newest by mtime, then by name.
pub fn choose_export(candidates: &[RemoteFile]) -> Option<&RemoteFile> {
    candidates
        .iter()
        .max_by(|a, b| a.mtime.cmp(&b.mtime).then_with(|| a.name.cmp(&b.name)))
}

/// Whether `file` (as just listed) is whole: last modified at least `settled_age` before
/// `now`, or listed with the same size and modification time the listing before
/// (`previous`). A modification time in the future (a skewed server clock) is not old.
pub fn is_complete(
    file: &RemoteFile,
    previous: Option<&RemoteFile>,
    now: DateTime<Utc>,
    settled_age: Duration,
) -> bool {
    let old_enough = file
        .mtime
        .and_then(|mtime| (now - mtime).to_std().ok())
        .is_some_and(|age| age >= settled_age);
    let unchanged = previous
        .is_some_and(|p| p.name == file.name && p.size == file.size && p.mtime == file.mtime);
    old_enough || unchanged
}

/// What the pull reports about the candidates: their names, newest first, and a warning
/// when there are several. Both within the state's limits (see [`limits`]): a server
/// holding hundreds of exports for the day must not break the run; the log has them all.
pub fn candidate_report(
    candidates: &[RemoteFile],
    chosen: &RemoteFile,
    run_date: chrono::NaiveDate,
) -> (Vec<String>, Vec<String>) {
    let mut newest_first: Vec<&RemoteFile> = candidates.iter().collect();
    newest_first.sort_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| b.name.cmp(&a.name)));
    let names = || newest_first.iter().map(|f| f.name.clone());
    let mut warnings = Vec::new();
    if candidates.len() > 1 {
        let others = capped(
            names().filter(|n| *n != chosen.name),
            limits::LIST_ITEMS,
            "see the candidates",
        );
        warnings.push(format!(
            "{} export files for {} on the CEM server; took the newest, {} (the others: {})",
            candidates.len(),
            run_date,
            chosen.name,
            others.join(", ")
        ));
    }
    (
        capped(names(), limits::LIST_ITEMS, "see the CEM server"),
        capped(warnings, limits::LIST_ITEMS, "see the logs"),
    )
}

/// Needs the `sftp` feature (libssh2); the types above do not, so later steps read them.
#[cfg(feature = "sftp")]
pub async fn run(ctx: &StepContext, input: PullInput) -> Result<PullAnswer, StepError> {
    if input.look {
        look(ctx, &input.run).await.map(PullAnswer::Looked)
    } else {
        pull(ctx, input).await.map(PullAnswer::Pulled)
    }
}

/// One look for the run date's export; not there before `run.export_wait_until` means
/// look again.
#[cfg(feature = "sftp")]
async fn look(ctx: &StepContext, run: &RunInfo) -> Result<ExportLook, StepError> {
    let sftp = ctx.cem_sftp().await?;
    let prefix = export_prefix(run.run_date);
    let files = sftp.list().await?;
    let now = ctx.now();
    let there = export_is_there(&files, &prefix);
    let again = !there && look_again(now, run.export_wait_until);
    tracing::info!(
        there,
        look_again = again,
        files_seen = files.len(),
        until = ?run.export_wait_until,
        "looked for the CEM export"
    );
    Ok(ExportLook {
        there,
        look_again: again,
        looked_at: now,
    })
}

#[cfg(feature = "sftp")]
async fn pull(ctx: &StepContext, input: PullInput) -> Result<PullOutput, StepError> {
    let sftp = ctx.cem_sftp().await?;
    let prefix = export_prefix(input.run.run_date);
    let (candidates, chosen) = wait_for_complete_export(ctx, &sftp, &input, &prefix)
        .await
        .map_err(|e| said_how_long_it_looked(e, &input.run))?;
    let (candidate_names, warnings) = candidate_report(&candidates, &chosen, input.run.run_date);
    if candidates.len() > 1 {
        let all: Vec<&str> = candidates.iter().map(|f| f.name.as_str()).collect();
        tracing::warn!(candidates = candidates.len(), chosen = %chosen.name, all = ?all, "several export files");
    }

    let export_key = input.run.day().cem_export(&chosen.name);
    let written = copy_to_store(ctx, &sftp, &chosen.name, &export_key).await?;
    let size = written.bytes;
    tracing::info!(
        export_key = %export_key,
        bytes = size,
        parts = written.parts,
        sha256 = %written.sha256,
        "pulled the CEM export"
    );
    Ok(PullOutput {
        export_key,
        source_file: chosen.name.clone(),
        bytes: size,
        candidates: candidate_names,
        warnings,
    })
}

/// What a streamed copy left in S3, with the digest of the bytes read.
#[cfg(feature = "sftp")]
struct Pulled {
    bytes: u64,
    parts: u32,
    sha256: String,
}

/// Parts read from SFTP waiting for S3: with the one being read and the one being sent,
/// the copy holds at most four parts (32 MB) whatever the file's size.
#[cfg(feature = "sftp")]
const PARTS_IN_FLIGHT: usize = 2;

/// Copies the export from SFTP into S3 a part at a time, stored exactly as pulled
/// (Windows-1252: the transform decodes it). The SFTP read runs on the blocking pool and
/// waits while S3 is behind (a bounded channel); the object appears under `key` only when
/// the whole file was read and its size checked, else the multipart upload is aborted.
#[cfg(feature = "sftp")]
async fn copy_to_store(
    ctx: &StepContext,
    sftp: &crate::sftp::SftpClient,
    name: &str,
    key: &str,
) -> Result<Pulled, StepError> {
    let (parts_tx, parts_rx) = tokio::sync::mpsc::channel(PARTS_IN_FLIGHT);
    let mut object = ctx.store.streamed(key, content_type::CSV_WINDOWS_1252);
    let read = sftp.download_parts(name, crate::store::PART_BYTES, parts_tx);
    let write = async {
        // Owned here, so it is dropped (and the read stopped) as soon as S3 fails.
        let mut parts_rx = parts_rx;
        while let Some(part) = parts_rx.recv().await {
            object.write_part(part).await?;
        }
        Ok::<(), crate::store::StoreError>(())
    };
    // When S3 fails, `write` ends and drops the receiver, which stops the read.
    let (read, write) = tokio::join!(read, write);
    match (read, write) {
        (Ok(copied), Ok(())) => {
            let written = object.finish().await?;
            Ok(Pulled {
                bytes: copied.bytes,
                parts: written.parts,
                sha256: copied.sha256,
            })
        }
        (_, Err(store_error)) => {
            object.abandon().await;
            Err(store_error.into())
        }
        (Err(sftp_error), Ok(())) => {
            object.abandon().await;
            Err(sftp_error.into())
        }
    }
}

/// A missing export that a scheduled run looked for says until when.
#[cfg(feature = "sftp")]
fn said_how_long_it_looked(error: StepError, run: &RunInfo) -> StepError {
    match (error, run.export_wait_until, run.started_at) {
        (
            StepError::SourceFileMissing {
                pattern,
                directory,
                files_seen,
                ..
            },
            Some(until),
            Some(since),
        ) => {
            let tz = run
                .time_zone
                .parse()
                .unwrap_or(crate::config::DEFAULT_TIME_ZONE);
            StepError::SourceFileMissing {
                pattern,
                directory,
                files_seen,
                waited: format!(
                    "; looked for it from the start until {}",
                    crate::run::export_wait::local_time(until, since, tz)
                ),
            }
        }
        (error, ..) => error,
    }
}

/// Lists the day's exports until the newest is complete ([`is_complete`]); returns the
/// candidates of the last listing and the one to take.
#[cfg(feature = "sftp")]
async fn wait_for_complete_export(
    ctx: &StepContext,
    sftp: &crate::sftp::SftpClient,
    input: &PullInput,
    prefix: &str,
) -> Result<(Vec<RemoteFile>, RemoteFile), StepError> {
    let config = &ctx.config;
    let started = std::time::Instant::now();
    let mut previous: Option<RemoteFile> = None;
    loop {
        let (candidates, chosen) = newest_export(sftp, prefix).await?;
        if is_complete(
            &chosen,
            previous.as_ref(),
            ctx.now(),
            config.sftp.settled_age,
        ) {
            return Ok((candidates, chosen));
        }
        let waited = started.elapsed();
        if waited + config.sftp.settle > config.sftp.complete_wait {
            return Err(StepError::SourceFileIncomplete {
                run_date: input.run.run_date.to_string(),
                file: chosen.name,
                size: chosen.size,
                waited_seconds: waited.as_secs(),
            });
        }
        tracing::info!(
            file = %chosen.name,
            size = chosen.size,
            mtime = ?chosen.mtime,
            waited_ms = waited.as_millis() as u64,
            "the export may still be being written; listing it again"
        );
        previous = Some(chosen);
        tokio::time::sleep(config.sftp.settle).await;
    }
}

/// One listing of the day's exports: the candidates and the newest ([`choose_export`]);
/// `SourceFileMissing` when there is none, `SftpFileTooLarge` when it is over the limit.
#[cfg(feature = "sftp")]
async fn newest_export(
    sftp: &crate::sftp::SftpClient,
    prefix: &str,
) -> Result<(Vec<RemoteFile>, RemoteFile), StepError> {
    let files = sftp.list().await?;
    let candidates: Vec<RemoteFile> = files
        .iter()
        .filter(|f| f.name.starts_with(prefix))
        .cloned()
        .collect();
    let Some(chosen) = choose_export(&candidates).cloned() else {
        return Err(StepError::SourceFileMissing {
            pattern: prefix.to_string(),
            directory: sftp.login().directory.clone(),
            files_seen: files.len(),
            waited: String::new(),
        });
    };
    // Refused from its listed size before any wait or read.
    if chosen.size > sftp.max_download() {
        return Err(crate::sftp::SftpError::TooLarge {
            path: format!(
                "{}/{}",
                sftp.login().directory.trim_end_matches('/'),
                chosen.name
            ),
            size: chosen.size,
            limit: sftp.max_download(),
        }
        .into());
    }
    Ok((candidates, chosen))
}

#[cfg(test)]
mod tests {
    use super::*;
    // The step's answer, used here with or without the `sftp` feature.
    use crate::run::outputs::PullOutput;
    use chrono::{DateTime, NaiveDate};

    fn file(name: &str, mtime: Option<i64>) -> RemoteFile {
        RemoteFile {
            name: name.into(),
            size: 1,
            mtime: mtime.and_then(|s| DateTime::from_timestamp(s, 0)),
        }
    }

    #[test]
    fn the_export_prefix_carries_the_compact_run_date() {
        let date = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        assert_eq!(export_prefix(date), "leganto_export_20260105");
    }

    #[test]
    fn the_newest_export_wins_and_the_name_breaks_ties() {
        let files = [
            file("leganto_export_20261128_b.csv", Some(100)),
            file("leganto_export_20261128_a.csv", Some(200)),
            file("leganto_export_20261128.csv", None),
        ];
        assert_eq!(
            choose_export(&files).unwrap().name,
            "leganto_export_20261128_a.csv"
        );
        let tied = [
            file("leganto_export_20261128_a.csv", Some(100)),
            file("leganto_export_20261128_b.csv", Some(100)),
        ];
        assert_eq!(
            choose_export(&tied).unwrap().name,
            "leganto_export_20261128_b.csv"
        );
        assert!(choose_export(&[]).is_none());
    }

    #[test]
    fn five_hundred_export_files_stay_within_the_output_budget() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        // Long names full of characters JSON escapes, as a misbehaving server might send.
        let files: Vec<RemoteFile> = (0..500)
            .map(|i| {
                let name = format!(
                    "leganto_export_20261128_{i:03}_{}.csv",
                    "\"x\\é".repeat(300)
                );
                file(&name, Some(i))
            })
            .collect();
        let chosen = choose_export(&files).unwrap();
        let (candidates, warnings) = candidate_report(&files, chosen, date);
        assert_eq!(candidates.len(), limits::LIST_ITEMS + 1);
        assert!(candidates[0].starts_with("leganto_export_20261128_499_"));
        assert_eq!(
            candidates[limits::LIST_ITEMS],
            "… and 475 more (see the CEM server)"
        );
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("500 export files for 2026-11-28"),
            "{}",
            warnings[0]
        );
        let output = PullOutput {
            export_key: format!("cem/2026/11/28/{}", "k".repeat(1000)),
            source_file: "s".repeat(1000),
            bytes: 1,
            candidates,
            warnings,
        };
        let json = serde_json::to_string(&output).unwrap();
        assert!(
            json.len() < limits::STEP_OUTPUT_BUDGET,
            "{} bytes",
            json.len()
        );
    }

    #[test]
    fn an_export_is_complete_when_old_enough_or_unchanged_since_the_last_listing() {
        let now = DateTime::from_timestamp(10_000, 0).unwrap();
        let age = Duration::from_secs(120);
        let listed = |size: u64, mtime: i64| RemoteFile {
            name: "leganto_export_20261128.csv".into(),
            size,
            mtime: DateTime::from_timestamp(mtime, 0),
        };
        // Old enough on the first listing.
        assert!(is_complete(&listed(5, 10_000 - 120), None, now, age));
        // Fresh: needs a second listing that shows it unchanged.
        let fresh = listed(5, 9_990);
        assert!(!is_complete(&fresh, None, now, age));
        assert!(is_complete(&fresh, Some(&fresh), now, age));
        // Grown, or touched, since the last listing.
        assert!(!is_complete(&listed(6, 9_990), Some(&fresh), now, age));
        assert!(!is_complete(&listed(5, 9_991), Some(&fresh), now, age));
        // Another file than the one listed before.
        let other = RemoteFile {
            name: "leganto_export_20261128_b.csv".into(),
            ..fresh.clone()
        };
        assert!(!is_complete(&other, Some(&fresh), now, age));
        // A modification time in the future is not old, and none at all needs two listings.
        assert!(!is_complete(&listed(5, 20_000), None, now, age));
        let no_mtime = file("leganto_export_20261128.csv", None);
        assert!(!is_complete(&no_mtime, None, now, age));
        assert!(is_complete(&no_mtime, Some(&no_mtime), now, age));
    }

    #[test]
    fn only_a_file_named_for_the_run_date_counts_as_the_export() {
        let prefix = export_prefix(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap());
        let other_day = [file("leganto_export_20261127.csv", Some(1))];
        assert!(!export_is_there(&other_day, &prefix));
        assert!(!export_is_there(&[], &prefix));
        let today = [file("leganto_export_20261128_2.csv", Some(1))];
        assert!(export_is_there(&today, &prefix));
    }

    #[test]
    fn one_export_file_is_no_warning() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let files = [file("leganto_export_20261128.csv", None)];
        let (candidates, warnings) = candidate_report(&files, &files[0], date);
        assert_eq!(candidates, ["leganto_export_20261128.csv"]);
        assert!(warnings.is_empty());
    }
}
