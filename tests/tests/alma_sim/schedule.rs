//! The course loader on a schedule, as Alma's integration profile runs it: every run
//! counts, an empty one too, and a file stamped before a run that already happened is
//! never loaded.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use leganto_tests::alma_sim::{AlmaSim, JobStatus, LoaderCounters, SimOptions};
use serde_json::Value;

use super::common::*;

/// A simulator whose loader runs every `every` on a fresh drop directory.
async fn scheduled(every: Duration) -> (AlmaSim, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = scheduled_on(&dir, every).await;
    (sim, dir)
}

async fn scheduled_on(dir: &tempfile::TempDir, every: Duration) -> AlmaSim {
    let path = dir.path().to_path_buf();
    start(Vec::new(), |o| {
        o.drop_dir = Some(path);
        o.loader_every = Some(every);
        o.per_second_limit = None;
    })
    .await
}

/// Waits (30 s at most) until the loader has finished `n` runs.
async fn runs_finished(sim: &AlmaSim, n: usize) -> Vec<leganto_tests::alma_sim::JobInstance> {
    for _ in 0..300 {
        let runs = sim.job_instances();
        if runs.iter().filter(|r| r.status.is_final()).count() >= n {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} runs after 30 s: {:?}", sim.job_instances());
}

fn statuses(runs: &[leganto_tests::alma_sim::JobInstance]) -> Vec<JobStatus> {
    runs.iter().map(|r| r.status).collect()
}

#[tokio::test]
async fn on_a_schedule_a_run_that_finds_no_file_is_a_no_bulks_job_instance() {
    let (sim, _dir) = scheduled(Duration::from_secs(1)).await;
    let runs = runs_finished(&sim, 2).await;
    for run in &runs[..2] {
        assert_eq!(run.status, JobStatus::CompletedNoBulks);
        assert_eq!(run.file_name, "");
        assert_eq!(run.counters, LoaderCounters::default());
        assert!(run.row_errors.is_empty() && run.failure.is_none());
    }

    // And the jobs API lists them as Alma would, finished.
    let job = SimOptions::default().loader_job_id;
    let today = Utc::now().date_naive();
    let v = get_json(
        &sim,
        &format!("/almaws/v1/conf/jobs/{job}/instances?submit_date_from={today}"),
    )
    .await;
    let listed = v["job_instance"].as_array().unwrap();
    assert!(listed.len() >= 2, "{v}");
    for instance in listed {
        assert_eq!(instance["status"]["value"], "COMPLETED_NO_BULKS", "{v}");
        assert_eq!(instance["progress"], 100.0, "{v}");
        assert!(instance["end_time"].is_string(), "{v}");
    }
}

#[tokio::test]
async fn on_a_schedule_a_file_stamped_before_the_last_run_is_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let first = stamped(now - TimeDelta::hours(2));
    let a = loader_file(&[Row::new("2026Fall-X-A-1", "1")]);
    drop_file(dir.path(), &first, &a);
    let sim = scheduled_on(&dir, Duration::from_secs(1)).await;
    let runs = runs_finished(&sim, 2).await;
    assert_eq!(runs[0].file_name, first);
    assert_eq!(runs[0].status, JobStatus::CompletedSuccess);
    assert_eq!(
        runs[1].status,
        JobStatus::CompletedNoBulks,
        "not taken twice"
    );

    // Made an hour ago, uploaded after those runs: no run ever takes it.
    let late = loader_file(&[Row::new("2026Fall-X-LATE-2", "2")]);
    drop_file(dir.path(), &stamped(now - TimeDelta::hours(1)), &late);
    let seen = sim.job_instances().len();
    let runs = runs_finished(&sim, seen + 2).await;
    assert!(
        runs[1..]
            .iter()
            .all(|r| r.status == JobStatus::CompletedNoBulks),
        "{:?}",
        statuses(&runs)
    );
    let codes: Vec<String> = sim.courses().into_iter().map(|c| c.code).collect();
    assert_eq!(codes, ["2026Fall-X-A-1"]);
}

#[tokio::test]
async fn on_a_schedule_a_file_stamped_after_the_last_run_is_loaded_at_the_next_run() {
    // The schedule's own runs are an hour apart: this test runs the loader itself.
    let (sim, dir) = scheduled(Duration::from_secs(3600)).await;
    let before_the_run = stamped(Utc::now() - TimeDelta::minutes(10));
    let empty = sim.run_loader_now().await.unwrap();
    assert_eq!(statuses(&empty), [JobStatus::CompletedNoBulks]);

    // The morning's file, uploaded after the run, and one stamped after the run.
    let late = loader_file(&[Row::new("2026Fall-X-LATE-1", "1")]);
    drop_file(dir.path(), &before_the_run, &late);
    let after_the_run = stamp_after_the_runs_so_far().await;
    let fresh = loader_file(&[Row::new("2026Fall-X-FRESH-2", "2")]);
    drop_file(dir.path(), &after_the_run, &fresh);

    let next = sim.run_loader_now().await.unwrap();
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0].file_name, after_the_run);
    assert_eq!(next[0].status, JobStatus::CompletedSuccess);
    assert_eq!(next[0].counters.created, 1);

    // Neither file is taken again.
    let again = sim.run_loader_now().await.unwrap();
    assert_eq!(statuses(&again), [JobStatus::CompletedNoBulks]);
    assert_eq!(
        statuses(&sim.job_instances()),
        [
            JobStatus::CompletedNoBulks,
            JobStatus::CompletedSuccess,
            JobStatus::CompletedNoBulks
        ]
    );
    let codes: Vec<String> = sim.courses().into_iter().map(|c| c.code).collect();
    assert_eq!(codes, ["2026Fall-X-FRESH-2"]);
}

#[tokio::test]
async fn the_sim_endpoint_runs_a_scheduled_loader_now() {
    let (sim, _dir) = scheduled(Duration::from_secs(3600)).await;
    let body: Value = sim_post(sim.base_url(), "/sim/loader/run").await;
    assert_eq!(body.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body[0]["status"], "COMPLETED_NO_BULKS");
    assert_eq!(body[0]["file_name"], "");
}
