//! Alma answers its API while the course loader works through a long file.

use std::time::Duration;

use leganto_tests::alma_sim::{AlmaSim, JobStatus, SimOptions};
use reqwest::StatusCode;

use super::common::*;

/// A simulator whose loader spends `row_time` on each row of a file.
async fn slow_loader(row_time: Duration) -> (AlmaSim, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    let sim = start(small_store(), |o| {
        o.drop_dir = Some(path);
        o.watch_interval = Duration::from_secs(3600);
        o.per_second_limit = None;
        o.loader_row_time = row_time;
    })
    .await;
    (sim, dir)
}

/// Waits until the loader's first run is RUNNING (30 s at most).
async fn until_running(sim: &AlmaSim) -> String {
    for _ in 0..3000 {
        if let Some(run) = sim.job_instances().first() {
            assert!(!run.status.is_final(), "finished already: {run:?}");
            if run.status == JobStatus::Running {
                return run.id.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the loader never started RUNNING");
}

#[tokio::test]
async fn the_api_answers_while_a_long_load_is_running() {
    // Four rows at 5 s each: the load runs for 20 s.
    let (sim, dir) = slow_loader(Duration::from_secs(5)).await;
    let rows: Vec<Row> = (1..=4)
        .map(|i| Row::new(&format!("2026Fall-X-NEW{i}-{i}"), &i.to_string()))
        .collect();
    drop_file(dir.path(), "20261128010000.txt", &loader_file(&rows));
    let job = SimOptions::default().loader_job_id;

    let run = sim.run_loader_now();
    tokio::pin!(run);
    let (search, instance) = tokio::select! {
        done = &mut run => panic!("the load finished before the calls: {done:?}"),
        replies = async {
            let id = until_running(&sim).await;
            let search = get(&sim, "/almaws/v1/courses?q=code~ENG101").await;
            let instance = get(&sim, &format!("/almaws/v1/conf/jobs/{job}/instances/{id}")).await;
            (search, instance)
        } => replies,
    };

    assert_eq!(search.status, StatusCode::OK, "{}", search.text);
    assert_eq!(codes(&search.json()), ["2026Fall-X-ENG101-12345"]);
    assert_eq!(instance.status, StatusCode::OK, "{}", instance.text);
    assert_eq!(instance.json()["status"]["value"], "RUNNING");
    assert_eq!(sim.job_instances()[0].status, JobStatus::Running);
}

#[tokio::test]
async fn a_course_deleted_through_the_api_during_a_load_stays_deleted() {
    let (sim, dir) = slow_loader(Duration::from_secs(1)).await;
    let row = Row::new("2026Fall-X-NEW1-1", "1");
    drop_file(dir.path(), "20261128010000.txt", &loader_file(&[row]));

    let run = sim.run_loader_now();
    let delete_meanwhile = async {
        until_running(&sim).await;
        send(
            client()
                .delete(format!(
                    "{}/almaws/v1/courses/6100000000004",
                    sim.base_url()
                ))
                .header("Authorization", format!("apikey {}", sim.api_key())),
        )
        .await
    };
    let (runs, deleted) = tokio::join!(run, delete_meanwhile);
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_eq!(runs.unwrap()[0].status, JobStatus::CompletedSuccess);

    let mut held: Vec<String> = sim.courses().into_iter().map(|c| c.code).collect();
    held.sort();
    assert_eq!(
        held,
        [
            "2018Fall-X-SDO598-92898",
            "2018Fall-X-SDO598-92898-3964",
            "2026Fall-X-ENG101-12345",
            "2026Fall-X-NEW1-1",
        ]
    );
}

#[tokio::test]
async fn the_api_answers_while_a_big_file_loads() {
    // No time per row: the loader's own work on 20,000 new courses takes seconds.
    let (sim, dir) = slow_loader(Duration::ZERO).await;
    let rows: Vec<Row> = (1..=20_000)
        .map(|i| Row::new(&format!("2026Fall-X-GEN{i:05}-{i}"), &i.to_string()))
        .collect();
    drop_file(dir.path(), "20261128010000.txt", &loader_file(&rows));
    let job = SimOptions::default().loader_job_id;

    let run = sim.run_loader_now();
    let during = async {
        let id = until_running(&sim).await;
        let instance = get(&sim, &format!("/almaws/v1/conf/jobs/{job}/instances/{id}")).await;
        let search = get(&sim, "/almaws/v1/courses?q=code~ENG101").await;
        (instance, search)
    };
    let (runs, (instance, search)) = tokio::join!(run, during);
    assert_eq!(
        instance.json()["status"]["value"],
        "RUNNING",
        "{}",
        instance.text
    );
    assert_eq!(codes(&search.json()), ["2026Fall-X-ENG101-12345"]);
    let runs = runs.unwrap();
    assert_eq!(runs[0].counters.created, 20_000);
    assert_eq!(sim.courses().len(), 4 + 20_000);
}
