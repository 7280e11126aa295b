//! One load per day and one execution per day: the push receipt, the day's lease, and the
//! fresh delete checks a late push makes.

use chrono::Utc;
use leganto_shared::error::ErrorName as _;
use leganto_shared::run::lease::Lease;
use leganto_tests::moto::REGION;
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};

use super::{expect_error, World, ALMA, EXPORT_NAME};
use crate::read_sample;

const RECEIPT: &str = "alma/2026/11/28/pushed.json";
const LEASE: &str = "locks/2026/11/28/run.json";

fn arn(name: &str) -> String {
    format!("arn:aws:states:{REGION}:123456789012:execution:leganto-daily:{name}")
}

/// Plan as the execution `name` would.
async fn plan_as(
    world: &World,
    name: &str,
    input: Value,
) -> Result<Value, leganto_shared::steps::StepError> {
    world
        .call(
            "plan",
            json!({
                "input": input,
                "execution_arn": arn(name),
                "execution_name": name,
                "execution_started_at": "2026-11-28T16:20:00Z",
            }),
        )
        .await
}

async fn receipt(world: &World) -> Value {
    serde_json::from_slice(&world.s3_get(RECEIPT).await).unwrap()
}

#[tokio::test]
async fn a_rerun_from_the_transform_loads_nothing_twice_and_only_force_sends_a_second_file() {
    let world = World::start("one-load").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("pull", &mut state, "pull").await;
    world.step("transform", &mut state, "transform").await;
    let first = world.step("push", &mut state, "push").await;
    assert_eq!(first["already_there"], false);
    assert_eq!(first["sha256"].as_str().unwrap().len(), 64);
    let written = receipt(&world).await;
    assert_eq!(written["file_name"], first["file_name"]);
    assert_eq!(written["sha256"], first["sha256"]);
    assert_eq!(written["execution_name"], "one-load");
    world.release(&state).await;

    // A rerun from the transform makes the same bytes under a new name: nothing is sent.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut rerun = world
        .plan(json!({"run_date": RUN_DATE, "start_at": "transform"}))
        .await
        .unwrap();
    let transform = world.step("transform", &mut rerun, "transform").await;
    assert_ne!(transform["loader_file_name"], first["file_name"]);
    let again = world.step("push", &mut rerun, "push").await;
    assert_eq!(again["already_there"], true, "{again}");
    assert_eq!(again["file_name"], first["file_name"]);
    assert_eq!(world.alma_files(), [first["file_name"].as_str().unwrap()]);

    // Even when Alma's loader has moved the file away, the same bytes are not sent again.
    std::fs::remove_file(
        world
            .sshd
            .directory(ALMA)
            .join(first["file_name"].as_str().unwrap()),
    )
    .unwrap();
    let again = world.step("push", &mut rerun, "push").await;
    assert_eq!(again["already_there"], true);
    assert!(world.alma_files().is_empty(), "{:?}", world.alma_files());

    // Different bytes for a day already loaded: refused, and Slack's message says what to do.
    let changed_key = rerun["transform"]["loader_key"]
        .as_str()
        .unwrap()
        .to_string();
    let changed = [world.s3_get(&changed_key).await.as_slice(), b"\r\n"].concat();
    world
        .ctx
        .store
        .put(&changed_key, changed, "text/plain")
        .await
        .unwrap();
    let err = expect_error(world.call("push", rerun.clone()).await);
    assert_eq!(err.error_name(), "AlreadyPushed");
    let message = err.message();
    assert!(
        message.contains(first["file_name"].as_str().unwrap()),
        "{message}"
    );
    assert!(message.contains("--force"), "{message}");
    assert!(world.alma_files().is_empty());
    assert_eq!(receipt(&world).await, written, "the receipt is unchanged");
    world.release(&rerun).await;

    // With force the second file goes, and the receipt names it.
    let mut forced = world
        .plan(json!({"run_date": RUN_DATE, "start_at": "push", "force": true}))
        .await
        .unwrap();
    assert_eq!(forced["run"]["force"], true);
    forced["transform"] = rerun["transform"].clone();
    let pushed = world.step("push", &mut forced, "push").await;
    assert_eq!(pushed["forced"], true);
    assert_eq!(pushed["already_there"], false);
    assert_eq!(
        world.alma_files(),
        [transform["loader_file_name"].as_str().unwrap()]
    );
    let replaced = receipt(&world).await;
    assert_eq!(replaced["file_name"], transform["loader_file_name"]);
    assert_eq!(replaced["forced"], true);
    assert_eq!(replaced["sha256"], pushed["sha256"]);
}

