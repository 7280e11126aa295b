//! The real definition executed by moto's Step Functions interpreter. Moto sends each Task's
//! Lambda invoke to `http://localhost:$MOTO_PORT`; a scripted Lambda host there answers like
//! the handlers of infra/CONTRACT.md (AWS's error convention included), so these tests check
//! the flow, the state it accumulates and what each step receives.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use leganto_tests::moto::{Moto, REGION};
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};

use super::support::substituted_definition;

/// Longest an execution may take before the test gives up (a hang guard, not a timing check).
const EXECUTION_DEADLINE: Duration = Duration::from_secs(180);

/// What the scripted functions do, chosen per execution by the test-only `scenario` field
/// of the execution input (the fake plan copies it into `run`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Scenario {
    NormalDay,
    MissingExport,
    EmailDown,
    SlackDown,
    MissingExportAndSlackDown,
    AlmaNeverFinishes,
    LambdaHiccupOnPull,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::NormalDay => "normal_day",
            Scenario::MissingExport => "missing_export",
            Scenario::EmailDown => "email_down",
            Scenario::SlackDown => "slack_down",
            Scenario::MissingExportAndSlackDown => "missing_export_and_slack_down",
            Scenario::AlmaNeverFinishes => "alma_never_finishes",
            Scenario::LambdaHiccupOnPull => "lambda_hiccup_on_pull",
        }
    }

    fn from_name(name: &str) -> Scenario {
        [
            Scenario::NormalDay,
            Scenario::MissingExport,
            Scenario::EmailDown,
            Scenario::SlackDown,
            Scenario::MissingExportAndSlackDown,
            Scenario::AlmaNeverFinishes,
            Scenario::LambdaHiccupOnPull,
        ]
        .into_iter()
        .find(|s| s.name() == name)
        .unwrap_or(Scenario::NormalDay)
    }
}

#[derive(Debug, Clone)]
struct Call {
    function: String,
    payload: Value,
}

type Calls = Arc<Mutex<Vec<Call>>>;

/// A function error as the Lambda runtime reports it.
struct FunctionError {
    error_type: &'static str,
    message: String,
}

fn fail(error_type: &'static str, message: impl Into<String>) -> Result<Value, FunctionError> {
    Err(FunctionError {
        error_type,
        message: message.into(),
    })
}

fn run_of(function: &str, payload: &Value) -> Value {
    match function {
        "leganto-notify-slack" | "leganto-release" => payload["state"]["run"].clone(),
        _ => payload["run"].clone(),
    }
}

