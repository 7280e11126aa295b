//! How `leganto` finds the deployment: samconfig.toml names the stack, CloudFormation
//! gives its state machine, bucket and time zone; only `AWS_*` is set. And a closed pipe
//! on stdout (`leganto status | head -1`) ends the command quietly.

use std::path::Path;
use std::process::Stdio;

use super::*;

/// A stack as template.yaml deploys it, as far as `leganto` reads it: the outputs and
/// the `TimeZone` parameter.
async fn create_stack(aws: &Aws, name: &str, machine: &str, time_zone: &str) {
    let parameters = [("TimeZone".to_string(), time_zone.to_string())];
    leganto_tests::stack::record_stack(&aws.sdk, name, machine, BUCKET, &parameters)
        .await
        .unwrap();
}

/// A directory holding a samconfig.toml like the repository's: `default` and `prod`
/// name the stack and its region, `dev` a stack that was never deployed.
fn samconfig_dir(stack: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let region = leganto_tests::moto::REGION;
    let text = format!(
        "version = 0.1\n\
         [default.global.parameters]\nstack_name = \"{stack}\"\n\
         [default.deploy.parameters]\nregion = \"{region}\"\n\
         [prod.global.parameters]\nstack_name = \"{stack}\"\n\
         [prod.deploy.parameters]\nregion = \"{region}\"\n\
         [dev.global.parameters]\nstack_name = \"leganto-dev\"\n\
         [dev.deploy.parameters]\nregion = \"{region}\"\n"
    );
    std::fs::write(dir.path().join("samconfig.toml"), text).unwrap();
    dir
}

/// `leganto` run in `dir` with only moto's endpoint and test credentials: no region, no
/// stack, no state machine or bucket from the environment.
fn leganto_in(dir: &Path, aws: &Aws, args: &[&str]) -> Command {
    let mut cmd = base_command();
    cmd.current_dir(dir)
        .args(args)
        .env_remove("AWS_REGION")
        .env("AWS_ENDPOINT_URL", aws.moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    cmd
}

async fn output_of(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || {
        let out = cmd.output().unwrap();
        show(&[format!("{cmd:?}")], &out);
        out
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_and_rerun_find_the_stack_through_samconfig_with_no_flags() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    create_stack(&aws, "leganto-prod", &machine, "Europe/Berlin").await;
    aws.put("cem/2026/11/28/leganto_export_20261128.csv", "header\n")
        .await;
    let dir = samconfig_dir("leganto-prod");

    let rerun = ["rerun", "--run-date", RUN_DATE, "--from", "transform"];
    let o = output_of(leganto_in(dir.path(), &aws, &rerun)).await;
    assert!(o.status.success(), "{}", stderr(&o));

    // No --run-date: today where the stack's library is (its TimeZone parameter).
    let o = output_of(leganto_in(
        dir.path(),
        &aws,
        &["status", "--output", "json"],
    ))
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive();
    assert_eq!(doc["run_date"], today.to_string());
    assert_eq!(doc["time_zone"], "Europe/Berlin");
    assert_eq!(doc["stack"], "leganto-prod");
    assert_eq!(doc["bucket"], BUCKET);
    assert_eq!(doc["state_machine_arn"], machine.as_str());

    let o = output_of(leganto_in(
        dir.path(),
        &aws,
        &["status", "--config-env", "prod", "--run-date", RUN_DATE],
    ))
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("rerun-2026-11-28-transform-"),
        "{}",
        stdout(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flag_or_environment_variable_wins_over_samconfig_and_a_wrong_name_says_which() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    create_stack(&aws, "leganto-prod", &machine, "Europe/Berlin").await;
    let dir = samconfig_dir("leganto-prod");

    // dev names a stack that was never deployed.
    let o = output_of(leganto_in(
        dir.path(),
        &aws,
        &["status", "--config-env", "dev"],
    ))
    .await;
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("stack \"leganto-dev\""),
        "{}",
        stderr(&o)
    );

    let mut cmd = leganto_in(dir.path(), &aws, &["status", "--config-env", "dev"]);
    cmd.env("LEGANTO_STACK", "leganto-prod");
    let o = output_of(cmd).await;
    assert!(o.status.success(), "{}", stderr(&o));

    let mut cmd = leganto_in(dir.path(), &aws, &["status", "--stack", "no-such-stack"]);
    cmd.env("LEGANTO_STACK", "leganto-prod");
    let o = output_of(cmd).await;
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("stack \"no-such-stack\""),
        "{}",
        stderr(&o)
    );

    let o = output_of(leganto_in(
        dir.path(),
        &aws,
        &["status", "--config-env", "staging"],
    ))
    .await;
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no environment \"staging\""),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_samconfig_or_a_stack_name_the_message_says_how_to_name_one() {
    let aws = Aws::start().await;
    let dir = tempfile::tempdir().unwrap();
    let o = output_of(leganto_in(dir.path(), &aws, &["status"])).await;
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("--config-env NAME"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_into_a_pipe_closed_early_ends_quietly_with_exit_0() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    create_stack(&aws, "leganto-prod", &machine, "America/Phoenix").await;
    let dir = samconfig_dir("leganto-prod");
    let mut cmd = leganto_in(dir.path(), &aws, &["status", "--run-date", RUN_DATE]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let o = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        // The reader goes before the command writes a line, as `head -1` goes after one.
        drop(child.stdout.take());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{:?}: {err}", o.status);
    assert!(!err.contains("panicked") && err.is_empty(), "{err}");
}
