//! One load per day and one execution per day: the push receipt, the day's lease, and the
//! fresh delete checks a late push makes.

use chrono::Utc;
use leganto_shared::error::ErrorName as _;
use leganto_shared::run::lease::Lease;
use leganto_tests::moto::REGION;
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};
use std::collections::BTreeMap;

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

/// Every object under the day's prefixes, with its bytes.
async fn day_objects(world: &World) -> BTreeMap<String, Vec<u8>> {
    let mut objects = BTreeMap::new();
    for prefix in [
        "cem/2026/11/28/",
        "alma/2026/11/28/",
        "reports/2026/11/28/",
        "state/",
    ] {
        for key in world.s3_keys(prefix).await {
            let bytes = world.s3_get(&key).await;
            objects.insert(key, bytes);
        }
    }
    objects
}

/// `20261206093000.txt` → `20261206093000`, for comparing stamps.
fn stamp(name: &Value) -> &str {
    let stamp = name.as_str().unwrap().strip_suffix(".txt").unwrap();
    assert_eq!(stamp.len(), 14, "{stamp}");
    assert!(stamp.bytes().all(|b| b.is_ascii_digit()), "{stamp}");
    stamp
}

#[tokio::test]
async fn a_day_goes_up_once_under_the_time_of_its_upload_and_a_rerun_changes_nothing() {
    let world = World::start("one-load").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = plan_as(&world, "daily", json!({"run_date": RUN_DATE}))
        .await
        .unwrap();
    world.step("pull", &mut state, "pull").await;
    let transform = world.step("transform", &mut state, "transform").await;
    let first = world.step("push", &mut state, "push").await;
    assert_eq!(first["already_there"], false);
    assert_eq!(first["sha256"].as_str().unwrap().len(), 64);
    // Named for the upload (never before the transform), while S3 keeps the transform's
    // file under its own name.
    assert!(stamp(&first["file_name"]) >= stamp(&transform["loader_file_name"]));
    assert_eq!(first["loader_key"], transform["loader_key"]);
    assert_eq!(world.alma_files(), [first["file_name"].as_str().unwrap()]);
    let written = receipt(&world).await;
    assert_eq!(written["file_name"], first["file_name"]);
    assert_eq!(written["sha256"], first["sha256"]);
    assert_eq!(written["transform_key"], transform["loader_key"]);
    assert_eq!(written["execution_name"], "daily");
    world.release(&state).await;

    // A rerun that would push again stops at its plan, before anything of the day changes.
    let before = day_objects(&world).await;
    for start_at in ["pull", "transform", "push"] {
        let input = json!({"run_date": RUN_DATE, "start_at": start_at});
        let err = expect_error(plan_as(&world, "rerun", input).await);
        assert_eq!(err.error_name(), "AlreadyPushed");
        let message = err.message();
        assert!(
            message.contains(first["file_name"].as_str().unwrap()),
            "{message}"
        );
        assert!(message.contains("--force"), "{message}");
    }
    assert_eq!(
        day_objects(&world).await,
        before,
        "the rerun changed the day"
    );
    assert!(!world.ctx.store.exists(LEASE).await.unwrap());
    // Waiting for Alma again or redoing the report still may.
    let wait = plan_as(
        &world,
        "rewait",
        json!({"run_date": RUN_DATE, "start_at": "wait_for_alma"}),
    )
    .await
    .unwrap();
    assert_eq!(wait["push"]["file_name"], first["file_name"]);
    world.release(&wait).await;
}

