//! The daily run's steps, one module per state of the state machine (infra/CONTRACT.md):
//! typed input and output, and a plain async `run(ctx, input)` doing the work.
//!
//! The Lambdas in `functions/<step>` ([`run_lambda`]) and the local Lambda host call [`handle`] /
//! [`invoke`], which parse the JSON payload, run the step inside a span carrying the run
//! date and execution name (so every log line has them), log the outcome and return the
//! output as JSON or a [`StepError`] whose `error_type()` is the stable error name.

pub mod cache_courses;
pub mod check_job;
mod context;
pub mod email_report;
mod error;
pub mod notify_slack;
pub mod plan;
pub mod pull;
pub mod push;
pub mod rollover_report;
pub mod transform;

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument as _;

pub use context::{Clock, StepContext};
pub use error::StepError;

/// A stage a run can start at (`start_at`), in running order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    Pull,
    Transform,
    Push,
    WaitForAlma,
    RolloverReport,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Pull,
        Stage::Transform,
        Stage::Push,
        Stage::WaitForAlma,
        Stage::RolloverReport,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Pull => "pull",
            Stage::Transform => "transform",
            Stage::Push => "push",
            Stage::WaitForAlma => "wait_for_alma",
            Stage::RolloverReport => "rollover_report",
        }
    }

    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The `run` section the plan writes and every later step reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// `YYYY-MM-DD` in the library's time zone.
    pub run_date: NaiveDate,
    #[serde(default)]
    pub start_at: Stage,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub skipped_stages: Vec<Stage>,
    #[serde(default)]
    pub time_zone: String,
    #[serde(default)]
    pub poll_interval_seconds: u64,
    #[serde(default)]
    pub wait_limit_seconds: u64,
    #[serde(default)]
    pub execution_arn: String,
    #[serde(default)]
    pub execution_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
}

impl RunInfo {
    /// A run for `run_date` with defaults elsewhere (tests, local runs).
    pub fn for_date(run_date: NaiveDate) -> RunInfo {
        RunInfo {
            run_date,
            start_at: Stage::Pull,
            dry_run: false,
            skipped_stages: Vec::new(),
            time_zone: String::new(),
            poll_interval_seconds: 0,
            wait_limit_seconds: 0,
            execution_arn: String::new(),
            execution_name: String::new(),
            console_url: None,
            started_at: None,
        }
    }

    pub fn day(&self) -> crate::store::DayKeys {
        crate::store::DayKeys::new(self.run_date)
    }
}

/// One Lambda per step; the names follow the folder: `functions/check-job` =
/// package `leganto-check-job` = SAM `CheckJobFunction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Plan,
    Pull,
    Transform,
    Push,
    CheckJob,
    CacheCourses,
    RolloverReport,
    EmailReport,
    NotifySlack,
}

impl Step {
    pub const ALL: [Step; 9] = [
        Step::Plan,
        Step::Pull,
        Step::Transform,
        Step::Push,
        Step::CheckJob,
        Step::CacheCourses,
        Step::RolloverReport,
        Step::EmailReport,
        Step::NotifySlack,
    ];