#[tokio::test]
async fn the_plan_recalls_a_push_from_the_receipt_only() {
    let world = World::start("recall").await;
    let key = world
        .put_loader_file(
            "20261128092514.txt",
            read_sample("expected_alma.txt"),
            Utc::now(),
        )
        .await;
    let state = world
        .plan(json!({"run_date": RUN_DATE, "start_at": "wait_for_alma"}))
        .await
        .unwrap();
    assert_eq!(state["push"], Value::Null, "a loader file alone is no push");
    world.release(&state).await;

    let mut state = world
        .plan(json!({"run_date": RUN_DATE, "start_at": "push"}))
        .await
        .unwrap();
    let pushed = world.step("push", &mut state, "push").await;
    assert_eq!(pushed["loader_key"], key.as_str());
    world.release(&state).await;
    let state = world
        .plan(json!({"run_date": RUN_DATE, "start_at": "rollover_report"}))
        .await
        .unwrap();
    assert_eq!(state["push"]["recalled"], true);
    assert_eq!(state["push"]["file_name"], "20261128092514.txt");
    assert_eq!(state["push"]["sha256"], pushed["sha256"]);
    assert_eq!(state["push"]["pushed_at"], pushed["pushed_at"]);
}

#[tokio::test]
async fn a_second_execution_for_the_day_stops_with_run_in_progress_until_the_first_ends() {
    let world = World::start("lease").await;
    let first = plan_as(&world, "first", json!({"run_date": RUN_DATE}))
        .await
        .unwrap();
    let lease: Lease = serde_json::from_slice(&world.s3_get(LEASE).await).unwrap();
    assert_eq!(lease.execution_arn, arn("first"));
    assert!(lease.expires_at > lease.started_at + chrono::Duration::hours(20));

    // The same execution again (a Lambda retry of the plan) keeps its lease.
    plan_as(&world, "first", json!({"run_date": RUN_DATE}))
        .await
        .unwrap();

    let err = expect_error(plan_as(&world, "second", json!({"run_date": RUN_DATE})).await);
    assert_eq!(err.error_name(), "RunInProgress");
    assert!(err.message().contains("first"), "{}", err.message());
    // The second one's release, on its failure path, leaves the first's lease alone.
    let second_state = json!({"run": {"run_date": RUN_DATE, "execution_arn": arn("second")}});
    assert_eq!(world.release(&second_state).await["released"], false);
    assert!(world.ctx.store.exists(LEASE).await.unwrap());
    // A failure in the plan leaves no `run` in the state: nothing to give back.
    let nothing = world
        .call(
            "release",
            json!({"state": {"error": {}}, "execution_arn": arn("second")}),
        )
        .await
        .unwrap();
    assert_eq!(nothing["released"], false);

    // Once the first ends, the day is free.
    assert_eq!(world.release(&first).await["released"], true);
    assert!(!world.ctx.store.exists(LEASE).await.unwrap());
    let second = plan_as(&world, "second", json!({"run_date": RUN_DATE}))
        .await
        .unwrap();
    assert_eq!(second["run"]["execution_name"], "second");

    // A dry run has a lease of its own and does not stop a live run.
    plan_as(
        &world,
        "dry",
        json!({"run_date": RUN_DATE, "dry_run": true}),
    )
    .await
    .unwrap();
    assert!(world
        .ctx
        .store
        .exists("dry-run/2026/11/28/locks/run.json")
        .await
        .unwrap());
}

