//! The loader's side of the drop directory: which files it takes and the job instance's
//! QUEUED → RUNNING → COMPLETED_* lifecycle.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};

use super::loader;
use super::model::{JobInstance, JobStatus, LoaderCounters};
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

fn update(shared: &Shared, id: &str, f: impl FnOnce(&mut JobInstance)) {
    let mut store = shared.lock();
    if let Some(i) = store.instances.iter_mut().find(|i| i.id == id) {
        f(i);
    }
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
        done.push(run_file(shared, &stamp, &name, &bytes).await);
    }
    Ok(done)
}

async fn run_file(shared: &Shared, stamp: &str, name: &str, bytes: &[u8]) -> JobInstance {
    // Alma's loader works through every row: the file's size sets its time.
    let rows = bytes
        .split(|&b| b == b'\n')
        .skip(1)
        .filter(|l| !l.trim_ascii().is_empty())
        .count();
    let delay = shared.settings.loader_delay
        + shared.settings.loader_row_time * u32::try_from(rows).unwrap_or(u32::MAX);
    let id = {
        let mut store = shared.lock();
        store.last_stamp = Some(stamp.to_string());
        let id = store.next_instance.to_string();
        store.next_instance += 1;
        store.instances.push(JobInstance {
            id: id.clone(),
            file_name: name.to_string(),
            status: JobStatus::Queued,
            submit_time: Utc::now(),
            start_time: None,
            end_time: None,
            counters: LoaderCounters::default(),
            row_errors: Vec::new(),
            failure: None,
        });
        id
    };
    tracing::info!(file = %name, instance = %id, "course loader job queued");
    sleep(delay / 2).await;
    update(shared, &id, |i| {
        i.status = JobStatus::Running;
        i.start_time = Some(Utc::now());
    });
    sleep(delay - delay / 2).await;

    let mut store = shared.lock();
    let st = &mut *store;
    let report = loader::apply_file(
        bytes,
        &mut st.courses,
        &mut st.ids,
        &shared.settings.processing_departments,
    );
    tracing::info!(
        file = %name, instance = %id, status = report.status.value(),
        rows = report.counters.rows_read, errors = report.counters.errors,
        "course loader job finished"
    );
    let now = Utc::now();
    match st.instances.iter_mut().find(|i| i.id == id) {
        Some(instance) => {
            instance.status = report.status;
            instance.start_time.get_or_insert(now);
            instance.end_time = Some(now);
            instance.counters = report.counters;
            instance.row_errors = report.row_errors;
            instance.failure = report.failure;
            instance.clone()
        }
        // Instances are only ever appended; this arm only keeps the types total.
        None => JobInstance {
            id,
            file_name: name.to_string(),
            status: report.status,
            submit_time: now,
            start_time: Some(now),
            end_time: Some(now),
            counters: report.counters,
            row_errors: report.row_errors,
            failure: report.failure,
        },
    }
}

async fn sleep(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
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
