//! Any size in bounded memory: an export and a loader file larger than the memory Pull and
//! Push are deployed with (the template's `MemorySize`) go through a few parts at a time.
//! Each step runs in a child process (this test binary again, running only
//! [`one_step_in_a_child_process`]) against the same sshd, moto and Alma simulator, and
//! says its peak resident memory (`VmHWM`): a step that held the file whole would pass the
//! function's memory and fail here.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use aws_sdk_s3::config::Credentials;
use chrono::{Duration, Utc};
use leganto_shared::config::Config;
use leganto_shared::domain::loader::LOADER_COLUMNS;
use leganto_shared::steps::StepContext;
use leganto_shared::store::{content_type, Parts, PART_BYTES};
use leganto_tests::moto::REGION;
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};

use super::{Options, World, ALMA, CEM, EXPORT_NAME};
use crate::infra::support::{get, scalar, template};
use crate::read_sample;

const MB: u64 = 1024 * 1024;

/// The child's instructions (JSON: moto's endpoint, the functions' settings, the function
/// and its payload); without it [`one_step_in_a_child_process`] does nothing.
const CHILD: &str = "LEGANTO_BOUNDED_MEMORY_CHILD";
/// The child's answer line on its stdout.
const ANSWER: &str = "bounded-memory-answer: ";
const CHILD_TEST: &str = "steps::bounded_memory::one_step_in_a_child_process";

#[tokio::test]
async fn an_export_and_a_loader_file_larger_than_the_functions_memory_pass_in_bounded_memory() {
    let peaks = big_day("bounded-memory", 300).await;
    println!("peak memory, 300 MB: {peaks:?}");
}

/// The figures of docs/performance.md: `cargo test -p leganto-tests --test integration --
/// --ignored --nocapture steps::bounded_memory::a_400_mb`.
#[tokio::test]
#[ignore = "a benchmark (400 MB files): see docs/performance.md"]
async fn a_400_mb_export_and_loader_file_pass_in_bounded_memory() {
    let peaks = big_day("bounded-memory-400", 400).await;
    println!("peak memory, 400 MB: {peaks:?}");
}

/// Peak memory (MB) of the pull and of the push, each of a file of `megabytes`.
#[derive(Debug)]
#[allow(dead_code)] // Read through Debug.
struct Peaks {
    pull_mb: u64,
    push_mb: u64,
}