#[tokio::test]
async fn a_forced_rerun_sends_the_same_bytes_never_and_a_different_file_only_when_forced() {
    let world = World::start("forced").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = plan_as(&world, "daily", json!({"run_date": RUN_DATE}))
        .await
        .unwrap();
    world.step("pull", &mut state, "pull").await;
    world.step("transform", &mut state, "transform").await;
    let first = world.step("push", &mut state, "push").await;
    let name = first["file_name"].as_str().unwrap().to_string();
    let written = receipt(&world).await;
    world.release(&state).await;

    // Forced, the same bytes are still the same load: nothing is sent.
    let input = json!({"run_date": RUN_DATE, "start_at": "transform", "force": true});
    let mut forced = plan_as(&world, "forced", input).await.unwrap();
    world.step("transform", &mut forced, "transform").await;
    let again = world.step("push", &mut forced, "push").await;
    assert_eq!(again["already_there"], true, "{again}");
    assert_eq!(again["file_name"], name.as_str());
    // Even when Alma's loader has moved the file away.
    std::fs::remove_file(world.sshd.directory(ALMA).join(&name)).unwrap();
    let again = world.step("push", &mut forced, "push").await;
    assert_eq!(again["already_there"], true);
    assert!(world.alma_files().is_empty(), "{:?}", world.alma_files());

    // Different bytes for a day already loaded: refused at the push unless forced.
    let changed_key = forced["transform"]["loader_key"]
        .as_str()
        .unwrap()
        .to_string();
    let changed = [world.s3_get(&changed_key).await.as_slice(), b"\r\n"].concat();
    let store = &world.ctx.store;
    store
        .put(&changed_key, changed, "text/plain")
        .await
        .unwrap();
    let mut unforced = forced.clone();
    unforced["run"]["force"] = json!(false);
    let err = expect_error(world.call("push", unforced).await);
    assert_eq!(err.error_name(), "AlreadyPushed");
    assert!(err.message().contains(&name), "{}", err.message());
    assert!(err.message().contains("--force"), "{}", err.message());
    assert!(world.alma_files().is_empty());
    assert_eq!(receipt(&world).await, written, "the receipt is unchanged");

    // With force the second file goes, under a later stamp, and the receipt names it.
    let pushed = world.step("push", &mut forced, "push").await;
    assert_eq!(pushed["forced"], true);
    assert_eq!(pushed["already_there"], false);
    assert!(stamp(&pushed["file_name"]) > name.strip_suffix(".txt").unwrap());
    assert_eq!(world.alma_files(), [pushed["file_name"].as_str().unwrap()]);
    let replaced = receipt(&world).await;
    assert_eq!(replaced["file_name"], pushed["file_name"]);
    assert_eq!(replaced["forced"], true);
    assert_eq!(replaced["sha256"], pushed["sha256"]);
}

#[tokio::test]
async fn a_retried_push_whose_receipt_was_not_written_sends_the_same_file_again() {
    let world = World::start("retry").await;
    world
        .put_loader_file(
            "20261128092514.txt",
            read_sample("expected_alma.txt"),
            Utc::now(),
        )
        .await;
    let mut state = plan_as(
        &world,
        "daily",
        json!({"run_date": RUN_DATE, "start_at": "push"}),
    )
    .await
    .unwrap();
    // What an earlier attempt of this execution did before its receipt write failed: it
    // chose a name, recorded it, and uploaded the file under it.
    let bytes = read_sample("expected_alma.txt");
    let intent = json!({
        "file_name": "20261128093000.txt",
        "loader_key": "alma/2026/11/28/20261128092514.txt",
        "transform_key": "alma/2026/11/28/20261128092514.txt",
        "sha256": leganto_shared::run::receipt::sha256_hex(&bytes),
        "execution_arn": arn("daily"),
        "chosen_at": "2026-11-28T16:30:00Z",
    });
    let store = &world.ctx.store;
    store
        .put_json("alma/2026/11/28/pushing.json", &intent)
        .await
        .unwrap();
    std::fs::write(
        world.sshd.directory(ALMA).join("20261128093000.txt"),
        &bytes,
    )
    .unwrap();

    let pushed = world.step("push", &mut state, "push").await;
    assert_eq!(pushed["file_name"], "20261128093000.txt");
    assert_eq!(pushed["already_there"], true, "{pushed}");
    assert_eq!(
        world.alma_files(),
        ["20261128093000.txt"],
        "one file, not two"
    );
    assert_eq!(receipt(&world).await["file_name"], "20261128093000.txt");

    // Another execution's intent is not this one's: it names its own file.
    world.release(&state).await;
    store
        .delete_if(RECEIPT, &etag(&world, RECEIPT).await)
        .await
        .unwrap();
    std::fs::remove_file(world.sshd.directory(ALMA).join("20261128093000.txt")).unwrap();
    let mut next = plan_as(
        &world,
        "next",
        json!({"run_date": RUN_DATE, "start_at": "push"}),
    )
    .await
    .unwrap();
    let pushed = world.step("push", &mut next, "push").await;
    assert_ne!(pushed["file_name"], "20261128093000.txt");
    assert_eq!(world.alma_files(), [pushed["file_name"].as_str().unwrap()]);
}

