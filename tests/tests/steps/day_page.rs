//! The day page the release writes: for a failed run too, with what came from outside
//! escaped, and never at the cost of the lease when it cannot be written.

use leganto_shared::store::content_type;
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};

use super::World;

const PAGE: &str = "reports/2026/11/28/index.html";
const LEASE: &str = "locks/2026/11/28/run.json";

#[tokio::test]
async fn a_failed_run_gets_a_page_that_says_why_with_the_cause_escaped() {
    let world = World::start("page-failed").await;
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    state["failed_state"] = json!("Pull the CEM export");
    state["error"] = json!({"Error": "SourceFileMissing", "Cause": json!({
        "errorType": "SourceFileMissing",
        "errorMessage": "no leganto_export_20261128<script>alert(1)</script>.csv on the CEM server"
    }).to_string()});

    let released = world.release(&state).await;
    assert_eq!(released["released"], true);
    assert_eq!(released["page_key"], PAGE);
    let page = String::from_utf8(world.s3_get(PAGE).await).unwrap();
    assert!(page.contains("id=\"status\">Failed<"), "{page}");
    assert!(page.contains("<strong>SourceFileMissing</strong> in “Pull the CEM export”"));
    assert!(page.contains("no leganto_export_20261128&lt;script&gt;alert(1)&lt;/script&gt;.csv"));
    assert!(!page.contains("<script"));
    let figures: Value =
        serde_json::from_slice(&world.s3_get("reports/2026/11/28/figures.json").await).unwrap();
    assert_eq!(figures["status"], "failed");
    assert_eq!(figures["error"], "SourceFileMissing");
}

#[tokio::test]
async fn a_page_that_cannot_be_made_still_gives_the_day_back_and_the_release_succeeds() {
    let world = World::start("page-unreadable").await;
    let state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    // A run summary that is not JSON: the page cannot be drawn from it.
    world
        .ctx
        .store
        .put(
            "reports/2026/11/28/run-summary.json",
            "not json",
            content_type::JSON,
        )
        .await
        .unwrap();
    assert!(!world.s3_keys(LEASE).await.is_empty());

    let released = world.release(&state).await;
    assert_eq!(released["released"], true);
    assert!(released.get("page_key").is_none(), "{released}");
    assert!(world.s3_keys(LEASE).await.is_empty(), "the lease was kept");
    assert!(world.s3_keys(PAGE).await.is_empty());
}

#[tokio::test]
async fn the_page_charts_earlier_days_from_their_figures_else_their_summaries() {
    let world = World::start("page-history").await;
    let state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    let store = &world.ctx.store;
    let put = |key: &'static str, body: Value| async move {
        store
            .put(key, body.to_string(), content_type::JSON)
            .await
            .unwrap();
    };
    put(
        "reports/2026/11/27/figures.json",
        json!({"run_date": "2026-11-27", "courses_written": 1234}),
    )
    .await;
    // Both there: the figures win.
    put(
        "reports/2026/11/27/run-summary.json",
        json!({"run_date": "2026-11-27", "details": {"courses_written": 1}}),
    )
    .await;
    put(
        "reports/2026/10/30/run-summary.json",
        json!({"run_date": "2026-10-30", "details": {"courses_written": 987}}),
    )
    .await;
    // The 42nd day back is outside the charts.
    put(
        "reports/2026/10/17/run-summary.json",
        json!({"run_date": "2026-10-17", "details": {"courses_written": 555}}),
    )
    .await;

    world.release(&state).await;
    let page = String::from_utf8(world.s3_get(PAGE).await).unwrap();
    let courses = page
        .split("<figure id=\"chart-courses\">")
        .nth(1)
        .and_then(|rest| rest.split("</figure>").next())
        .unwrap();
    assert!(
        courses.contains(r#"data-date="2026-11-27" data-value="1234""#),
        "{courses}"
    );
    assert!(
        courses.contains(r#"data-date="2026-10-30" data-value="987""#),
        "{courses}"
    );
    assert_eq!(courses.matches("<rect ").count(), 2, "{courses}");
}