#[tokio::test]
async fn a_lease_nobody_gave_back_runs_out_and_the_next_execution_takes_it_over() {
    let world = World::start("lease-expired").await;
    let stale = Lease {
        run_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
        execution_arn: arn("stopped-by-hand"),
        execution_name: "stopped-by-hand".into(),
        started_at: Utc::now() - chrono::Duration::hours(40),
        expires_at: Utc::now() - chrono::Duration::hours(1),
    };
    world.ctx.store.put_json(LEASE, &stale).await.unwrap();
    plan_as(&world, "next", json!({"run_date": RUN_DATE}))
        .await
        .unwrap();
    let lease: Lease = serde_json::from_slice(&world.s3_get(LEASE).await).unwrap();
    assert_eq!(lease.execution_name, "next");
}

#[tokio::test]
async fn a_late_push_checks_its_deletes_again_and_drops_one_whose_course_gained_a_list() {
    let world = World::start("fresh-guard").await;
    let loader = String::from_utf8(read_sample("expected_alma.txt")).unwrap();
    let deletes: Vec<(String, String)> = loader
        .split("\r\n")
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f.get(28) == Some(&"DELETE"))
        .map(|f| (f[0].to_string(), f[2].to_string()))
        .collect();
    // A course the DELETE rows name that Alma holds, and that gains a list after the checks.
    let course = world
        .sim
        .courses()
        .into_iter()
        .find(|c| {
            c.reading_lists.is_empty()
                && deletes
                    .iter()
                    .any(|(code, section)| *code == c.code && *section == c.section)
        })
        .expect("a DELETE row names a course Alma holds");
    // Checked ten days ago.
    world
        .put_loader_file(
            "20261128092514.txt",
            loader.clone().into_bytes(),
            Utc::now() - chrono::Duration::days(10),
        )
        .await;
    assert!(world.sim.add_reading_list(&course.id));

    let mut state = world
        .plan(json!({"run_date": RUN_DATE, "start_at": "push"}))
        .await
        .unwrap();
    let pushed = world.step("push", &mut state, "push").await;
    assert_eq!(pushed["deletes_dropped_at_push"], 1, "{pushed}");
    let name = pushed["file_name"].as_str().unwrap();
    assert_ne!(name, "20261128092514.txt", "a new loader file");
    assert_eq!(world.alma_files(), [name]);
    let sent = std::fs::read_to_string(world.sshd.directory(ALMA).join(name)).unwrap();
    let row_of = |code: &str| {
        sent.split("\r\n")
            .any(|l| l.starts_with(&format!("{code}\t")) && l.contains("\tDELETE\t"))
    };
    assert!(
        !row_of(&course.code),
        "the DELETE of {} went out",
        course.code
    );
    for (code, _) in deletes.iter().filter(|(code, _)| *code != course.code) {
        assert!(row_of(code), "the DELETE of {code} was dropped too");
    }
    assert_eq!(sent.split("\r\n").count(), loader.split("\r\n").count() - 1);
    // The receipt records the file that went, kept in S3 beside the transform's.
    let written = receipt(&world).await;
    assert_eq!(written["file_name"], name);
    assert_eq!(
        world.s3_get(written["loader_key"].as_str().unwrap()).await,
        sent.as_bytes()
    );

    // Pushing the day's file again is the same load: nothing more is sent.
    let again = world.step("push", &mut state, "push").await;
    assert_eq!(again["already_there"], true, "{again}");
    assert_eq!(again["file_name"], name);
    assert_eq!(world.alma_files(), [name]);
}

#[tokio::test]
async fn fresh_delete_checks_are_not_made_again() {
    let world = World::start("fresh-checks").await;
    world
        .put_loader_file(
            "20261128092514.txt",
            read_sample("expected_alma.txt"),
            Utc::now(),
        )
        .await;
    world.sim.clear_calls();
    let mut state = world
        .plan(json!({"run_date": RUN_DATE, "start_at": "push"}))
        .await
        .unwrap();
    let pushed = world.step("push", &mut state, "push").await;
    assert_eq!(pushed["file_name"], "20261128092514.txt");
    assert!(pushed.get("deletes_dropped_at_push").is_none(), "{pushed}");
    assert!(
        world.sim.calls().is_empty(),
        "Alma was asked: {:?}",
        world.sim.calls().len()
    );
}