#[tokio::test]
async fn a_retried_push_finishes_the_upload_an_earlier_attempt_left_under_its_temporary_name() {
    let world = World::start("retry-temp").await;
    world
        .put_loader_file(
            "20261128092514.txt",
            read_sample("expected_alma.txt"),
            Utc::now(),
        )
        .await;
    let mut state = plan_as(
        &world,
        "daily",
        json!({"run_date": RUN_DATE, "start_at": "push"}),
    )
    .await
    .unwrap();
    // An earlier attempt recorded its bytes and temporary name, then died half-way through
    // the upload: no name chosen yet, half the file under the hidden name.
    let bytes = read_sample("expected_alma.txt");
    let temp = ".20261128092900.txt.part";
    let mut intent = json!({
        "temp_name": temp,
        "loader_key": "alma/2026/11/28/20261128092514.txt",
        "transform_key": "alma/2026/11/28/20261128092514.txt",
        "sha256": leganto_shared::run::receipt::sha256_hex(&bytes),
        "execution_arn": arn("daily"),
        "chosen_at": "2026-11-28T16:29:00Z",
    });
    let store = &world.ctx.store;
    store
        .put_json("alma/2026/11/28/pushing.json", &intent)
        .await
        .unwrap();
    world
        .sshd
        .put_file(ALMA, temp, &bytes[..bytes.len() / 2])
        .unwrap();

    let pushed = world.step("push", &mut state, "push").await;
    let name = pushed["file_name"].as_str().unwrap().to_string();
    assert_eq!(pushed["already_there"], false, "{pushed}");
    assert_eq!(
        world.alma_files(),
        [name.as_str()],
        "one whole file, no temporary one"
    );
    assert_eq!(world.sshd.read_file(ALMA, &name).unwrap(), bytes);
    let recorded: Value =
        serde_json::from_slice(&world.s3_get("alma/2026/11/28/pushing.json").await).unwrap();
    assert_eq!(
        recorded["file_name"],
        name.as_str(),
        "the name chosen is recorded"
    );
    assert_eq!(recorded["temp_name"], temp);

    // Named, but died before the rename: the whole file under the temporary name is
    // renamed to the name recorded, not sent again under another.
    store
        .delete_if(RECEIPT, &etag(&world, RECEIPT).await)
        .await
        .unwrap();
    std::fs::remove_file(world.sshd.directory(ALMA).join(&name)).unwrap();
    world.sshd.put_file(ALMA, temp, &bytes).unwrap();
    intent["file_name"] = json!("20261128093000.txt");
    store
        .put_json("alma/2026/11/28/pushing.json", &intent)
        .await
        .unwrap();
    let pushed = world.step("push", &mut state, "push").await;
    assert_eq!(pushed["file_name"], "20261128093000.txt", "{pushed}");
    assert_eq!(world.alma_files(), ["20261128093000.txt"]);
    assert_eq!(
        world.sshd.read_file(ALMA, "20261128093000.txt").unwrap(),
        bytes
    );
}

async fn etag(world: &World, key: &str) -> String {
    let (_, etag) = world
        .ctx
        .store
        .get_json_versioned::<Value>(key)
        .await
        .unwrap()
        .unwrap();
    etag
}

