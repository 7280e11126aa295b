//! Pull the CEM export: the run date's `leganto_export_YYYYMMDD*` from the CEM SFTP server
//! into `cem/YYYY/MM/DD/<name>`, byte for byte. Several candidates → the newest (by mtime,
//! then name) and a warning; none → `SourceFileMissing`.

use serde::{Deserialize, Serialize};

use super::RunInfo;
use crate::sftp::RemoteFile;
#[cfg(feature = "sftp")]
use {
    super::{StepContext, StepError},
    crate::store::content_type,
};

#[derive(Debug, Clone, Deserialize)]
pub struct PullInput {
    pub run: RunInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullOutput {
    pub export_key: String,
    pub source_file: String,
    pub bytes: u64,
    #[serde(default)]
    pub candidates: Vec<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
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

/// Needs the `sftp` feature (libssh2); the types above do not, so later steps read them.
#[cfg(feature = "sftp")]
pub async fn run(ctx: &StepContext, input: PullInput) -> Result<PullOutput, StepError> {
    let sftp = ctx.cem_sftp().await?;
    let prefix = export_prefix(input.run.run_date);
    let files = sftp.list().await?;
    let candidates: Vec<RemoteFile> = files
        .iter()
        .filter(|f| f.name.starts_with(&prefix))
        .cloned()
        .collect();
    let Some(chosen) = choose_export(&candidates) else {
        return Err(StepError::SourceFileMissing {
            pattern: prefix,
            directory: sftp.login().directory.clone(),
            files_seen: files.len(),
        });
    };
    let mut warnings = Vec::new();
    if candidates.len() > 1 {
        let names: Vec<&str> = candidates.iter().map(|f| f.name.as_str()).collect();
        let warning = format!(
            "{} export files for {} on the CEM server ({}); took the newest, {}",
            candidates.len(),
            input.run.run_date,
            names.join(", "),
            chosen.name
        );
        tracing::warn!(candidates = candidates.len(), chosen = %chosen.name, "several export files");
        warnings.push(warning);
    }

    let bytes = sftp.download(&chosen.name).await?;
    let size = bytes.len() as u64;
    let export_key = input.run.day().cem_export(&chosen.name);
    // Stored exactly as pulled (Windows-1252): the transform decodes it.
    ctx.store
        .put(&export_key, bytes, content_type::CSV_WINDOWS_1252)
        .await?;
    tracing::info!(export_key = %export_key, bytes = size, "pulled the CEM export");
    Ok(PullOutput {
        export_key,
        source_file: chosen.name.clone(),
        bytes: size,
        candidates: candidates.into_iter().map(|f| f.name).collect(),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
