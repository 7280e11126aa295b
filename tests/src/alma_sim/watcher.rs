//! The loader's side of the drop directory: which files it takes, each one run ([`job`]).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;

use super::job;
use super::model::JobInstance;
use super::server::Shared;

/// The stamp of a loader file name `YYYYMMDDHHMMSS.txt`; anything else (temporary names,
/// dotfiles, `*.part`) is not a loader file.
pub fn stamp_of(name: &str) -> Option<&str> {
    let stamp = name.strip_suffix(".txt")?;
    let ok = stamp.len() == 14
        && stamp.bytes().all(|b| b.is_ascii_digit())
        && NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S").is_ok();
    ok.then_some(stamp)
}

/// Loader files in the directory, oldest stamp first.
fn stamped_files(dir: &Path) -> io::Result<Vec<(String, String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stamp) = stamp_of(&name) {
            out.push((stamp.to_string(), name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Takes every file whose stamp is later than the last run's, one run per file, and
/// returns the finished instances. Runs never overlap.
pub(crate) async fn run_once(shared: &Arc<Shared>) -> io::Result<Vec<JobInstance>> {
    let Some(dir) = shared.drop_dir.clone() else {
        return Ok(Vec::new());
    };
    let _one_at_a_time = shared.loader_lock.lock().await;
    let files = tokio::task::spawn_blocking(move || stamped_files(&dir))
        .await
        .map_err(io::Error::other)??;
    let mut done = Vec::new();
    for (stamp, name, path) in files {
        let last = shared.lock().last_stamp.clone();
        if last.as_deref().is_some_and(|l| stamp.as_str() <= l) {
            tracing::trace!(file = %name, "loader file not later than the last run; ignored");
            continue;
        }
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(file = %name, error = %e, "cannot read loader file; will retry");
                continue;
            }
        };
        shared.lock().last_stamp = Some(stamp);
        done.push(job::run_file(shared, &name, bytes).await);
    }
    Ok(done)
}

/// Polls the drop directory until aborted.
pub(crate) fn spawn(shared: Arc<Shared>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval.max(Duration::from_millis(10))).await;
            if let Err(e) = run_once(&shared).await {
                tracing::warn!(error = %e, "cannot scan the drop directory");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::stamp_of;

    #[test]
    fn only_stamped_txt_names_are_loader_files() {
        assert_eq!(stamp_of("20261128093000.txt"), Some("20261128093000"));
        assert_eq!(stamp_of("20261128093000.txt.part"), None);
        assert_eq!(stamp_of(".20261128093000.txt"), None);
        assert_eq!(stamp_of("20261328093000.txt"), None);
        assert_eq!(stamp_of("courses.txt"), None);
    }
}
