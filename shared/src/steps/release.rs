//! Release the run date: give back the day's lease (`locks/…/run.json`) on every ending of
//! the execution, success or failure, so the next execution for the date may run. Only
//! this execution's lease is deleted; the lease of another (the one a `RunInProgress`
//! execution found) is left alone.
//!
//! Then, best-effort, the day page and the run's metrics (`crate::page`): the page and
//! `figures.json` under `reports/YYYY/MM/DD/`, one embedded-metric-format line on stdout.
//! The lease is given back first, and a page that cannot be written is logged, never an
//! error: it must not fail the run or keep the lease.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

use super::{RunInfo, StepContext, StepError};
use crate::run::report::DayReport;
use crate::run::state::RunState;

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
    /// The day page written, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_key: Option<String>,
}

pub async fn run(ctx: &StepContext, input: ReleaseInput) -> Result<ReleaseOutput, StepError> {
    let state = RunState::from_value(&input.state);
    let Some(run) = state.run.clone() else {
        tracing::info!("no run in the state: no lease was taken");
        return Ok(ReleaseOutput {
            released: false,
            page_key: None,
        });
    };
    tracing::Span::current().record("run_date", run.run_date.to_string().as_str());
    let arn = if input.execution_arn.is_empty() {
        run.execution_arn.clone()
    } else {
        input.execution_arn
    };
    let released = crate::run::lease::release(&ctx.store, &run.day(), &arn).await?;
    tracing::info!(released, "released the run date");
    let page_key = publish_page(ctx, &run, &state).await;
    Ok(ReleaseOutput { released, page_key })
}

/// Longest the page may take: the function's timeout is 30 s, and the lease is already back.
const PAGE_TIME: Duration = Duration::from_secs(20);

/// The day page and the metrics; `None` (logged) when the page could not be written.
async fn publish_page(ctx: &StepContext, run: &RunInfo, state: &RunState) -> Option<String> {
    // The day belongs to another execution, or was loaded already: nothing of it changed.
    const UNTOUCHED: [&str; 3] = ["RunInProgress", "AlreadyPushed", "OutOfOrder"];
    if let Some(error) = state
        .error
        .as_ref()
        .filter(|e| UNTOUCHED.contains(&e.error.as_str()))
    {
        tracing::info!(error = %error.error, "the day's page is left as it was");
        return None;
    }
    let now = ctx.now();
    let region = ctx.config.console_region.as_deref();
    // The stack's own series: dev and prod may share an account.
    let stack = ctx
        .config
        .stack_name
        .as_deref()
        .unwrap_or(crate::page::metrics::UNNAMED_STACK);
    let emit_metrics = |report: &DayReport| {
        if let Some(line) = crate::page::metrics::emf_line(report, stack, now) {
            // EMF: CloudWatch Logs reads the metrics from this line on stdout.
            println!("{line}");
        }
    };
    let published = tokio::time::timeout(
        PAGE_TIME,
        crate::page::publish(
            &ctx.store,
            run,
            state,
            crate::page::Place {
                region,
                stack: ctx.config.stack_name.as_deref(),
            },
            now,
            emit_metrics,
        ),
    )
    .await;
    match published {
        Ok(Ok(published)) => Some(published.page_key),
        Ok(Err(err)) => {
            tracing::warn!(
                error = %err,
                source = ?std::error::Error::source(&err),
                "the day page could not be written (the run goes on); any rerun of the day writes it again"
            );
            None
        }
        Err(_) => {
            tracing::warn!(
                seconds = PAGE_TIME.as_secs(),
                "the day page took too long (the run goes on); any rerun of the day writes it again"
            );
            None
        }
    }
}
