//! Release the run date: give back the day's lease (`locks/…/run.json`) on every ending of
//! the execution, success or failure, so the next execution for the date may run. Only
//! this execution's lease is deleted; the lease of another (the one a `RunInProgress`
//! execution found) is left alone.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{RunInfo, StepContext, StepError};

#[derive(Debug, Clone, Deserialize)]
pub struct ReleaseInput {
    /// The whole state; without `run` (Plan failed) there is no lease of ours to give back.
    #[serde(default)]
    pub state: Value,
    /// `$$.Execution.Id`.
    #[serde(default)]
    pub execution_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseOutput {
    pub released: bool,
}

pub async fn run(ctx: &StepContext, input: ReleaseInput) -> Result<ReleaseOutput, StepError> {
    let Some(run) = input
        .state
        .get("run")
        .and_then(|r| serde_json::from_value::<RunInfo>(r.clone()).ok())
    else {
        tracing::info!("no run in the state: no lease was taken");
        return Ok(ReleaseOutput { released: false });
    };
    tracing::Span::current().record("run_date", run.run_date.to_string().as_str());
    let arn = if input.execution_arn.is_empty() {
        run.execution_arn.clone()
    } else {
        input.execution_arn
    };
    let released = super::lease::release(&ctx.store, &run.day(), &arn).await?;
    tracing::info!(released, "released the run date");
    Ok(ReleaseOutput { released })
}
