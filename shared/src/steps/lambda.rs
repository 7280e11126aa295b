//! The Lambda entry point: one typed step per binary, and the same handling for the tests'
//! host, so both log and fail alike.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument as _;

use super::logging::{init_json_logs, step_span};
use super::preflight;
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
        move |event: lambda_runtime::LambdaEvent<Value>| {
            let deadline = instant_of(event.context.deadline);
            within_deadline(deadline, handle(ctx, name, event.payload, run))
        },
    ))
    .await
}

/// Longest margin kept before an invocation's deadline for the step to end on its own.
const MAX_DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// The running invocation's times (see [`within_deadline`]).
#[derive(Debug, Clone, Copy)]
struct Deadlines {
    /// When its Alma calls must give up.
    alma: Instant,
    /// When a resumable step starts no new Alma call: a margin before `alma`, so the
    /// calls under way can finish and what was learned can be saved.
    stop: Instant,
}

tokio::task_local! {
    static DEADLINES: Deadlines;
}

/// Runs `step` as an invocation that Lambda stops at `deadline`: its Alma client
/// ([`StepContext::alma`]) retries no later than a margin before it (30 s, or a tenth of
/// the time left if less), so the step fails with its own error, not a timeout. A
/// resumable step stops asking a second margin earlier ([`step_stop`]).
pub async fn within_deadline<F: Future>(deadline: Instant, step: F) -> F::Output {
    let left = deadline.saturating_duration_since(Instant::now());
    let margin = MAX_DEADLINE_MARGIN.min(left / 10);
    let alma = deadline - margin;
    let times = Deadlines {
        alma,
        stop: alma - margin,
    };
    DEADLINES.scope(times, step).await
}

/// The running invocation's deadline for Alma calls; none outside [`within_deadline`].
pub(crate) fn alma_deadline() -> Option<Instant> {
    DEADLINES.try_with(|d| d.alma).ok()
}

/// When a resumable step of the running invocation starts no new Alma call; none outside
/// [`within_deadline`].
pub fn step_stop() -> Option<Instant> {
    DEADLINES.try_with(|d| d.stop).ok()
}

/// Lambda's deadline (milliseconds since the epoch) as an instant of this process.
fn instant_of(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// Runs one step on a JSON payload: parse the input (a payload that does not fit is
/// `InvalidInput` naming the field), run, log the outcome, serialise the output. A payload
/// `{"preflight": true}` runs the step's preflight checks instead.
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
        // `{"preflight": true}`: the step checks its peers instead (see [`preflight`]).
        let result = if preflight::asked(&payload) {
            let checks: StepFuture<'c, _> = Box::pin(preflight::run(ctx, name));
            checks.await.and_then(to_output)
        } else {
            match parse_input(name, payload) {
                // Boxed: unboxed, a step's future nested in the runtime's is deeper than the
                // compiler's layout query allows; `Send` lets hosts spawn it.
                Ok(input) => {
                    let step: StepFuture<'c, O> = Box::pin(run(ctx, input));
                    step.await.and_then(to_output)
                }
                Err(e) => Err(e),
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_alma_deadline_keeps_a_tenth_of_a_short_invocation_as_margin() {
        let deadline = Instant::now() + Duration::from_secs(10);
        let alma = within_deadline(deadline, async { alma_deadline() })
            .await
            .unwrap();
        let margin = deadline - alma;
        assert!(margin <= Duration::from_secs(1), "{margin:?}");
        assert!(margin >= Duration::from_millis(990), "{margin:?}");
    }

    #[tokio::test]
    async fn the_alma_deadline_keeps_at_most_thirty_seconds_as_margin() {
        let deadline = Instant::now() + Duration::from_secs(900);
        let alma = within_deadline(deadline, async { alma_deadline() })
            .await
            .unwrap();
        assert_eq!(deadline - alma, MAX_DEADLINE_MARGIN);
    }

    #[tokio::test]
    async fn a_resumable_step_stops_asking_a_second_margin_before_alma_gives_up() {
        let deadline = Instant::now() + Duration::from_secs(900);
        let (alma, stop) =
            within_deadline(deadline, async { (alma_deadline(), step_stop()) }).await;
        assert_eq!(alma.unwrap() - stop.unwrap(), MAX_DEADLINE_MARGIN);
        assert_eq!(step_stop(), None);
    }

    #[tokio::test]
    async fn outside_an_invocation_there_is_no_alma_deadline() {
        assert_eq!(alma_deadline(), None);
    }

    #[test]
    fn lambdas_epoch_deadline_becomes_the_same_time_from_now() {
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = instant_of(now_ms + 60_000).saturating_duration_since(Instant::now());
        assert!(
            left > Duration::from_secs(59) && left <= Duration::from_secs(60),
            "{left:?}"
        );
        assert!(instant_of(now_ms - 5_000) <= Instant::now());
    }
}