/// The scripted handlers: contract-shaped outputs, errors by scenario.
fn respond(function: &str, payload: &Value, calls_so_far: &[Call]) -> Result<Value, FunctionError> {
    let run = run_of(function, payload);
    let scenario = Scenario::from_name(
        run["scenario"]
            .as_str()
            .or_else(|| payload["input"]["scenario"].as_str())
            .unwrap_or_default(),
    );
    let previous = |name: &str| calls_so_far.iter().filter(|c| c.function == name).count();
    match function {
        "leganto-plan" => {
            let input = &payload["input"];
            let start_at = input["start_at"].as_str().unwrap_or("pull");
            let stages = [
                "pull",
                "transform",
                "push",
                "wait_for_alma",
                "rollover_report",
            ];
            let skipped: Vec<&str> = stages
                .iter()
                .copied()
                .take_while(|s| *s != start_at)
                .collect();
            let mut state = json!({
                "run": {
                    "run_date": input["run_date"].as_str().unwrap_or(RUN_DATE),
                    "start_at": start_at,
                    "dry_run": input["dry_run"].as_bool().unwrap_or(false),
                    "skipped_stages": skipped,
                    "time_zone": "America/Phoenix",
                    "poll_interval_seconds": 1,
                    "wait_limit_seconds": 3,
                    "execution_arn": payload["execution_arn"],
                    "execution_name": payload["execution_name"],
                    "started_at": payload["execution_started_at"],
                    "scenario": scenario.name(),
                }
            });
            if matches!(start_at, "push" | "wait_for_alma") {
                state["transform"] = transform_output();
            }
            if matches!(start_at, "wait_for_alma" | "rollover_report") {
                state["push"] = push_output();
            }
            Ok(state)
        }
        "leganto-pull" => match scenario {
            Scenario::MissingExport | Scenario::MissingExportAndSlackDown => fail(
                "SourceFileMissing",
                "no leganto_export_20261128* on the CEM server",
            ),
            Scenario::LambdaHiccupOnPull if previous("leganto-pull") == 0 => {
                fail("Lambda.ServiceException", "the service hiccuped")
            }
            _ => Ok(json!({
                "export_key": "cem/2026/11/28/leganto_export_20261128.csv",
                "source_file": "leganto_export_20261128.csv",
                "bytes": 1234,
                "candidates": ["leganto_export_20261128.csv"],
                "warnings": [],
            })),
        },
        "leganto-transform" => Ok(transform_output()),
        "leganto-push" => Ok(push_output()),
        "leganto-check-job" => {
            let checks = payload["alma_job"]["checks"].as_u64().unwrap_or(0) + 1;
            let never = scenario == Scenario::AlmaNeverFinishes;
            let done = !never && checks >= 2;
            Ok(json!({
                "done": done,
                "timed_out": never && checks >= 2,
                "status": if done { "COMPLETED_SUCCESS" } else { "RUNNING" },
                "job_instance_id": "8711402470004561",
                "counters": {"courses_created": 10, "courses_updated": 5},
                "checks": checks,
                "waited_seconds": checks,
            }))
        }
        "leganto-cache-courses" => {
            let year = payload["year"].as_u64().unwrap_or_default();
            Ok(
                json!({"year": year, "cache_key": format!("cache/2026/11/28/courses-{year}.json"), "courses": 7, "api_calls": 1}),
            )
        }
        "leganto-rollover-report" => Ok(json!({
            "report_key": "reports/2026/11/28/rollover_20261128113002.txt",
            "report_file_name": "rollover_20261128113002.txt",
            "rollovers": 2, "ambiguous": 1, "not_found": 0,
        })),
        "leganto-email-report" => match scenario {
            Scenario::EmailDown => fail("EmailFailed", "SES refused the message"),
            _ => Ok(
                json!({"message_id": "m-1", "recipients": 2, "attachment": "rollover_20261128113002.txt"}),
            ),
        },
        "leganto-notify-slack" => match scenario {
            Scenario::SlackDown | Scenario::MissingExportAndSlackDown => {
                fail("SlackUnavailable", "no route to Slack")
            }
            _ => Ok(json!({"posted": true})),
        },
        "leganto-release" => Ok(json!({"released": payload["state"]["run"].is_object()})),
        other => fail("ResourceNotFoundException", format!("no function {other}")),
    }
}

fn transform_output() -> Value {
    json!({
        "loader_key": "alma/2026/11/28/20261128092514.txt",
        "loader_file_name": "20261128092514.txt",
        "summary_key": "reports/2026/11/28/run-summary.json",
        "rejects_key": "reports/2026/11/28/rejects.csv",
        "counts": {"rows_read": 12, "rows_written": 10, "rejected": 2},
        "warnings": [],
        "years_needed": [2025, 2026],
    })
}

fn push_output() -> Value {
    json!({
        "file_name": "20261128092514.txt",
        "remote_path": "/incoming/20261128092514.txt",
        "bytes": 999,
        "pushed_at": "2026-11-28T16:25:14Z",
        "already_there": false,
    })
}

async fn invoke(
    State(calls): State<Calls>,
    Path(function): Path<String>,
    body: axum::body::Bytes,
) -> (StatusCode, HeaderMap, Json<Value>) {
    // boto's Invoke sends the payload without a JSON content type.
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // Moto passes the ARN (URL-encoded in the path); the name is its last part.
    let name = function.rsplit(':').next().unwrap_or(&function).to_string();
    let result = {
        let mut calls = calls.lock().expect("calls lock");
        let result = respond(&name, &payload, &calls);
        calls.push(Call {
            function: name,
            payload,
        });
        result
    };
    let mut headers = HeaderMap::new();
    match result {
        Ok(output) => (StatusCode::OK, headers, Json(output)),
        Err(error) => {
            headers.insert(
                "X-Amz-Function-Error",
                HeaderValue::from_static("Unhandled"),
            );
            let body = json!({"errorType": error.error_type, "errorMessage": error.message});
            (StatusCode::OK, headers, Json(body))
        }
    }
}

