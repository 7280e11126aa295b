//! The steps' logs: JSON, the run date and execution on every line, no secret anywhere.

use std::io::Write;
use std::sync::{Arc, Mutex};

use leganto_shared::steps::json_logs;
use leganto_tests::sshd::default_password;
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};

use super::{World, ALMA, CEM, EXPORT_NAME};
use crate::read_sample;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_log_line_is_json_with_run_date_and_execution_and_no_secret() {
    let world = World::start("logs").await;
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let captured = Captured::default();
    let sink = captured.clone();
    // The product's own events; this test's runtime runs on this thread, so a thread-local
    // subscriber sees every step.
    let filter = tracing_subscriber::EnvFilter::new("leganto_shared=debug");
    let _guard = tracing::subscriber::set_default(json_logs(filter, move || sink.clone()));

    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("pull", &mut state, "pull").await;
    world.step("transform", &mut state, "transform").await;
    world.step("push", &mut state, "push").await;
    world
        .call("notify-slack", json!({"kind": "summary", "state": state}))
        .await
        .unwrap();
    drop(_guard);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 10, "too few log lines:\n{text}");
    for line in &lines {
        let event: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let spans = event["spans"]
            .as_array()
            .unwrap_or_else(|| panic!("no spans: {line}"));
        let step = spans
            .iter()
            .find(|s| s["name"] == "step")
            .unwrap_or_else(|| panic!("{line}"));
        assert_eq!(step["run_date"], RUN_DATE, "{line}");
        assert_eq!(step["execution"], "logs", "{line}");
    }
    for step in ["plan", "pull", "transform", "push", "notify-slack"] {
        assert!(
            text.contains(&format!("\"step\":\"{step}\"")) && text.contains("step finished"),
            "{step} did not log"
        );
    }
    let secrets = [
        default_password(CEM),
        default_password(ALMA),
        world
            .sshd
            .client_private_key()
            .lines()
            .nth(1)
            .unwrap()
            .to_string(),
        world.sim.api_key().to_string(),
        world.slack.url(),
    ];
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret is in the logs: {secret}"
        );
    }
}
