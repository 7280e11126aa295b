//! Pull and push against sshd when things are not as they should be.

use leganto_shared::error::ErrorName as _;
use std::time::{Duration, SystemTime};

use leganto_tests::support::RUN_DATE;
use serde_json::json;

use super::{expect_error, Options, World, CEM, EXPORT_NAME};
use crate::read_sample;

/// A valid fingerprint of no key the server has.
const OTHER_HOST_KEY: &str = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

async fn planned(world: &World) -> serde_json::Value {
    world.plan(json!({"run_date": RUN_DATE})).await.unwrap()
}

#[tokio::test]
async fn no_export_file_for_the_day_is_source_file_missing() {
    let world = World::start("no-export").await;
    world.put_export("leganto_export_20261127.csv", b"yesterday's");
    world.put_export("notes.txt", b"x");
    let state = planned(&world).await;

    let err = expect_error(world.call("leganto-pull", state).await);
    assert_eq!(err.error_name(), "SourceFileMissing");
    let message = err.message();
    assert!(message.contains("leganto_export_20261128"), "{message}");
    assert!(message.contains("2 other files"), "{message}");
    assert!(
        world.s3_keys("cem/").await.is_empty(),
        "something was stored"
    );
}

#[tokio::test]
async fn of_two_export_files_the_newest_is_taken_with_a_warning() {
    let world = World::start("two-exports").await;
    let newest = read_sample("cem.csv");
    // The older file has the greater name: the modification time decides, not the name.
    let older = world.put_export("leganto_export_20261128_rerun.csv", b"older export");
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&older)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    world.put_export(EXPORT_NAME, &newest);
    let mut state = planned(&world).await;

    let pull = world.step("pull", &mut state, "pull").await;
    assert_eq!(pull["source_file"], EXPORT_NAME);
    assert_eq!(
        pull["candidates"],
        json!([EXPORT_NAME, "leganto_export_20261128_rerun.csv"])
    );
    let warnings = pull["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.contains("2 export files") && warning.contains("took the newest"),
        "{warning}"
    );
    assert!(world.s3_get(pull["export_key"].as_str().unwrap()).await == newest);

    // The warning reaches Slack with the summary.
    world
        .call("notify-slack", json!({"kind": "summary", "state": state}))
        .await
        .unwrap();
    assert!(world.slack.posts()[0]
        .to_string()
        .contains("took the newest"));
}

#[tokio::test]
async fn a_host_key_that_does_not_match_the_pin_stops_the_pull_before_login() {
    let world = World::start_with(
        "host-key",
        Options {
            secret: Box::new(|secret, _| {
                secret["cem_sftp"]["host_key_sha256"] = json!(OTHER_HOST_KEY);
            }),
            ..Options::default()
        },
    )
    .await;
    world.put_export(EXPORT_NAME, b"data");
    let state = planned(&world).await;

    let err = expect_error(world.call("pull", state).await);
    assert_eq!(err.error_name(), "HostKeyMismatch");
    assert!(err.message().contains(OTHER_HOST_KEY), "{}", err.message());
    assert!(
        err.message().contains(world.sshd.host_key_sha256()),
        "{}",
        err.message()
    );
    // No credential was offered to a server we do not trust.
    let log = world.sshd.log();
    assert!(
        !log.contains("Failed password") && !log.contains("Accepted"),
        "{log}"
    );
}

#[tokio::test]
async fn a_wrong_sftp_password_is_sftp_auth_failed_and_never_shown() {
    let world = World::start_with(
        "wrong-password",
        Options {
            secret: Box::new(|secret, _| {
                secret["cem_sftp"]["password"] = json!("not-the-Pw#2026");
            }),
            ..Options::default()
        },
    )
    .await;
    world.put_export(EXPORT_NAME, b"data");
    let state = planned(&world).await;

    let err = expect_error(world.call("pull", state).await);
    assert_eq!(err.error_name(), "SftpAuthFailed");
    let shown = format!("{} {err:?}", err.message());
    assert!(shown.contains(CEM), "{shown}");
    assert!(
        !shown.contains("not-the-Pw#2026"),
        "the password leaked: {shown}"
    );
}

#[tokio::test]
async fn an_sftp_server_gone_between_pull_and_push_is_sftp_unavailable() {
    let mut world = World::start("server-gone").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = planned(&world).await;
    world.step("pull", &mut state, "pull").await;
    world.step("transform", &mut state, "transform").await;

    world.sshd.stop();
    let err = expect_error(world.call("push", state).await);
    assert_eq!(err.error_name(), "SftpUnavailable");
}

#[tokio::test]
async fn pushing_twice_leaves_one_file_on_alma_s_server() {
    let world = World::start("push-twice").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = planned(&world).await;
    world.step("pull", &mut state, "pull").await;
    world.step("transform", &mut state, "transform").await;

    let first = world.call("push", state.clone()).await.unwrap();
    let second = world.call("push", state.clone()).await.unwrap();
    assert_eq!(first["already_there"], false);
    assert_eq!(second["already_there"], true);
    assert_eq!(first["file_name"], second["file_name"]);
    // No second copy and no temporary file left behind.
    assert_eq!(
        world.alma_files(),
        vec![first["file_name"].as_str().unwrap().to_string()]
    );

    // A forced rerun that starts at the push takes the day's loader file from S3 alone (and
    // the same bytes are still the same load).
    let mut rerun = world
        .plan(json!({"run_date": RUN_DATE, "start_at": "push", "force": true}))
        .await
        .unwrap();
    assert_eq!(
        rerun["transform"]["loader_key"],
        state["transform"]["loader_key"]
    );
    rerun.as_object_mut().unwrap().remove("transform");
    let third = world.step("push", &mut rerun, "push").await;
    assert_eq!(third["already_there"], true);
    assert_eq!(world.alma_files().len(), 1);
}

#[tokio::test]
async fn each_step_reads_only_its_own_secret_and_one_without_its_setting_is_invalid_config() {
    let world = World::start_with(
        "own-secret",
        Options {
            // Only the CEM login exists, as only Pull's role may read it.
            secret: Box::new(|secrets, _| {
                secrets
                    .as_object_mut()
                    .unwrap()
                    .retain(|field, _| field == "cem_sftp");
            }),
            ..Options::default()
        },
    )
    .await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = planned(&world).await;
    world.step("pull", &mut state, "pull").await;

    let err = expect_error(world.call("transform", state).await);
    assert_eq!(err.error_name(), "InvalidConfig");
    assert!(
        err.message().contains("ALMA_API_KEY_SECRET_ID"),
        "{}",
        err.message()
    );
}
