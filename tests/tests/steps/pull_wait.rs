//! Pull takes only a whole export: a file still being written is waited for, one that never
//! settles fails the day, and one over the download limit is never read.

use leganto_shared::error::ErrorName as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use leganto_tests::support::RUN_DATE;
use serde_json::json;

use super::{expect_error, Options, World, EXPORT_NAME};
use crate::read_sample;

fn with_settings(settings: &[(&'static str, &str)]) -> Options {
    Options {
        settings: settings
            .iter()
            .map(|(name, value)| (*name, value.to_string()))
            .collect(),
        ..Options::default()
    }
}

/// Appends `rest` to `path` in `pieces` parts, one every `every`, as an export job writes;
/// stops early when `stop` is set.
fn keep_writing(
    path: std::path::PathBuf,
    rest: Vec<u8>,
    pieces: usize,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut file = std::fs::File::options().append(true).open(&path).unwrap();
        for chunk in rest.chunks(rest.len().div_ceil(pieces)) {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(every);
            file.write_all(chunk).unwrap();
            file.flush().unwrap();
        }
    })
}

#[tokio::test]
async fn an_export_still_being_written_is_waited_for_and_pulled_whole() {
    let world = World::start_with(
        "pull-growing",
        with_settings(&[
            ("SFTP_SETTLE_SECONDS", "1"),
            ("SFTP_COMPLETE_WAIT_SECONDS", "30"),
        ]),
    )
    .await;
    let whole = read_sample("cem.csv");
    let (first, rest) = whole.split_at(whole.len() / 10);
    let path = world.put_export(EXPORT_NAME, first);
    let stop = Arc::new(AtomicBool::new(false));
    // Nine more pieces, 400 ms apart: every second-apart pair of listings sees it grow.
    let writer = keep_writing(
        path,
        rest.to_vec(),
        9,
        Duration::from_millis(400),
        Arc::clone(&stop),
    );
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();

    let started = Instant::now();
    let pull = world.step("pull", &mut state, "pull").await;
    writer.join().unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "pulled after {:?}, before the writer finished",
        started.elapsed()
    );
    assert_eq!(pull["bytes"], whole.len() as u64);
    assert!(
        world.s3_get(pull["export_key"].as_str().unwrap()).await == whole,
        "the stored export is the whole file"
    );
}

#[tokio::test]
async fn an_export_that_keeps_growing_past_the_wait_is_source_file_incomplete() {
    let world = World::start_with(
        "pull-never-settles",
        with_settings(&[
            ("SFTP_SETTLE_SECONDS", "1"),
            ("SFTP_COMPLETE_WAIT_SECONDS", "3"),
        ]),
    )
    .await;
    let path = world.put_export(EXPORT_NAME, b"SLN,TITLE\r\n");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = keep_writing(
        path,
        b"12345,Growing row\r\n".repeat(100),
        100,
        Duration::from_millis(200),
        Arc::clone(&stop),
    );
    let state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();

    let started = Instant::now();
    let err = expect_error(world.call("pull", state).await);
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    assert_eq!(
        err.error_name(),
        "SourceFileIncomplete",
        "{}",
        err.message()
    );
    assert!(!err.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded wait: {:?}",
        started.elapsed()
    );
    let message = err.message();
    assert!(message.contains(EXPORT_NAME), "{message}");
    assert!(message.contains("still changing"), "{message}");
    assert!(
        message.contains("leganto rerun --run-date 2026-11-28 --from pull"),
        "{message}"
    );
    assert!(world.s3_keys("cem/").await.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn an_export_written_long_ago_is_taken_without_a_second_listing() {
    let world = World::start_with(
        "pull-settled",
        with_settings(&[
            ("SFTP_SETTLE_SECONDS", "20"),
            ("SFTP_COMPLETE_WAIT_SECONDS", "60"),
            ("SFTP_SETTLED_AGE_SECONDS", "120"),
        ]),
    )
    .await;
    let whole = read_sample("cem.csv");
    let path = world.put_export(EXPORT_NAME, &whole);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(180))
        .unwrap();
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();

    let started = Instant::now();
    let pull = world.step("pull", &mut state, "pull").await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no 20 s settle wait: {:?}",
        started.elapsed()
    );
    assert_eq!(pull["bytes"], whole.len() as u64);
}

#[tokio::test]
async fn an_export_over_the_download_limit_fails_clearly_and_nothing_is_stored() {
    let world = World::start_with(
        "pull-too-large",
        with_settings(&[("SFTP_MAX_DOWNLOAD_MB", "1")]),
    )
    .await;
    world.put_export(EXPORT_NAME, &vec![b'x'; 1024 * 1024 + 1]);
    let state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();

    let err = expect_error(world.call("pull", state).await);
    assert_eq!(err.error_name(), "SftpFileTooLarge", "{}", err.message());
    assert!(!err.is_transient());
    let message = err.message();
    assert!(message.contains(EXPORT_NAME), "{message}");
    assert!(message.contains("1048577 bytes"), "{message}");
    assert!(message.contains("limit of 1048576 bytes"), "{message}");
    assert!(world.s3_keys("cem/").await.is_empty(), "nothing was stored");
}
