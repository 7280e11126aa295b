//! What every end-to-end test shares: starting the stack, running an execution to its end
//! and printing its states with their times.

use std::collections::BTreeSet;
use std::time::Duration;

use leganto_shared::error::error_chain;
use leganto_tests::stack::{format_visits, Execution, Stack, StackOptions, StateVisit};
use serde_json::Value;

/// Writes `text` as `dir/template.yaml`, beside a copy of the state machine definition it
/// names (`infra/statemachine.asl.json`): a changed template that the stack deploys as it is.
pub fn write_template(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("infra")).unwrap();
    std::fs::copy(
        leganto_tests::support::repo_root().join("infra/statemachine.asl.json"),
        dir.join("infra/statemachine.asl.json"),
    )
    .unwrap();
    let path = dir.join("template.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Longest a whole local day may take before the test gives up (not a timing assertion:
/// a hung execution must not hang CI).
pub const EXECUTION_LIMIT: Duration = Duration::from_secs(600);

pub async fn start_stack() -> Stack {
    match Stack::start(StackOptions::default()).await {
        Ok(stack) => stack,
        Err(e) => panic!("the local stack did not start: {}", error_chain(&e)),
    }
}

/// The execution ended SUCCEEDED; else the failure shows its error and cause.
#[track_caller]
pub fn assert_succeeded(execution: &Execution) {
    assert_eq!(
        execution.status, "SUCCEEDED",
        "{:?}: {:?}",
        execution.error, execution.cause
    );
}

/// Starts a named execution, waits for its end and prints each state with its time.
pub async fn run(stack: &Stack, name: &str, input: Value) -> (Execution, Vec<StateVisit>) {
    let arn = stack.start_execution(name, &input).await.unwrap();
    let execution = stack
        .wait_for_execution(&arn, EXECUTION_LIMIT)
        .await
        .unwrap();
    let visits = stack.history(&arn).await.unwrap();
    println!("execution {name} {input}: {}", execution.status);
    for line in format_visits(&visits, execution.started) {
        println!("  {line}");
    }
    if let Some(error) = &execution.error {
        println!(
            "  error {error}: {}",
            execution.cause.as_deref().unwrap_or_default()
        );
    }
    (execution, visits)
}

/// Every key in the run's bucket.
pub async fn s3_keys(stack: &Stack) -> BTreeSet<String> {
    stack
        .s3_objects()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect()
}

pub fn entered(visits: &[StateVisit]) -> BTreeSet<&str> {
    visits.iter().map(|v| v.name.as_str()).collect()
}

/// Every text in a Slack post (the `text` fallback and each block's texts).
pub fn post_text(post: &Value) -> String {
    let mut out = String::new();
    collect_text(post, &mut out);
    out
}

fn collect_text(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|v| collect_text(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_text(v, out)),
        _ => {}
    }
}