struct Harness {
    moto: Moto,
    sfn: aws_sdk_sfn::Client,
    machine_arn: String,
    calls: Calls,
    server: tokio::task::JoinHandle<()>,
}

struct Outcome {
    status: ExecutionStatus,
    error: Option<String>,
    cause: Option<String>,
    output: Value,
    execution_arn: String,
    entered: Vec<String>,
    calls: Vec<Call>,
}

impl Outcome {
    /// Panics unless the execution succeeded, naming the execution, its error and cause.
    fn assert_succeeded(&self) {
        assert_eq!(
            self.status,
            ExecutionStatus::Succeeded,
            "{}: {:?} {:?}",
            self.execution_arn,
            self.error,
            self.cause
        );
    }

    fn called(&self, function: &str) -> Vec<&Value> {
        self.calls
            .iter()
            .filter(|c| c.function == function)
            .map(|c| &c.payload)
            .collect()
    }

    fn functions(&self) -> Vec<&str> {
        self.calls.iter().map(|c| c.function.as_str()).collect()
    }

    fn slack(&self, kind: &str) -> Vec<&Value> {
        self.called("leganto-notify-slack")
            .into_iter()
            .filter(|p| p["kind"] == kind)
            .collect()
    }
}

impl Harness {
    async fn start() -> Harness {
        let calls: Calls = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Lambda host");
        let port = listener.local_addr().expect("addr").port();
        let app = Router::new()
            .route("/2015-03-31/functions/{function}/invocations", post(invoke))
            .with_state(calls.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let moto = tokio::task::spawn_blocking(move || {
            Moto::start_with_env(&[("MOTO_PORT", &port.to_string())])
        })
        .await
        .expect("moto starts");
        moto.enable_stepfunctions_execution()
            .await
            .expect("execution switched on");
        let sfn = aws_sdk_sfn::Client::new(&moto.sdk_config().await);
        let machine_arn = sfn
            .create_state_machine()
            .name("leganto-daily-run")
            .definition(substituted_definition(REGION))
            .role_arn("arn:aws:iam::123456789012:role/leganto-state-machine")
            .send()
            .await
            .expect("moto accepts the definition")
            .state_machine_arn;
        Harness {
            moto,
            sfn,
            machine_arn,
            calls,
            server,
        }
    }

    async fn run(&self, name: &str, input: Value) -> Outcome {
        self.calls.lock().expect("lock").clear();
        let execution_arn = self
            .sfn
            .start_execution()
            .state_machine_arn(&self.machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .expect("execution starts")
            .execution_arn;
        let started = Instant::now();
        let described = loop {
            let described = self
                .sfn
                .describe_execution()
                .execution_arn(&execution_arn)
                .send()
                .await
                .expect("describe execution");
            if described.status != ExecutionStatus::Running {
                break described;
            }
            assert!(
                started.elapsed() < EXECUTION_DEADLINE,
                "{name} still running; moto log port {}",
                self.moto.port()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let history = self
            .sfn
            .get_execution_history()
            .execution_arn(&execution_arn)
            .max_results(1000)
            .send()
            .await
            .expect("history");
        let entered = history
            .events
            .iter()
            .filter_map(|e| {
                e.state_entered_event_details
                    .as_ref()
                    .map(|d| d.name.clone())
            })
            .collect();
        Outcome {
            status: described.status,
            error: described.error,
            cause: described.cause,
            output: described
                .output
                .as_deref()
                .map(|o| serde_json::from_str(o).expect("output JSON"))
                .unwrap_or(Value::Null),
            execution_arn,
            entered,
            calls: self.calls.lock().expect("lock").clone(),
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn position(outcome: &Outcome, state: &str) -> usize {
    outcome
        .entered
        .iter()
        .position(|s| s == state)
        .unwrap_or_else(|| panic!("{state:?} was not entered: {:?}", outcome.entered))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_day_runs_every_stage_in_order_and_accumulates_each_stages_output() {
    let harness = Harness::start().await;
    let outcome = harness
        .run("normal-day", json!({"scenario": "normal_day"}))
        .await;
    outcome.assert_succeeded();

    let order = [
        "Plan the run",
        "Pull the CEM export",
        "Transform the export",
        "Push to Alma SFTP",
        "Wait for Alma and cache the courses",
        "Build the rollover report",
        "Deliver the report",
        "Release the run date",
        "The run succeeded",
    ];
    let positions: Vec<usize> = order.iter().map(|s| position(&outcome, s)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "out of order: {:?}",
        outcome.entered
    );

    // The plan gets the execution's identity; the state carries it on.
    let plan = outcome.called("leganto-plan");
    assert_eq!(plan.len(), 1);
    assert_eq!(
        plan[0]["execution_arn"],
        Value::String(outcome.execution_arn.clone())
    );
    assert_eq!(plan[0]["execution_name"], "normal-day");
    assert!(plan[0]["execution_started_at"]
        .as_str()
        .is_some_and(|t| t.starts_with("20")));
    assert_eq!(plan[0]["input"]["scenario"], "normal_day");

    // Alma's job is polled until done; each check sees the previous one.
    let checks = outcome.called("leganto-check-job");
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[1]["alma_job"]["checks"], 1);
    assert_eq!(checks[0]["push"]["file_name"], "20261128092514.txt");

    // One cache call per year the transform needs, each with the run and its year.
    let mut years: Vec<u64> = outcome
        .called("leganto-cache-courses")
        .iter()
        .map(|p| p["year"].as_u64().expect("year"))
        .collect();
    years.sort();
    assert_eq!(years, [2025, 2026]);
    assert!(outcome
        .called("leganto-cache-courses")
        .iter()
        .all(|p| p["run"]["run_date"] == RUN_DATE));

    // The report sees both branches' results merged into the state.
    let report = outcome.called("leganto-rollover-report");
    assert_eq!(report.len(), 1);
    assert_eq!(report[0]["alma_job"]["status"], "COMPLETED_SUCCESS");
    assert_eq!(report[0]["caches"].as_array().map(Vec::len), Some(2));
    assert_eq!(report[0]["transform"]["years_needed"], json!([2025, 2026]));

    let email = outcome.called("leganto-email-report");
    assert_eq!(email.len(), 1);
    assert_eq!(
        email[0]["report"]["report_file_name"],
        "rollover_20261128113002.txt"
    );
    let summary = outcome.slack("summary");
    assert_eq!(summary.len(), 1);
    for key in [
        "run",
        "pull",
        "transform",
        "push",
        "alma_job",
        "caches",
        "report",
    ] {
        assert!(
            summary[0]["state"].get(key).is_some(),
            "the Slack summary sees {key}"
        );
    }
    assert!(outcome.slack("failure").is_empty());

    for key in [
        "run",
        "pull",
        "transform",
        "push",
        "alma_job",
        "caches",
        "report",
    ] {
        assert!(
            outcome.output.get(key).is_some(),
            "the final state holds {key}: {}",
            outcome.output
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_export_fails_the_run_after_slack_hears_which_state_failed_even_if_slack_is_down()
{
    let harness = Harness::start().await;
    let outcome = harness
        .run("missing-export", json!({"scenario": "missing_export"}))
        .await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("SourceFileMissing"));
    assert!(outcome
        .cause
        .as_deref()
        .is_some_and(|c| c.contains("no leganto_export_20261128*")));
    assert_eq!(
        outcome.called("leganto-pull").len(),
        1,
        "a missing export is not retried"
    );
    assert!(outcome.called("leganto-transform").is_empty());
    let failure = outcome.slack("failure");
    assert_eq!(failure.len(), 1);
    assert_eq!(failure[0]["state"]["failed_state"], "Pull the CEM export");
    assert_eq!(failure[0]["state"]["error"]["Error"], "SourceFileMissing");
    assert_eq!(failure[0]["state"]["run"]["run_date"], RUN_DATE);
    assert!(
        position(&outcome, "Notify Slack of the failure") < position(&outcome, "The run failed")
    );

    let outcome = harness
        .run(
            "missing-export-slack-down",
            json!({"scenario": "missing_export_and_slack_down"}),
        )
        .await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("SourceFileMissing"),
        "Slack's outage does not hide the cause"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_pushes_nothing_waits_for_nothing_and_mails_nothing_but_tells_slack() {
    let harness = Harness::start().await;
    let outcome = harness
        .run(
            "dry-run",
            json!({"scenario": "normal_day", "dry_run": true}),
        )
        .await;
    outcome.assert_succeeded();
    for function in ["leganto-push", "leganto-check-job", "leganto-email-report"] {
        assert!(
            outcome.called(function).is_empty(),
            "{function} was called in a dry run"
        );
    }
    assert_eq!(
        outcome.called("leganto-cache-courses").len(),
        2,
        "the report is still built"
    );
    assert_eq!(outcome.called("leganto-rollover-report").len(), 1);
    let summary = outcome.slack("summary");
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["state"]["run"]["dry_run"], true);
    assert_eq!(summary[0]["state"]["alma_job"]["status"], "SKIPPED");
    assert!(summary[0]["state"].get("push").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_start_stage_starts_the_run_at_that_stage_and_skips_the_earlier_ones() {
    let harness = Harness::start().await;
    let expected: [(&str, &[&str]); 5] = [
        (
            "pull",
            &["leganto-pull", "leganto-transform", "leganto-push"],
        ),
        ("transform", &["leganto-transform", "leganto-push"]),
        ("push", &["leganto-push"]),
        ("wait_for_alma", &[]),
        ("rollover_report", &[]),
    ];
    for (stage, before_wait) in expected {
        let name = format!("rerun-{RUN_DATE}-{}", stage.replace('_', "-"));
        let outcome = harness
            .run(
                &name,
                json!({"run_date": RUN_DATE, "start_at": stage, "scenario": "normal_day"}),
            )
            .await;
        outcome.assert_succeeded();
        let functions = outcome.functions();
        assert_eq!(functions[0], "leganto-plan");
        let early: Vec<&str> = functions
            .iter()
            .copied()
            .filter(|f| ["leganto-pull", "leganto-transform", "leganto-push"].contains(f))
            .collect();
        assert_eq!(early, before_wait, "{stage}: {functions:?}");
        let waited = !outcome.called("leganto-check-job").is_empty();
        assert_eq!(
            waited,
            stage != "rollover_report",
            "{stage}: waits for Alma unless starting at the report"
        );
        assert_eq!(
            outcome.called("leganto-rollover-report").len(),
            1,
            "{stage}"
        );
        assert_eq!(outcome.called("leganto-email-report").len(), 1, "{stage}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_and_slack_failures_never_fail_the_run_and_an_email_failure_reaches_slack() {
    let harness = Harness::start().await;
    let outcome = harness
        .run(
            "email-down",
            json!({"scenario": "email_down", "start_at": "rollover_report"}),
        )
        .await;
    outcome.assert_succeeded();
    let told = outcome.slack("email_failure");
    assert_eq!(told.len(), 1);
    assert_eq!(told[0]["state"]["failed_state"], "E-mail the report");
    assert_eq!(told[0]["state"]["error"]["Error"], "EmailFailed");
    assert_eq!(outcome.slack("summary").len(), 1);

    let outcome = harness
        .run("slack-down", json!({"scenario": "slack_down"}))
        .await;
    outcome.assert_succeeded();
    assert!(!outcome.slack("summary").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alma_not_finishing_in_time_is_recorded_and_the_run_goes_on() {
    let harness = Harness::start().await;
    let outcome = harness
        .run("alma-slow", json!({"scenario": "alma_never_finishes"}))
        .await;
    outcome.assert_succeeded();
    position(&outcome, "Alma did not finish in time");
    assert_eq!(outcome.output["alma_job"]["timed_out"], true);
    assert_eq!(
        outcome.slack("summary")[0]["state"]["alma_job"]["timed_out"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lambda_service_error_is_retried_and_the_run_carries_on() {
    let harness = Harness::start().await;
    let outcome = harness
        .run(
            "lambda-hiccup",
            json!({"scenario": "lambda_hiccup_on_pull"}),
        )
        .await;
    outcome.assert_succeeded();
    assert_eq!(outcome.called("leganto-pull").len(), 2);
    let counts: BTreeMap<&str, usize> =
        outcome
            .functions()
            .into_iter()
            .fold(BTreeMap::new(), |mut m, f| {
                *m.entry(f).or_default() += 1;
                m
            });
    assert_eq!(counts.get("leganto-transform"), Some(&1));
}
