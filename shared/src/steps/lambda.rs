//! The Lambda entry point: one typed step per binary, and the same handling for the tests'
//! host, so both log and fail alike.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument as _;

use super::logging::{init_json_logs, step_span};
use super::{StepContext, StepError};
use crate::error::ErrorName as _;

/// A step's Lambda from cold start on: JSON logs, the context built once (a missing setting
/// fails here, named), then [`handle`] for every event. An `Err` carries its stable name as
/// the Lambda `errorType` (`From<StepError> for Diagnostic`).
///
/// `name` is the step's folder name (`plan`, `check-job`, ...), logged on every line.
pub async fn serve<I, O, F, Fut>(name: &'static str, run: F) -> Result<(), lambda_runtime::Error>
where
    I: DeserializeOwned,
    O: Serialize,
    F: Fn(&'static StepContext, I) -> Fut + Copy,
    Fut: Future<Output = Result<O, StepError>> + Send + 'static,
{
    init_json_logs();
    // One context for the life of the process: warm invocations reuse its clients.
    let ctx: &'static StepContext = Box::leak(Box::new(StepContext::from_env().await?));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| handle(ctx, name, event.payload, run),
    ))
    .await
}

/// Runs one step on a JSON payload: parse the input (a payload that does not fit is
/// `InvalidInput` naming the field), run, log the outcome, serialise the output.
pub async fn handle<'c, I, O, F, Fut>(
    ctx: &'c StepContext,
    name: &'static str,
    payload: Value,
    run: F,
) -> Result<Value, StepError>
where
    I: DeserializeOwned,
    O: Serialize,
    F: FnOnce(&'c StepContext, I) -> Fut,
    Fut: Future<Output = Result<O, StepError>> + Send + 'c,
{
    let span = step_span(name, &payload);
    async move {
        let started = Instant::now();
        tracing::info!("step started");
        let result = match parse_input(name, payload) {
            // Boxed: unboxed, a step's future nested in the runtime's is deeper than the
            // compiler's layout query allows; `Send` lets hosts spawn it.
            Ok(input) => {
                let step: StepFuture<'c, O> = Box::pin(run(ctx, input));
                step.await.and_then(to_output)
            }
            Err(e) => Err(e),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => tracing::info!(elapsed_ms, "step finished"),
            Err(e) => tracing::error!(
                elapsed_ms,
                error_type = e.error_name(),
                error = %e.message(),
                "step failed"
            ),
        }
        result
    }
    .instrument(span)
    .await
}

type StepFuture<'c, O> = Pin<Box<dyn Future<Output = Result<O, StepError>> + Send + 'c>>;

fn parse_input<T: DeserializeOwned>(name: &str, payload: Value) -> Result<T, StepError> {
    serde_json::from_value(payload).map_err(|e| StepError::InvalidInput {
        message: format!("the input of {name} does not fit its contract: {e}"),
        source: Some(Box::new(e)),
    })
}

fn to_output<T: Serialize>(output: T) -> Result<Value, StepError> {
    serde_json::to_value(output).map_err(|e| StepError::OutputFailed(std::io::Error::other(e)))
}