#[tokio::test]
async fn a_day_older_than_the_newest_loaded_one_is_refused_and_alma_gets_nothing() {
    let world = World::start("in-order").await;
    // The 29th is loaded.
    let later = json!({
        "run_date": "2026-11-29", "file_name": "20261129093000.txt",
        "loader_key": "alma/2026/11/29/20261129092000.txt", "sha256": "ab", "bytes": 10,
        "pushed_at": "2026-11-29T16:30:00Z", "execution_name": "daily-29"
    });
    let store = &world.ctx.store;
    store
        .put_json("alma/2026/11/29/pushed.json", &later)
        .await
        .unwrap();
    world
        .put_loader_file(
            "20261128092514.txt",
            read_sample("expected_alma.txt"),
            Utc::now(),
        )
        .await;

    for start_at in ["pull", "transform", "push"] {
        let input = json!({"run_date": RUN_DATE, "start_at": start_at});
        let err = expect_error(plan_as(&world, "late", input).await);
        assert_eq!(err.error_name(), "OutOfOrder");
        let message = err.message();
        for expected in ["2026-11-29", "20261129093000.txt", "--force"] {
            assert!(message.contains(expected), "{expected:?} not in {message}");
        }
    }
    // A push that got past its plan (the later day loaded meanwhile) is refused too.
    let mut state = plan_as(
        &world,
        "late",
        json!({"run_date": RUN_DATE, "start_at": "push", "force": true}),
    )
    .await
    .unwrap();
    let mut unforced = state.clone();
    unforced["run"]["force"] = json!(false);
    let err = expect_error(world.call("push", unforced).await);
    assert_eq!(err.error_name(), "OutOfOrder");
    assert!(world.alma_files().is_empty(), "{:?}", world.alma_files());

    // Forced, it goes, and after the later day's file.
    let pushed = world.step("push", &mut state, "push").await;
    assert!(stamp(&pushed["file_name"]) > "20261129093000");
    assert_eq!(world.alma_files(), [pushed["file_name"].as_str().unwrap()]);
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
    assert_eq!(state["push"]["file_name"], pushed["file_name"]);
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
    // And one that Alma no longer holds (deleted by hand since): no answer, no DELETE.
    let gone = world
        .sim
        .courses()
        .into_iter()
        .find(|c| {
            c.id != course.id
                && deletes
                    .iter()
                    .any(|(code, section)| *code == c.code && *section == c.section)
        })
        .expect("a second DELETE row names a course Alma holds");
    assert!(world.sim.remove_course(&gone.id));
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
    assert_eq!(pushed["deletes_dropped_at_push"], 2, "{pushed}");
    let name = pushed["file_name"].as_str().unwrap();
    assert_ne!(name, "20261128092514.txt", "a new loader file");
    assert_eq!(world.alma_files(), [name]);
    let sent = std::fs::read_to_string(world.sshd.directory(ALMA).join(name)).unwrap();
    let row_of = |code: &str| {
        sent.split("\r\n")
            .any(|l| l.starts_with(&format!("{code}\t")) && l.contains("\tDELETE\t"))
    };
    for dropped in [&course.code, &gone.code] {
        assert!(!row_of(dropped), "the DELETE of {dropped} went out");
    }
    let kept = deletes
        .iter()
        .filter(|(code, _)| *code != course.code && *code != gone.code);
    for (code, _) in kept {
        assert!(row_of(code), "the DELETE of {code} was dropped too");
    }
    assert_eq!(sent.split("\r\n").count(), loader.split("\r\n").count() - 2);
    // The receipt records the file that went, kept in S3 beside the transform's, which
    // stays as it was.
    let written = receipt(&world).await;
    assert_eq!(written["file_name"], name);
    assert_eq!(
        written["loader_key"],
        "alma/2026/11/28/20261128092514.guarded.txt"
    );
    assert_eq!(
        world.s3_get("alma/2026/11/28/20261128092514.txt").await,
        loader.as_bytes()
    );
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
    stamp(&pushed["file_name"]);
    assert_eq!(pushed["loader_key"], "alma/2026/11/28/20261128092514.txt");
    assert!(pushed.get("deletes_dropped_at_push").is_none(), "{pushed}");
    assert!(
        world.sim.calls().is_empty(),
        "Alma was asked: {:?}",
        world.sim.calls().len()
    );
}
