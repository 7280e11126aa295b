//! JSON logs for CloudWatch: one line per event, each with the step, run date and
//! execution of the invocation it belongs to.

use serde_json::Value;

/// The span every log line of one invocation sits in: step, run date, execution.
pub(super) fn step_span(step: &'static str, payload: &Value) -> tracing::Span {
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
        step,
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
