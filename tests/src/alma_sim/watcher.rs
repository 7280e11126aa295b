//! When the course loader runs and which files it takes: Alma's rule is that a run takes
//! the files in its directory stamped later than its **last run**, a run that found no
//! file included, so a file stamped before a run that already happened is never loaded.
//!
//! Stamps (`YYYYMMDDHHMMSS.txt`) are the library's local time, so a run's time is kept
//! the same way, to the second: a file stamped in the very second of a run is not later
//! than it, and a file stamped in the future is later than every run until its time
//! comes, so each of those runs takes it again. The loader either runs on a schedule
//! (every run counts, an empty one is a job instance) or watches the directory (a new file
//! starts a run at once; a look that finds nothing new is no run). Before its first run
//! every loader file is new.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;

use super::job;
use super::model::JobInstance;
use super::server::Shared;

/// The loader's schedule and its memory of the last run.
#[derive(Debug)]
pub(crate) struct Loader {
    /// Run every this long; `None`: watch the directory instead.
    pub every: Option<Duration>,
    /// The library's time zone, which stamps are written in.
    pub time_zone: Tz,
    /// The last run's time in the library's time zone; held for a whole run, so runs
    /// never overlap.
    pub last_run: tokio::sync::Mutex<Option<NaiveDateTime>>,
}

/// The stamp of a loader file name `YYYYMMDDHHMMSS.txt`; anything else (temporary names,
/// dotfiles, `*.part`) is not a loader file.
pub fn stamp_of(name: &str) -> Option<&str> {
    let stamp = name.strip_suffix(".txt")?;
    let ok = stamp.len() == 14
        && stamp.bytes().all(|b| b.is_ascii_digit())
        && NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S").is_ok();
    ok.then_some(stamp)
}

fn stamp_time(stamp: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S").ok()
}

/// Now in the library's time zone, to the second, as a stamp would say it.
fn library_now(time_zone: Tz) -> NaiveDateTime {
    let local = Utc::now().with_timezone(&time_zone).naive_local();
    local.with_nanosecond(0).unwrap_or(local)
}

/// A loader file the run takes.
struct NewFile {
    stamp: NaiveDateTime,
    name: String,
    path: PathBuf,
}

/// Loader files stamped later than `last_run` (all of them before any run), oldest first.
fn new_files(dir: &Path, last_run: Option<NaiveDateTime>) -> io::Result<Vec<NewFile>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stamp) = stamp_of(&name).and_then(stamp_time) else {
            continue;
        };
        if last_run.is_some_and(|last| stamp <= last) {
            tracing::trace!(file = %name, "loader file not later than the last run; ignored");
            continue;
        }
        out.push(NewFile {
            stamp,
            name,
            path: entry.path(),
        });
    }
    out.sort_by(|a, b| (a.stamp, &a.name).cmp(&(b.stamp, &b.name)));
    Ok(out)
}

/// Runs the loader now, as its mode has it: on a schedule a run always counts (one that
/// finds nothing is a COMPLETED_NO_BULKS instance); when watching, only a new file starts
/// one. Returns the finished instances (none without a drop directory).
pub(crate) async fn run_once(shared: &Arc<Shared>) -> io::Result<Vec<JobInstance>> {
    run(shared, shared.loader.every.is_some()).await
}

/// One run: takes every file stamped later than the last run, one instance per file,
/// and records its own time, taken as it starts. `empty_counts`: a run that finds no file
/// still happens.
async fn run(shared: &Arc<Shared>, empty_counts: bool) -> io::Result<Vec<JobInstance>> {
    let Some(dir) = shared.drop_dir.clone() else {
        return Ok(Vec::new());
    };
    let mut last_run = shared.loader.last_run.lock().await;
    let now = library_now(shared.loader.time_zone);
    let after = *last_run;
    let files = tokio::task::spawn_blocking(move || new_files(&dir, after))
        .await
        .map_err(io::Error::other)??;
    if files.is_empty() && !empty_counts {
        return Ok(Vec::new());
    }
    *last_run = Some(now);
    if files.is_empty() {
        return Ok(vec![job::run_empty(shared)]);
    }
    let mut done = Vec::with_capacity(files.len());
    for file in files {
        if file.stamp > now {
            tracing::warn!(file = %file.name, "loader file stamped in the future: every run until then takes it again");
        }
        match tokio::fs::read(&file.path).await {
            Ok(bytes) => done.push(job::run_file(shared, &file.name, bytes).await),
            // Stamped before this run now, so no later run takes it either.
            Err(e) => {
                tracing::warn!(file = %file.name, error = %e, "cannot read loader file; skipped")
            }
        }
    }
    Ok(done)
}

/// Runs the loader on its schedule, or watches the directory every `watch_interval`,
/// until aborted.
pub(crate) fn spawn(shared: Arc<Shared>, watch_interval: Duration) -> tokio::task::JoinHandle<()> {
    let minimum = Duration::from_millis(10);
    match shared.loader.every {
        Some(every) => tokio::spawn(run_every(shared, every.max(minimum))),
        None => tokio::spawn(watch(shared, watch_interval.max(minimum))),
    }
}

/// A run every `every`, the first one `every` after the start; a run still going when
/// the next is due makes Alma skip that one.
async fn run_every(shared: Arc<Shared>, every: Duration) {
    let first = tokio::time::Instant::now() + every;
    let mut ticks = tokio::time::interval_at(first, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        if let Err(e) = run(&shared, true).await {
            tracing::warn!(error = %e, "cannot read the drop directory");
        }
    }
}

async fn watch(shared: Arc<Shared>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        if let Err(e) = run(&shared, false).await {
            tracing::warn!(error = %e, "cannot scan the drop directory");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stamped_txt_names_are_loader_files() {
        assert_eq!(stamp_of("20261128093000.txt"), Some("20261128093000"));
        assert_eq!(stamp_of("20261128093000.txt.part"), None);
        assert_eq!(stamp_of(".20261128093000.txt"), None);
        assert_eq!(stamp_of("20261328093000.txt"), None);
        assert_eq!(stamp_of("courses.txt"), None);
    }

    #[test]
    fn only_files_stamped_after_the_last_run_are_new() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "20261128092959.txt",
            "20261128093000.txt",
            "20261128093001.txt",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let last_run = stamp_time("20261128093000");
        let names: Vec<String> = new_files(dir.path(), last_run)
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, ["20261128093001.txt"]);
        assert_eq!(new_files(dir.path(), None).unwrap().len(), 3);
    }

    #[test]
    fn the_librarys_time_is_its_wall_clock_to_the_second() {
        let phoenix = library_now(chrono_tz::America::Phoenix);
        let utc = Utc::now().naive_utc();
        // Phoenix keeps UTC-7 all year.
        let behind = utc - phoenix;
        assert!(
            (behind - chrono::Duration::hours(7)).num_seconds().abs() <= 2,
            "{behind}"
        );
        assert_eq!(phoenix.nanosecond(), 0);
    }
}