    /// The folder name: `plan`, `check-job`, ...
    pub fn name(self) -> &'static str {
        match self {
            Step::Plan => "plan",
            Step::Pull => "pull",
            Step::Transform => "transform",
            Step::Push => "push",
            Step::CheckJob => "check-job",
            Step::CacheCourses => "cache-courses",
            Step::RolloverReport => "rollover-report",
            Step::EmailReport => "email-report",
            Step::NotifySlack => "notify-slack",
        }
    }

    /// The SAM logical id: `PlanFunction`, `CheckJobFunction`, ...
    pub fn sam_name(self) -> &'static str {
        match self {
            Step::Plan => "PlanFunction",
            Step::Pull => "PullFunction",
            Step::Transform => "TransformFunction",
            Step::Push => "PushFunction",
            Step::CheckJob => "CheckJobFunction",
            Step::CacheCourses => "CacheCoursesFunction",
            Step::RolloverReport => "RolloverReportFunction",
            Step::EmailReport => "EmailReportFunction",
            Step::NotifySlack => "NotifySlackFunction",
        }
    }

    /// The step a Lambda function name or ARN refers to: `plan`, `leganto-plan`,
    /// `PlanFunction`, `arn:aws:lambda:…:function:leganto-PlanFunction-1X2Y3Z[:alias]`.
    pub fn from_function_name(name: &str) -> Option<Step> {
        let name = name.trim();
        // arn:aws:lambda:region:account:function:NAME[:qualifier]
        let name = match name.split(':').collect::<Vec<_>>().as_slice() {
            ["arn", _, "lambda", _, _, "function", function, ..] => *function,
            _ => name,
        };
        let squash = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .collect()
        };
        let plain = squash(name.strip_prefix("leganto-").unwrap_or(name));
        if let Some(step) = Step::ALL.into_iter().find(|s| squash(s.name()) == plain) {
            return Some(step);
        }
        // SAM names functions `<stack>-PlanFunction-<suffix>`; the longest match wins so
        // `CheckJobFunction` is never read as something shorter.
        let whole = squash(name);
        Step::ALL
            .into_iter()
            .filter(|s| whole.contains(&squash(s.sam_name())))
            .max_by_key(|s| s.sam_name().len())
    }
}

/// Parses a step's input; a payload that does not fit is `InvalidInput` naming the field.
pub fn parse_input<T: DeserializeOwned>(step: Step, payload: Value) -> Result<T, StepError> {
    serde_json::from_value(payload).map_err(|e| StepError::InvalidInput {
        message: format!(
            "the input of {} does not fit its contract: {e}",
            step.name()
        ),
        source: Some(Box::new(e)),
    })
}

fn to_output<T: Serialize>(output: T) -> Result<Value, StepError> {
    serde_json::to_value(output).map_err(|e| StepError::OutputFailed(std::io::Error::other(e)))
}

type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, StepError>> + Send + 'a>>;

/// Each step's future is boxed: nested unboxed, the nine of them make a future too deep
/// for the compiler's layout query in the Lambda binaries (and cost stack).
fn run_step(ctx: &StepContext, step: Step, payload: Value) -> StepFuture<'_> {
    macro_rules! typed {
        ($module:ident) => {
            Box::pin(
                async move { to_output($module::run(ctx, parse_input(step, payload)?).await?) },
            )
        };
    }
    match step {
        Step::Plan => typed!(plan),
        Step::Pull => typed!(pull),
        Step::Transform => typed!(transform),
        Step::Push => typed!(push),
        Step::CheckJob => typed!(check_job),
        Step::CacheCourses => typed!(cache_courses),
        Step::RolloverReport => typed!(rollover_report),
        Step::EmailReport => typed!(email_report),
        // Parsed leniently inside: a failure notice must go out even with odd state.
        Step::NotifySlack => {
            Box::pin(async move { to_output(notify_slack::run_value(ctx, payload).await?) })
        }
    }
}

/// The span every log line of one invocation sits in: step, run date, execution.
fn step_span(step: Step, payload: &Value) -> tracing::Span {
    let run = payload
        .get("run")
        .or_else(|| payload.get("state").and_then(|s| s.get("run")));
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    let run_date = text(
        run.and_then(|r| r.get("run_date"))
            .or_else(|| payload.get("input").and_then(|i| i.get("run_date"))),
    );
    let execution = text(
        run.and_then(|r| r.get("execution_name"))
            .or_else(|| payload.get("execution_name")),
    );
    let span = tracing::info_span!(
        "step",
        step = step.name(),
        run_date = tracing::field::Empty,
        execution = tracing::field::Empty,
    );
    if !run_date.is_empty() {
        span.record("run_date", run_date.as_str());
    }
    if !execution.is_empty() {
        span.record("execution", execution.as_str());
    }
    span
}

/// Runs `step` on a JSON payload: what a Lambda's handler does.
pub async fn handle(ctx: &StepContext, step: Step, payload: Value) -> Result<Value, StepError> {
    let span = step_span(step, &payload);
    async move {
        let started = Instant::now();
        tracing::info!("step started");
        let result = run_step(ctx, step, payload).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => tracing::info!(elapsed_ms, "step finished"),
            Err(e) => tracing::error!(
                elapsed_ms,
                error_type = e.error_type(),
                error = %e.message(),
                "step failed"
            ),
        }
        result
    }
    .instrument(span)
    .await
}

