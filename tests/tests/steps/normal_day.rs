//! A normal day through every handler in the state machine's order.

use leganto_shared::error::ErrorName as _;
use leganto_tests::alma_sim::{COUNTER_CREATED, COUNTER_ROWS_READ};
use leganto_tests::support::RUN_DATE;
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::json;

use super::{World, ALMA, EXPORT_NAME, LOADER_JOB_ID};
use crate::read_sample;

#[tokio::test]
async fn a_normal_day_runs_from_the_pull_to_the_slack_summary() {
    let world = World::start("normal-day").await;
    let export = read_sample("cem.csv");
    world.put_export(EXPORT_NAME, &export);
    // Another day's export on the server is never taken.
    world.put_export("leganto_export_20261127.csv", b"yesterday");

    // Plan: the whole state.
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    assert_eq!(state["run"]["run_date"], RUN_DATE);
    assert_eq!(state["run"]["start_at"], "pull");
    assert_eq!(state["run"]["dry_run"], false);
    assert_eq!(state["run"]["skipped_stages"], json!([]));
    assert_eq!(state["run"]["time_zone"], "America/Phoenix");
    assert_eq!(state["run"]["poll_interval_seconds"], 30);
    assert!(state["run"]["console_url"]
        .as_str()
        .unwrap()
        .contains("us-east-1.console.aws.amazon.com"));
    assert!(state.get("transform").is_none() && state.get("push").is_none());

    // Pull: byte for byte into S3.
    let pull = world.step("leganto-pull", &mut state, "pull").await;
    assert_eq!(pull["source_file"], EXPORT_NAME);
    assert_eq!(
        pull["export_key"],
        "cem/2026/11/28/leganto_export_20261128.csv"
    );
    assert_eq!(pull["bytes"], export.len());
    assert_eq!(pull["candidates"], json!([EXPORT_NAME]));
    assert_eq!(pull["warnings"], json!([]));
    assert!(world.s3_get(pull["export_key"].as_str().unwrap()).await == export);

    // Transform: the loader file is the sample day's expected file.
    let transform = world
        .step("TransformFunction", &mut state, "transform")
        .await;
    let loader_key = transform["loader_key"].as_str().unwrap().to_string();
    let loader_name = transform["loader_file_name"].as_str().unwrap().to_string();
    assert_eq!(loader_key, format!("alma/2026/11/28/{loader_name}"));
    assert_eq!(loader_name.len(), "20261128092514.txt".len());
    assert!(world.s3_get(&loader_key).await == read_sample("expected_alma.txt"));
    assert_eq!(transform["counts"]["rows_read"], 3000);
    assert_eq!(transform["counts"]["rows_written"], 1742);
    assert_eq!(
        transform["summary_key"],
        "reports/2026/11/28/run-summary.json"
    );
    let rejects = world.s3_get("reports/2026/11/28/rejects.csv").await;
    assert!(rejects.starts_with(b"line,course_code,column,reason"));
    assert_eq!(
        rejects.iter().filter(|b| **b == b'\n').count() as u64 - 1,
        transform["counts"]["rejected"].as_u64().unwrap()
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&world.s3_get("reports/2026/11/28/run-summary.json").await).unwrap();
    assert_eq!(summary["loader_key"], loader_key.as_str());
    assert_eq!(summary["details"]["rows_read"], 3000);
    // No rules in the bucket: the shipped ones, named by their digest.
    let shipped = leganto_shared::run::receipt::sha256_hex(
        leganto_shared::domain::rules::ASU_RULES_TOML.as_bytes(),
    );
    assert_eq!(
        summary["rules"],
        serde_json::json!({"origin": "shipped", "sha256": shipped})
    );
    assert_eq!(transform["rules"], summary["rules"]);
    let years = transform["years_needed"].as_array().unwrap().clone();
    assert!(!years.is_empty(), "{transform}");
    // The first day loaded: the safety brake has no day to compare rows with, says so, and
    // the sample's deletes and rejects are within its limits.
    assert_eq!(
        transform["brake"]["tripped"], false,
        "{}",
        transform["brake"]
    );
    assert_eq!(transform["brake"]["compared_with"], serde_json::Value::Null);
    assert_eq!(summary["brake"], transform["brake"]);

    // Push: the same bytes in Alma's directory, under the time of the upload (never before
    // the transform's own stamp).
    let push = world.step("leganto-push", &mut state, "push").await;
    let pushed_name = push["file_name"].as_str().unwrap().to_string();
    assert!(
        pushed_name >= loader_name,
        "{pushed_name} before {loader_name}"
    );
    assert_eq!(push["already_there"], false);
    let remote = push["remote_path"].as_str().unwrap();
    assert!(remote.ends_with(&format!("/{pushed_name}")), "{remote}");
    assert_eq!(world.alma_files(), vec![pushed_name.clone()]);
    assert!(world.sshd.read_file(ALMA, &pushed_name).unwrap() == read_sample("expected_alma.txt"));

    // Alma's course loader takes the file; the check finds that run and its counters.
    let runs = world.sim.run_loader_now().await.unwrap();
    assert_eq!(runs.len(), 1);
    let job = world.check_until_done(&mut state).await;
    assert_eq!(job["job_instance_id"], runs[0].id.as_str());
    assert_eq!(job["status"], runs[0].status.value());
    assert_eq!(job["timed_out"], false);
    let short = |t: &str| t.rsplit('.').next().unwrap().to_string();
    assert_eq!(
        job["counters"][short(COUNTER_ROWS_READ)],
        runs[0].counters.rows_read
    );
    assert_eq!(
        job["counters"][short(COUNTER_CREATED)],
        runs[0].counters.created
    );
    assert!(job["checks"].as_u64().unwrap() >= 1);
    let calls = world.sim.calls();
    assert!(
        calls.iter().any(|c| c
            .path
            .contains(&format!("/conf/jobs/{LOADER_JOB_ID}/instances"))),
        "the Jobs API was not asked"
    );

    // Cache each year the rollover needs (the Map), then the report from the caches.
    let mut caches = Vec::new();
    for year in &years {
        let item = json!({"run": state["run"], "year": year});
        let cache = world.call("leganto-cache-courses", item).await.unwrap();
        assert_eq!(cache["year"], *year);
        let key = cache["cache_key"].as_str().unwrap();
        assert_eq!(key, format!("cache/2026/11/28/courses-{year}.json"));
        let file: serde_json::Value = serde_json::from_slice(&world.s3_get(key).await).unwrap();
        let year_text = year.as_i64().unwrap().to_string();
        let in_alma = world
            .sim
            .courses()
            .iter()
            .filter(|c| c.year == year_text)
            .count();
        assert_eq!(file["courses"].as_array().unwrap().len(), in_alma);
        assert_eq!(cache["courses"], in_alma);
        caches.push(cache);
    }
    state["caches"] = json!(caches);
    world.sim.clear_calls();
    let report = world
        .step("RolloverReportFunction", &mut state, "report")
        .await;
    let report_key = report["report_key"].as_str().unwrap().to_string();
    assert!(
        report_key.starts_with("reports/2026/11/28/rollover_"),
        "{report_key}"
    );
    assert!(report["rollovers"].as_u64().unwrap() > 0, "{report}");
    let report_bytes = world.s3_get(&report_key).await;
    assert_eq!(
        report_bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count() as u64,
        report["rollovers"].as_u64().unwrap() + 1,
        "one line per rollover plus the header"
    );
    assert!(
        world.sim.calls().iter().all(|c| !c.query.contains("year")),
        "the report fetched a cached year again"
    );

    // E-mail: both summaries and the report attached, byte for byte.
    let email = world
        .step("leganto-email-report", &mut state, "email")
        .await;
    assert_eq!(email["recipients"], 2);
    assert_eq!(email["attachment"], report["report_file_name"]);
    let sent = world.sent_emails().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].id, email["message_id"].as_str().unwrap());
    assert_eq!(sent[0].source.as_deref(), Some(super::EMAIL_FROM));
    let parsed = MessageParser::default()
        .parse(sent[0].raw_data.as_bytes())
        .unwrap();
    assert!(parsed.subject().unwrap().contains(RUN_DATE));
    assert!(parsed.body_text(0).unwrap().contains("Rollovers found"));
    assert!(parsed.body_html(0).unwrap().contains(&pushed_name));
    let attachment = parsed.attachment(0).expect("an attachment");
    assert_eq!(
        attachment.attachment_name(),
        report["report_file_name"].as_str()
    );
    assert!(
        attachment.contents() == report_bytes.as_slice(),
        "attachment changed on the way"
    );

    // Slack: the day's summary.
    let slack = world
        .call(
            "leganto-notify-slack",
            json!({"kind": "summary", "state": state}),
        )
        .await
        .unwrap();
    assert_eq!(slack, json!({"posted": true}));
    let posts = world.slack.posts();
    assert_eq!(posts.len(), 1);
    let text = posts[0].to_string();
    let title = format!("Course load {RUN_DATE}");
    for expected in [
        title.as_str(),
        pushed_name.as_str(),
        runs[0].status.value(),
        "Rollovers found",
        "*Rows read*\\n3000",
        "console.aws.amazon.com",
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }

    // A rerun from the wait recalls the day's transform and push from S3.
    let rerun = world
        .plan(json!({"run_date": RUN_DATE, "start_at": "wait_for_alma"}))
        .await
        .unwrap();
    assert_eq!(
        rerun["run"]["skipped_stages"],
        json!(["pull", "transform", "push"])
    );
    assert_eq!(rerun["transform"], state["transform"]);
    assert_eq!(rerun["push"]["file_name"], pushed_name.as_str());
    assert_eq!(rerun["push"]["recalled"], true);
    // …and its check finds the same run, although it was submitted before the rerun.
    let mut rerun = rerun;
    let job = world.step("CheckJobFunction", &mut rerun, "alma_job").await;
    assert_eq!(job["job_instance_id"], runs[0].id.as_str());
    assert_eq!(job["done"], true);
    // The cache is reused rather than fetched again.
    let year = years[0].clone();
    let cache = world
        .call("cache-courses", json!({"run": rerun["run"], "year": year}))
        .await
        .unwrap();
    assert_eq!(cache["reused"], true);
    assert_eq!(cache["api_calls"], 0);
}

#[tokio::test]
async fn a_rerun_from_the_push_without_a_transform_names_the_missing_summary() {
    let world = World::start("rerun-missing").await;
    let err = super::expect_error(
        world
            .plan(json!({"run_date": RUN_DATE, "start_at": "push"}))
            .await,
    );
    assert_eq!(err.error_name(), "ArtefactMissing");
    assert!(
        err.message()
            .contains("reports/2026/11/28/run-summary.json"),
        "{}",
        err.message()
    );

    let err = super::expect_error(world.plan(json!({"start_at": "email"})).await);
    assert_eq!(err.error_name(), "InvalidInput");
    // Without a run date, the execution's start in Phoenix decides (16:20 UTC = 09:20 MST).
    let plan = world.plan(json!({})).await.unwrap();
    assert_eq!(plan["run"]["run_date"], RUN_DATE);
}
