//! The `alma-sim` binary: base URL on stdout, key from the environment.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use leganto_tests::support::sample;
use reqwest::StatusCode;

use super::common::*;

/// Kills the child even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_prints_its_base_url_and_takes_the_key_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_alma-sim"))
            .arg("--fixture")
            .arg(sample("alma_courses.json"))
            .args([
                "--api-key-env",
                "ALMA_SIM_TEST_KEY",
                "--port",
                "0",
                "--rate",
                "50",
            ])
            .args(["--departments", "LAW,MUSIC", "--watch-interval-ms", "20"])
            .arg("--drop-dir")
            .arg(dir.path())
            .env("ALMA_SIM_TEST_KEY", "key-from-env")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("alma-sim starts"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let base = line.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base:?}");

    let r = send(
        client()
            .get(format!("{base}/almaws/v1/courses?limit=0"))
            .header("Authorization", "apikey key-from-env")
            .header("Accept", "application/json"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let total = r.json()["total_record_count"].as_u64().unwrap();
    assert!(total > 1000, "sample fixture loaded: {total}");

    let r = send(client().get(format!("{base}/almaws/v1/courses?apikey=sim-key"))).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "the default key is not accepted"
    );

    // The watcher runs in the binary too, with the configured departments.
    drop_file(
        dir.path(),
        "20261128010000.txt",
        &loader_file(&[
            Row::new("2026Fall-X-MUS100-1", "1").dept("MUSIC"),
            Row::new("2026Fall-X-MUS200-2", "2").dept("HAYDEN"),
        ]),
    );
    let mut instances = serde_json::Value::Null;
    for _ in 0..500 {
        instances = sim_get(&base, "/sim/job-instances").await;
        if instances[0]["status"] == "COMPLETED_WARNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(instances[0]["status"], "COMPLETED_WARNING", "{instances}");
    assert_eq!(instances[0]["counters"]["created"], 1);
}

#[test]
fn the_binary_refuses_to_start_without_its_key_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_alma-sim"))
        .args(["--api-key-env", "ALMA_SIM_TEST_UNSET_VARIABLE"])
        .env_remove("ALMA_SIM_TEST_UNSET_VARIABLE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ALMA_SIM_TEST_UNSET_VARIABLE"), "{err}");
}

#[tokio::test]
async fn the_binary_runs_the_loader_on_a_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_alma-sim"))
            .args(["--port", "0", "--loader-every", "1", "--loader-row-ms", "0"])
            .arg("--drop-dir")
            .arg(dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("alma-sim starts"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let base = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line.trim().to_string()
    })
    .await
    .unwrap();

    // No file at all: the scheduled runs still happen, each one an instance.
    let mut instances = serde_json::Value::Null;
    for _ in 0..300 {
        instances = sim_get(&base, "/sim/job-instances").await;
        if instances.as_array().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(instances[0]["status"], "COMPLETED_NO_BULKS", "{instances}");
    assert_eq!(instances[1]["status"], "COMPLETED_NO_BULKS", "{instances}");
}