/// Runs the step a Lambda function name or ARN names (see [`Step::from_function_name`]):
/// the local Lambda host's entry point.
pub async fn invoke(
    ctx: &StepContext,
    function_name: &str,
    payload: Value,
) -> Result<Value, StepError> {
    let step = Step::from_function_name(function_name).ok_or_else(|| {
        StepError::UnknownFunction(format!("no step is called {function_name:?}"))
    })?;
    handle(ctx, step, payload).await
}

/// A step's Lambda from cold start on: JSON logs, the context built once (a missing
/// setting fails here, named), then [`handle`] for every event. An `Err` carries its stable
/// name as the Lambda errorType (`From<StepError> for Diagnostic`).
pub async fn run_lambda(step: Step) -> Result<(), lambda_runtime::Error> {
    init_json_logs();
    let ctx = StepContext::from_env().await?;
    let ctx = &ctx;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| async move {
            handle(ctx, step, event.payload).await
        },
    ))
    .await
}

/// JSON logs to stdout (CloudWatch), `RUST_LOG` filtering (default `info`), each line with
/// the fields of its spans (run date, execution). Safe to call twice.
pub fn init_json_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing::subscriber::set_global_default(json_logs(filter, std::io::stdout));
}

/// The log format of [`init_json_logs`], writing to `writer` (tests capture it).
pub fn json_logs<W>(
    filter: tracing_subscriber::EnvFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .with_target(false)
        .with_writer(writer)
        .finish()
}

/// The first `limit` items, and a last line saying how many more there are.
pub(crate) fn capped(
    items: impl IntoIterator<Item = String>,
    limit: usize,
    more: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut extra = 0usize;
    for item in items {
        if out.len() < limit {
            out.push(item);
        } else {
            extra += 1;
        }
    }
    if extra > 0 {
        out.push(format!("… and {extra} more ({more})"));
    }
    out
}

/// Hosts (an axum handler, `tokio::spawn`) need the step futures to be `Send` for any
/// lifetime of the context and name; this fails to compile if that ever breaks.
#[cfg(test)]
#[allow(dead_code)]
fn invoke_is_spawnable(ctx: std::sync::Arc<StepContext>, name: String) {
    fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
    spawnable(async move { invoke(&ctx, &name, Value::Null).await });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_in_every_form_find_their_step() {
        for step in Step::ALL {
            assert_eq!(Step::from_function_name(step.name()), Some(step));
            assert_eq!(
                Step::from_function_name(&format!("leganto-{}", step.name())),
                Some(step)
            );
            assert_eq!(Step::from_function_name(step.sam_name()), Some(step));
            let arn = format!(
                "arn:aws:lambda:us-west-2:123456789012:function:leganto-{}-AbC123:live",
                step.sam_name()
            );
            assert_eq!(Step::from_function_name(&arn), Some(step), "{arn}");
            let arn = format!(
                "arn:aws:lambda:us-east-1:123456789012:function:leganto-{}",
                step.name()
            );
            assert_eq!(Step::from_function_name(&arn), Some(step), "{arn}");
        }
        assert_eq!(Step::from_function_name("deploy"), None);
        assert_eq!(Step::from_function_name(""), None);
    }

    #[test]
    fn a_minimal_run_section_reads_with_defaults() {
        let run: RunInfo = serde_json::from_value(serde_json::json!({
            "run_date": "2026-11-28", "unknown": 1
        }))
        .unwrap();
        assert_eq!(
            run,
            RunInfo::for_date(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap())
        );
        let json = serde_json::to_value(&run).unwrap();
        assert_eq!(json["start_at"], "pull");
        assert!(json.get("console_url").is_none());
    }

    #[test]
    fn capped_lists_say_how_many_were_left_out() {
        let items = (0..5).map(|i| i.to_string());
        assert_eq!(
            capped(items, 3, "see x"),
            vec!["0", "1", "2", "… and 2 more (see x)"]
        );
        assert_eq!(capped(vec!["a".to_string()], 3, "x"), vec!["a"]);
    }
}
