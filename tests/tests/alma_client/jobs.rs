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
    // Uploaded a second after the first run, as its stamp (Phoenix time) says: the loader
    // takes only files stamped later than its last run.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let stamp = Utc::now().with_timezone(&chrono_tz::America::Phoenix);
    std::fs::write(
        drop.path()
            .join(stamp.format("%Y%m%d%H%M%S.txt").to_string()),
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
    // Read from Alma's documented JSON shape (`counter` at the top level): never empty
    // after a load.
    assert_eq!(clean.counters.len(), 6, "{clean:?}");
    assert_eq!(warned.counters.len(), 6, "{warned:?}");
    assert_eq!(warned.alerts.len(), 1, "{warned:?}");
    assert_eq!(clean.progress, 100.0);
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
            "submit_date_from={}&",
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

#[tokio::test]
async fn a_busy_job_is_paged_back_to_the_first_run_before_the_push() {
    let sim = start(sample_options()).await;
    let client = client(&sim);
    let pushed = Utc::now() - chrono::Duration::hours(3);
    let minutes = |m: i64| pushed + chrono::Duration::minutes(m);
    // Newest first: 250 runs after the push, ours the earliest of them, then older runs.
    let older: Vec<_> = (1..=30).map(|m| minutes(-m)).collect();
    sim.add_job_runs(&older);
    let ours = sim.add_job_runs(&[minutes(1)]);
    let busy: Vec<_> = (0..249)
        .map(|s| minutes(2) + chrono::Duration::seconds(s))
        .collect();
    sim.add_job_runs(&busy);
    sim.clear_calls();

    let day = (pushed - chrono::Duration::days(1)).date_naive();
    let runs = client
        .job_instances_back_to(JOB, day, Some(pushed))
        .await
        .unwrap();
    assert!(runs.complete && runs.reached_back, "{runs:?}");
    assert_eq!(
        runs.pages, 3,
        "250 runs since the push and the first older one"
    );
    assert_eq!(client.calls_made(), 3);
    let offsets: Vec<String> = sim.calls().into_iter().map(|c| c.query).collect();
    for (i, q) in offsets.iter().enumerate() {
        assert!(
            q.contains(&format!("offset={}", i * 100)) && q.contains("limit=100"),
            "{q}"
        );
    }
    let found = leganto_shared::steps::check_job::our_run(&runs.instances, pushed).unwrap();
    assert_eq!(found.id, ours[0]);

    // Without a point to stop at, every page is read, each run once.
    let all = client.job_instances(JOB, day).await.unwrap();
    assert_eq!(all.len(), 280);
    assert_eq!(client.calls_made(), 3 + 3);
}

#[tokio::test]
async fn paging_stops_at_the_page_bound() {
    let sim = start(sample_options()).await;
    let client = client(&sim);
    let pushed = Utc::now() - chrono::Duration::hours(1);
    let max = leganto_shared::alma::MAX_JOB_INSTANCE_PAGES as i64;
    let busy: Vec<_> = (0..max * 100 + 5)
        .map(|s| pushed + chrono::Duration::seconds(s))
        .collect();
    sim.add_job_runs(&busy);
    let day = (pushed - chrono::Duration::days(1)).date_naive();
    let runs = client
        .job_instances_back_to(JOB, day, Some(pushed))
        .await
        .unwrap();
    assert!(!runs.complete && !runs.reached_back);
    assert_eq!(runs.pages as i64, max);
    assert_eq!(client.calls_made() as i64, max);
    assert_eq!(runs.instances.len() as i64, max * 100);
}

#[tokio::test]
async fn runs_listed_oldest_first_are_all_read_and_sorted_newest_first() {
    let sim = start(SimOptions {
        instances_oldest_first: true,
        ..sample_options()
    })
    .await;
    let client = client(&sim);
    let pushed = Utc::now() - chrono::Duration::hours(3);
    let minutes = |m: i64| pushed + chrono::Duration::minutes(m);
    // Oldest first: a page and a half of runs before the push come first, then ours.
    let older: Vec<_> = (1..=150).map(|m| minutes(-m)).collect();
    sim.add_job_runs(&older);
    let ours = sim.add_job_runs(&[minutes(1)]);
    let later: Vec<_> = (2..=40).map(minutes).collect();
    let newest = sim.add_job_runs(&later).pop().unwrap();

    let day = (pushed - chrono::Duration::days(1)).date_naive();
    let runs = client
        .job_instances_back_to(JOB, day, Some(pushed))
        .await
        .unwrap();
    assert!(runs.complete && runs.reached_back, "{runs:?}");
    assert_eq!(
        runs.pages, 2,
        "every page, though the first held only older runs"
    );
    assert_eq!(runs.instances.len(), 190);
    let times: Vec<_> = runs.instances.iter().map(|r| r.submit_time).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first whatever Alma's order"
    );
    assert_eq!(runs.instances[0].id, newest);
    let found = leganto_shared::steps::check_job::our_run(&runs.instances, pushed).unwrap();
    assert_eq!(found.id, ours[0]);
}