async fn big_day(name: &str, megabytes: u64) -> Peaks {
    let limit = function_memory_mb();
    assert!(
        megabytes > limit,
        "the files must be larger than the memory"
    );
    let options = Options {
        own_moto: true,
        ..Options::default()
    };
    let world = World::start_with(name, options).await;
    // Made the CEM account's (empty), then filled.
    let export = world.sshd.put_file(CEM, EXPORT_NAME, b"").unwrap();
    let export_bytes = write_export(&export, megabytes);
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();

    let (pulled, pull_kb) = in_a_child(&world, "pull", &state).await;
    assert_eq!(pulled["bytes"], export_bytes, "{pulled}");
    let stored = world
        .ctx
        .store
        .list(pulled["export_key"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(stored[0].size, export_bytes, "the export in S3, whole");
    state["pull"] = pulled;

    // A loader file as the transform leaves it, its delete checks older than the guard
    // allows: the push scans it, writes a copy without the one DELETE row Alma's listing
    // does not show, and sends that.
    let (loader_bytes, delete_line_bytes) = put_loader_file(&world, megabytes).await;
    let (pushed, push_kb) = in_a_child(&world, "push", &state).await;
    assert_eq!(pushed["deletes_dropped_at_push"], 1, "{pushed}");
    let name = pushed["file_name"].as_str().unwrap();
    assert_eq!(
        world.alma_files(),
        [name],
        "the file alone, no temporary one"
    );
    let on_alma = std::fs::metadata(world.sshd.directory(ALMA).join(name)).unwrap();
    assert_eq!(on_alma.len(), loader_bytes - delete_line_bytes);
    assert_eq!(pushed["bytes"], on_alma.len());

    let peaks = Peaks {
        pull_mb: pull_kb / 1024,
        push_mb: push_kb / 1024,
    };
    assert!(
        peaks.pull_mb < limit && peaks.push_mb < limit,
        "{peaks:?}: over the functions' {limit} MB"
    );
    peaks
}

/// The memory Pull and Push are deployed with: the template's global `MemorySize` (neither
/// sets its own).
fn function_memory_mb() -> u64 {
    let template = template();
    for function in ["PullFunction", "PushFunction"] {
        let own = get(
            &template,
            &["Resources", function, "Properties", "MemorySize"],
        );
        assert!(own.is_none(), "{function} has a MemorySize of its own");
    }
    let global = get(&template, &["Globals", "Function", "MemorySize"]).and_then(scalar);
    global
        .and_then(|m| m.parse().ok())
        .expect("Globals' MemorySize")
}

/// The sample export's rows again and again, to `megabytes`; its size in bytes.
fn write_export(path: &Path, megabytes: u64) -> u64 {
    let sample = read_sample("cem.csv");
    let body_at = sample.iter().position(|b| *b == b'\n').unwrap() + 1;
    let (header, body) = sample.split_at(body_at);
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    file.write_all(header).unwrap();
    let mut written = header.len() as u64;
    while written < megabytes * MB {
        file.write_all(body).unwrap();
        written += body.len() as u64;
    }
    file.flush().unwrap();
    written
}

/// Puts a loader file of `megabytes` in S3 (the sample's rows without their DELETE rows,
/// again and again, and one DELETE row for a course Alma does not hold) a part at a time,
/// with a run summary whose delete checks are a day old. Its size, and the DELETE row's.
async fn put_loader_file(world: &World, megabytes: u64) -> (u64, u64) {
    let sample = String::from_utf8(read_sample("expected_alma.txt")).unwrap();
    let mut lines = sample.split_inclusive("\r\n");
    let header = lines.next().unwrap();
    let rows: String = lines.filter(|l| !l.contains("\tDELETE\t")).collect();
    let delete = delete_row();
    let key = "alma/2026/11/28/20261128092514.txt";
    let mut object = world.ctx.store.streamed(key, content_type::TEXT);
    let mut parts = Parts::new(PART_BYTES);
    let mut written = 0u64;
    let mut chunks = [header, delete.as_str()]
        .into_iter()
        .chain(std::iter::repeat(rows.as_str()));
    while written < megabytes * MB {
        let chunk = chunks.next().unwrap();
        written += chunk.len() as u64;
        for part in parts.push(chunk.as_bytes()) {
            object.write_part(part).await.unwrap();
        }
    }
    if let Some(last) = parts.finish() {
        object.write_part(last).await.unwrap();
    }
    object.finish().await.unwrap();
    let made_at = Utc::now() - Duration::days(1);
    let summary = json!({
        "loader_key": key,
        "loader_file_name": "20261128092514.txt",
        "summary_key": "reports/2026/11/28/run-summary.json",
        "rejects_key": "reports/2026/11/28/rejects.csv",
        "years_needed": [],
        "made_at": made_at,
    });
    let summary_key = "reports/2026/11/28/run-summary.json";
    world
        .ctx
        .store
        .put_json(summary_key, &summary)
        .await
        .unwrap();
    (written, delete.len() as u64)
}

/// A DELETE row (with its CRLF) for a course Alma's listing does not show.
fn delete_row() -> String {
    let column = |name: &str| LOADER_COLUMNS.iter().position(|c| *c == name).unwrap();
    let mut fields = vec![""; LOADER_COLUMNS.len()];
    fields[column("Course Code")] = "2026Fall-X-NONE999-99999";
    fields[column("Section ID")] = "99999";
    fields[column("Year")] = "2026";
    fields[column("Operation")] = "DELETE";
    format!("{}\r\n", fields.join("\t"))
}

/// Runs `function` on `payload` in a child process: its output and its peak resident
/// memory in kB.
async fn in_a_child(world: &World, function: &str, payload: &Value) -> (Value, u64) {
    let spec = json!({
        "moto": world.moto.endpoint(),
        "settings": world.settings,
        "function": function,
        "payload": payload,
    });
    let exe = std::env::current_exe().unwrap();
    let output = tokio::process::Command::new(exe)
        .args([CHILD_TEST, "--exact", "--ignored", "--nocapture"])
        .env(CHILD, spec.to_string())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(answer) = stdout.lines().find_map(|l| l.strip_prefix(ANSWER)) else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        panic!(
            "{function}: no answer ({})\n{stdout}\n{stderr}",
            output.status
        );
    };
    let answer: Value = serde_json::from_str(answer).unwrap();
    assert!(answer["error"].is_null(), "{function}: {answer}");
    (
        answer["output"].clone(),
        answer["peak_kb"].as_u64().unwrap(),
    )
}

/// The child: one step, as its function runs it (a runtime of its own, the functions'
/// settings), then its answer with the process's peak resident memory.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "the child process of the bounded-memory tests; does nothing alone"]
async fn one_step_in_a_child_process() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let settings: HashMap<String, String> =
        serde_json::from_value(spec["settings"].clone()).unwrap();
    let config = Config::from_lookup(|k| settings.get(k).cloned()).unwrap();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .endpoint_url(spec["moto"].as_str().unwrap())
        .load()
        .await;
    let ctx = StepContext::new(config, &sdk);
    let function = spec["function"].as_str().unwrap();
    let result = leganto_tests::dispatch::invoke(&ctx, function, spec["payload"].clone()).await;
    let answer = match result {
        Ok(output) => json!({"output": output, "peak_kb": peak_kb()}),
        Err(e) => json!({"error": e.to_string(), "peak_kb": peak_kb()}),
    };
    println!("{ANSWER}{answer}");
}

/// This process's peak resident set size (`VmHWM`), in kB.
fn peak_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap();
    line.trim().trim_end_matches("kB").trim().parse().unwrap()
}
