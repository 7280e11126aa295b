//! The course loader's job and its runs, as the simulator's loader produces them.

use chrono::Utc;
use leganto_shared::error::ErrorName;
use leganto_tests::alma_sim::{SimOptions, COUNTER_CREATED, COUNTER_ERRORS, COUNTER_ROWS_READ};

use super::support::*;

const PROFILE: &str = "7200000000001";
const JOB: &str = "S7100000000001";

/// A 34-column loader row creating a course (CRLF added by the caller).
fn row(code: &str, section: &str) -> String {
    let mut cols = vec![String::new(); 34];
    cols[0] = code.to_string();
    cols[1] = "Test course".to_string();
    cols[2] = section.to_string();
    cols[4] = "HAYDEN".to_string();
    cols[13] = "2026".to_string();
    cols.join("\t")
}

fn loader_file(rows: &[String]) -> String {
    let header: Vec<String> = (1..=34).map(|i| format!("Column {i}")).collect();
    let mut text = header.join("\t") + "\r\n";
    for r in rows {
        text.push_str(r);
        text.push_str("\r\n");
    }
    text
}

#[tokio::test]
async fn the_loader_job_is_found_by_its_profile() {
    let sim = start(sample_options()).await;
    let client = client(&sim);
    let job = client.find_scheduled_job(PROFILE).await.unwrap().unwrap();
    assert_eq!(job.id, JOB);
    assert!(client.find_scheduled_job("999").await.unwrap().is_none());
    let q = &sim.calls()[0].query;
    assert!(
        q.contains("type=SCHEDULED") && q.contains(&format!("profile_id={PROFILE}")),
        "{q}"
    );
}

#[tokio::test]
async fn loader_runs_are_read_with_status_counters_and_times() {
    let drop = tempfile::tempdir().unwrap();
    let sim = start(SimOptions {
        drop_dir: Some(drop.path().to_path_buf()),
        ..sample_options()
    })
    .await;
    let client = client(&sim);
    let today = Utc::now().date_naive();
    assert!(client.job_instances(JOB, today).await.unwrap().is_empty());

    std::fs::write(
        drop.path().join("20261128093000.txt"),
        loader_file(&[row("2026Fall-X-TST101-11111", "11111")]),
    )
    .unwrap();
    assert_eq!(sim.run_loader_now().await.unwrap().len(), 1);
    // Same course twice: the second row is an error, the run completes with warnings.
    std::fs::write(
        drop.path().join("20261128094000.txt"),
        loader_file(&[
            row("2026Fall-X-TST102-22222", "22222"),
            row("2026Fall-X-TST102-22222", "22222"),
        ]),
    )
    .unwrap();
    assert_eq!(sim.run_loader_now().await.unwrap().len(), 1);

    let runs = client.job_instances(JOB, today).await.unwrap();
    assert_eq!(runs.len(), 2);
    let warned = runs
        .iter()
        .find(|r| r.status.has_warnings())
        .expect("a run with warnings");
    let clean = runs
        .iter()
        .find(|r| !r.status.has_warnings())
        .expect("a clean run");

    assert!(clean.status.is_done() && clean.status.is_success());
    assert_eq!(clean.status.as_str(), "COMPLETED_SUCCESS");
    assert!(clean.submit_time.is_some() && clean.end_time.is_some());
    let counter = |run: &leganto_shared::alma::JobInstance, kind: &str| {
        run.counters
            .iter()
            .find(|(t, _, _)| t == kind)
            .map(|(_, _, v)| *v)
    };
    assert_eq!(counter(clean, COUNTER_ROWS_READ), Some(1));
    assert_eq!(counter(clean, COUNTER_CREATED), Some(1));
    assert_eq!(counter(warned, COUNTER_ROWS_READ), Some(2));
    assert_eq!(counter(warned, COUNTER_ERRORS), Some(1));
    assert!(warned.status.is_done() && warned.status.is_success());

    let one = client.job_instance(JOB, &clean.id).await.unwrap();
    assert_eq!(&one, clean);

    let tomorrow = today.succ_opt().unwrap();
    assert!(client
        .job_instances(JOB, tomorrow)
        .await
        .unwrap()
        .is_empty());
    let q = sim.calls().last().unwrap().query.clone();
    assert!(
        q.contains(&format!(
            "submit_date_from={}Z",
            tomorrow.format("%Y-%m-%d")
        )),
        "{q}"
    );
}

#[tokio::test]
async fn an_unknown_job_is_an_api_error() {
    let sim = start(sample_options()).await;
    let client = client(&sim);
    let err = client
        .job_instances("S000", Utc::now().date_naive())
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "AlmaApiError", "{err}");
    let err = client.job_instance(JOB, "123").await.unwrap_err();
    assert_eq!(err.error_name(), "AlmaApiError", "{err}");
}
