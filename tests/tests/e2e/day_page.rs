//! The day page as a person sees it: a whole local day, with a few earlier days' summaries
//! and figures seeded, then its `reports/…/index.html` opened in Debian's Chromium (driven by
//! playwright-core, `tests/browser/look-at-page.mjs`) at a laptop's 1366×768.

use std::path::Path;
use std::process::Command;

use chrono::{Duration, NaiveDate};
use leganto_shared::store::DayKeys;
use leganto_tests::stack::{Stack, BUCKET};
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};

use super::support::{assert_succeeded, run, start_stack};

/// Earlier days with a run summary only (days before the run date) …
const SUMMARY_DAYS: [i64; 6] = [3, 5, 7, 8, 20, 41];
/// … and with the figures a release keeps.
const FIGURES_DAYS: [i64; 3] = [1, 2, 4];
/// Older than the charts' 42 days: never drawn.
const TOO_OLD: i64 = 42;

async fn put(stack: &Stack, key: &str, body: Value) {
    stack
        .s3()
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body.to_string().into_bytes().into())
        .send()
        .await
        .unwrap();
}

async fn seed_earlier_days(stack: &Stack, date: NaiveDate) {
    for back in SUMMARY_DAYS.into_iter().chain([TOO_OLD]) {
        let day = date - Duration::days(back);
        put(
            stack,
            &DayKeys::new(day).run_summary(),
            json!({"run_date": day.to_string(), "details": {
                "rows_read": 3000 - back, "courses_written": 1650 + (back * 37) % 120,
                "rows_rejected": back % 3,
                "deletes": {"sent": 20 + (back * 13) % 50, "suppressed_reading_lists": 1},
                "warnings": [], "alma_calls": 420 + (back * 29) % 90}}),
        )
        .await;
    }
    for back in FIGURES_DAYS {
        let day = date - Duration::days(back);
        put(
            stack,
            &DayKeys::new(day).day_figures(),
            json!({"run_date": day.to_string(), "status": "succeeded",
                   "started_at": format!("{day}T16:00:00Z"), "ended_at": format!("{day}T16:{}:00Z", 10 + back),
                   "courses_written": 1700 + back * 10, "deletes_sent": 40 + back, "rejected": 1,
                   "alma_calls": 470 + back, "alma_job_minutes": 5.5 + back as f64}),
        )
        .await;
    }
}

/// What `look-at-page.mjs` reports of the page (see that script).
fn look_at(page: &Path, screenshot: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/look-at-page.mjs");
    let output = Command::new("node")
        .arg(&script)
        .arg(page)
        .arg(screenshot)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .unwrap_or_else(|e| panic!("node did not start ({e}); run make setup"));
    assert!(
        output.status.success(),
        "the browser could not look at the page (is Debian's chromium installed? make setup): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_day_page_shows_the_runs_numbers_and_42_days_of_charts_in_a_real_browser() {
    let stack = start_stack().await;
    let date = NaiveDate::parse_from_str(RUN_DATE, "%Y-%m-%d").unwrap();
    stack.put_sample_export(date).unwrap();
    seed_earlier_days(&stack, date).await;

    let (execution, _) = run(
        &stack,
        &format!("day-{RUN_DATE}"),
        json!({"run_date": RUN_DATE}),
    )
    .await;
    assert_succeeded(&execution);
    let out = execution.output.unwrap();
    let day = DayKeys::new(date);
    let figures: Value =
        serde_json::from_slice(&stack.s3_get(&day.day_figures()).await.unwrap()).unwrap();
    let html = stack.s3_get(&day.day_page()).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("index.html");
    std::fs::write(&page, &html).unwrap();
    let seen = look_at(&page, &dir.path().join("day-page.png"));
    println!("{seen:#}");

    // The run's own numbers.
    assert_eq!(seen["status"], "Succeeded");
    let counts = &out["transform"]["counts"];
    let card = |id: &str| seen["cards"][id].as_str().unwrap_or_default().to_string();
    // The sample day's counts as the spec's expected files give them, grouped as people
    // read them.
    assert_eq!(counts["rows_written"], 1742);
    assert_eq!(card("courses-written"), "1,742");
    assert_eq!(card("rows-read"), "3,000");
    assert_eq!(card("rejects"), "0");
    assert_eq!(card("rollovers"), "185");
    assert_eq!(
        card("alma-job"),
        out["alma_job"]["status"].as_str().unwrap()
    );
    // Alma's calls are a measurement: the card shows the run's own figure.
    let calls = figures["alma_calls"].as_u64().unwrap();
    assert!(calls > 0);
    assert_eq!(card("alma-calls").replace(',', ""), calls.to_string());
    assert!(calls < 1_000 || card("alma-calls").contains(','));
    assert_eq!(
        seen["reject_rows"].as_u64().unwrap(),
        counts["rejected"].as_u64().unwrap().min(200)
    );
    assert!(seen["file_links"].as_u64().unwrap() >= 6, "{seen}");

    // The charts: drawn, sized, one bar per day that has the figure, today's marked.
    let charts = seen["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 6);
    let today_has = |field: &str| u64::from(!figures[field].is_null());
    let summary_and_figures = (SUMMARY_DAYS.len() + FIGURES_DAYS.len()) as u64;
    for chart in charts {
        assert!(chart["width"].as_f64().unwrap() > 300.0, "{chart}");
        assert!(chart["height"].as_f64().unwrap() > 80.0, "{chart}");
        assert_eq!(
            chart["bars"], chart["drawn"],
            "every bar has a height: {chart}"
        );
        let expected = match chart["id"].as_str().unwrap() {
            "chart-courses" => summary_and_figures + today_has("courses_written"),
            "chart-deletes" => summary_and_figures + today_has("deletes_sent"),
            "chart-rejects" => summary_and_figures + today_has("rejected"),
            "chart-alma-calls" => summary_and_figures + today_has("alma_calls"),
            "chart-job-minutes" => FIGURES_DAYS.len() as u64 + today_has("alma_job_minutes"),
            // Run minutes: the seeded figures days and today (which has a start and an end).
            "chart-run-minutes" => FIGURES_DAYS.len() as u64 + 1,
            other => panic!("unknown chart {other}"),
        };
        assert_eq!(chart["bars"].as_u64().unwrap(), expected, "{chart}");
    }
    assert_eq!(charts[0]["today"], 1);

    // Nothing wider than a laptop's window; nothing fetched; no script.
    let (scroll_width, client_width) = (
        seen["scroll_width"]
            .as_u64()
            .expect("the page's scroll width"),
        seen["client_width"].as_u64().expect("the window's width"),
    );
    assert!(client_width >= 1_000, "{seen}");
    assert!(scroll_width <= client_width, "{seen}");
    assert_eq!(seen["wider_than_window"], json!([]), "{seen}");
    assert_eq!(seen["requests"], json!([]));
    assert_eq!(seen["scripts"], 0);
    let screenshot = dir.path().join("day-page.png");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000);
    // The README's picture: LEGANTO_DAY_PAGE_SCREENSHOT=$PWD/docs/day-page.png refreshes it.
    if let Some(keep) = std::env::var_os("LEGANTO_DAY_PAGE_SCREENSHOT") {
        std::fs::copy(&screenshot, keep).unwrap();
    }
}
