//! Plan the run: the run date (the execution's start in the library's time zone unless
//! given), the first stage, dry run or not, and for a rerun what earlier stages left in S3;
//! then the day's lease (`locks/…/run.json`): a second execution for the date stops here
//! with `RunInProgress`. A live run that would push a day already loaded (`AlreadyPushed`)
//! or older than the newest day loaded (`OutOfOrder`) stops here too, unless forced, before
//! anything of the day is rewritten. Reads S3 and writes only the lease; never a secret.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{RunInfo, Stage, StepContext, StepError};
use crate::run::lease::{self, Lease};
use crate::run::outputs::PushOutput;
use crate::run::receipt::{self, PushReceipt};
use crate::run::summary::TransformOutput;
use crate::run::ExecutionInput;
use crate::store::{DayKeys, StoreError};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PlanInput {
    /// The execution input, read by [`ExecutionInput`].
    #[serde(default)]
    pub input: Value,
    #[serde(default)]
    pub execution_arn: String,
    #[serde(default)]
    pub execution_name: String,
    #[serde(default)]
    pub execution_started_at: Option<String>,
}

/// Replaces the whole state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanOutput {
    pub run: RunInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<TransformOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushOutput>,
}

/// Reads the execution input (`crate::run::ExecutionInput`); an unknown key or a malformed
/// value is `InvalidInput` naming it, before anything runs.
pub fn parse_request(input: &Value) -> Result<ExecutionInput, StepError> {
    ExecutionInput::from_value(input).map_err(|e| StepError::invalid_input(e.to_string()))
}

/// `$$.Execution.StartTime` (RFC 3339; local stacks may omit the offset, meaning UTC).
fn parse_start_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z"]
                .iter()
                .find_map(|f| DateTime::parse_from_str(text, f).ok())
                .map(|t| t.with_timezone(&Utc))
        })
}

pub async fn run(ctx: &StepContext, input: PlanInput) -> Result<PlanOutput, StepError> {
    let request = parse_request(&input.input)?;
    let started_at = start_time(ctx, input.execution_started_at.as_deref());
    let tz = ctx.config.time_zone;
    let run_date = request.run_date_or_start_day(started_at, tz);
    // The step span was opened before the date was known.
    tracing::Span::current().record("run_date", run_date.to_string().as_str());
    let run = run_info(ctx, &request, run_date, started_at, tz, input);

    let day = run.day();
    refuse_what_is_loaded(ctx, &run).await?;
    let transform = recall_transform(ctx, &run, &day, request.first_stage()).await?;
    let push = match request.first_stage() {
        Stage::WaitForAlma | Stage::RolloverReport => recall_push(ctx, &run).await?,
        _ => None,
    };
    // Last, so a plan that fails before it leaves no lease behind.
    take_lease(ctx, &run, &day).await?;
    tracing::info!(
        run_date = %run.run_date,
        start_at = run.start_at.name(),
        dry_run = run.dry_run,
        force = run.force,
        recalled_transform = transform.is_some(),
        recalled_push = push.is_some(),
        lease = %day.lease(),
        "planned the run"
    );
    Ok(PlanOutput {
        run,
        transform,
        push,
    })
}

/// When the execution started, as Step Functions says; now when it says nothing readable.
fn start_time(ctx: &StepContext, execution_started_at: Option<&str>) -> DateTime<Utc> {
    match execution_started_at {
        Some(text) => match parse_start_time(text) {
            Some(t) => t,
            None => {
                tracing::warn!(
                    execution_started_at = text,
                    "unreadable start time; using now"
                );
                ctx.now()
            }
        },
        None => ctx.now(),
    }
}

/// What every later step is told of the run: the request, the execution and the timings.
fn run_info(
    ctx: &StepContext,
    request: &ExecutionInput,
    run_date: NaiveDate,
    started_at: DateTime<Utc>,
    tz: Tz,
    input: PlanInput,
) -> RunInfo {
    RunInfo {
        run_date,
        start_at: request.first_stage(),
        dry_run: request.dry_run,
        force: request.force,
        full: request.full,
        scheduled: request.is_scheduled(),
        skipped_stages: Stage::ALL
            .into_iter()
            .filter(|s| *s < request.first_stage())
            .collect(),
        time_zone: tz.name().to_string(),
        poll_interval_seconds: ctx.config.wait.poll_interval.as_secs().max(1),
        wait_limit_seconds: ctx.config.wait.limit.as_secs(),
        hold_poll_seconds: ctx.config.hold.poll_interval.as_secs().max(1),
        export_wait_until: export_wait_until(request, started_at, ctx.config.export_wait.wait),
        export_poll_seconds: ctx.config.export_wait.poll_interval.as_secs().max(1),
        console_url: ctx.config.execution_console_url(&input.execution_arn),
        execution_arn: input.execution_arn,
        execution_name: input.execution_name,
        started_at: Some(started_at),
    }
}

/// Until when a missing export is looked for again: only for a run that starts at the pull
/// and asks to wait (the schedule does; a person rerunning a day knows whether the file is
/// there).
fn export_wait_until(
    request: &ExecutionInput,
    started_at: DateTime<Utc>,
    wait: std::time::Duration,
) -> Option<DateTime<Utc>> {
    let waits = request.wait_for_export && request.first_stage() == Stage::Pull;
    waits
        .then(|| crate::run::export_wait::deadline(started_at, wait))
        .flatten()
}

/// A live run that would push stops here, before anything of the day is rewritten, when the
/// day is loaded already or a later day is (unless forced): Alma would load a second file,
/// or an older day over a newer one.
async fn refuse_what_is_loaded(ctx: &StepContext, run: &RunInfo) -> Result<(), StepError> {
    if run.dry_run || run.force || run.start_at > Stage::Push {
        return Ok(());
    }
    if let Some(receipt) = receipt::read_receipt(&ctx.store, run.run_date).await? {
        return Err(StepError::already_pushed(
            &receipt,
            "this run stopped before changing anything of the day (to wait for Alma's job \
             again or redo the report, rerun --from wait_for_alma or --from rollover_report)",
        ));
    }
    match receipt::newest_receipt(&ctx.store).await? {
        Some(newest) if newest.run_date > run.run_date => {
            Err(StepError::out_of_order(run.run_date, &newest))
        }
        _ => Ok(()),
    }
}

/// The transform's output from the day's run summary, for a rerun that starts after it.
async fn recall_transform(
    ctx: &StepContext,
    run: &RunInfo,
    day: &DayKeys,
    first_stage: Stage,
) -> Result<Option<TransformOutput>, StepError> {
    let transform = match first_stage {
        Stage::Push | Stage::WaitForAlma => {
            // The cache Map iterates `transform.years_needed`: without it the rerun cannot go on.
            Some(
                ctx.store
                    .get_json::<TransformOutput>(&day.run_summary())
                    .await?,
            )
        }
        Stage::RolloverReport => match ctx.store.get_json(&day.run_summary()).await {
            Ok(t) => Some(t),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        },
        Stage::Pull | Stage::Transform => None,
    };
    // A summary in S3 may come from an older release or a hand: hold it to today's limits.
    Ok(transform.map(|t: TransformOutput| t.bounded(run.run_date.year())))
}

/// The day's lease, for as long as the longest run: a second execution for the date stops
/// with `RunInProgress`.
async fn take_lease(ctx: &StepContext, run: &RunInfo, day: &DayKeys) -> Result<(), StepError> {
    let now = ctx.now();
    let lease_until = chrono::Duration::from_std(lease::longest_run(&ctx.config))
        .unwrap_or(chrono::Duration::MAX);
    lease::take(
        &ctx.store,
        day,
        &Lease {
            run_date: run.run_date,
            execution_arn: run.execution_arn.clone(),
            execution_name: run.execution_name.clone(),
            started_at: now,
            expires_at: now + lease_until,
        },
    )
    .await?;
    Ok(())
}

/// The day's push, from its receipt only: no receipt, no push (a loader file in S3 may be
/// one that was never sent). A dry run recalls nothing: it pushes nothing.
async fn recall_push(ctx: &StepContext, run: &RunInfo) -> Result<Option<PushOutput>, StepError> {
    if run.dry_run {
        return Ok(None);
    }
    let receipt: Option<PushReceipt> =
        crate::run::receipt::read_receipt(&ctx.store, run.run_date).await?;
    Ok(receipt.map(|r| PushOutput {
        file_name: r.file_name,
        remote_path: None,
        bytes: r.bytes,
        pushed_at: r.pushed_at,
        already_there: false,
        recalled: true,
        sha256: r.sha256,
        loader_key: Some(r.loader_key),
        deletes_dropped_at_push: 0,
        forced: r.forced,
        rollovers: Default::default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName as _;
    use chrono::NaiveDate;
    use serde_json::json;

    #[test]
    fn an_empty_input_is_a_daily_run_from_the_pull() {
        for input in [json!({}), Value::Null] {
            let r = parse_request(&input).unwrap();
            assert_eq!(r, ExecutionInput::default());
            assert_eq!(r.first_stage(), Stage::Pull);
        }
    }

    #[test]
    fn a_rerun_request_is_read_whole() {
        let r = parse_request(&json!({
            "run_date": "2026-11-28", "start_at": "rollover_report", "dry_run": true,
            "force": true, "full": true
        }))
        .unwrap();
        assert!(r.full);
        assert_eq!(r.run_date, NaiveDate::from_ymd_opt(2026, 11, 28));
        assert_eq!(r.start_at, Some(Stage::RolloverReport));
        assert!(r.dry_run);
        assert!(r.force);
    }

    #[test]
    fn only_a_run_from_the_pull_that_asks_waits_for_a_late_export() {
        let started: DateTime<Utc> = "2026-11-28T16:20:00Z".parse().unwrap();
        let two_hours = std::time::Duration::from_secs(7200);
        let until =
            |input: Value, wait| export_wait_until(&parse_request(&input).unwrap(), started, wait);
        let scheduled = json!({"wait_for_export": true});
        assert_eq!(
            until(scheduled.clone(), two_hours),
            Some("2026-11-28T18:20:00Z".parse().unwrap())
        );
        assert_eq!(until(scheduled, std::time::Duration::ZERO), None);
        // A rerun by hand (leganto rerun) does not ask; one from a later stage pulls nothing.
        assert_eq!(until(json!({"run_date": "2026-11-28"}), two_hours), None);
        let later = json!({"wait_for_export": true, "start_at": "transform"});
        assert_eq!(until(later, two_hours), None);
    }

    #[test]
    fn malformed_requests_are_invalid_input() {
        for input in [
            json!({"run_date": "2026-13-01"}),
            json!({"run_date": "28/11/2026"}),
            json!({"run_date": 20261128}),
            json!({"start_at": "email"}),
            json!({"dry_run": "yes"}),
            json!({"force": 1}),
            json!({"full": "yes"}),
            json!({"run_date": "2026-11-28", "dryrun": true}),
            json!([1]),
        ] {
            let err = parse_request(&input).unwrap_err();
            assert_eq!(err.error_name(), "InvalidInput", "{input}");
        }
    }

    #[test]
    fn start_times_in_the_forms_seen_are_read() {
        let expected = DateTime::parse_from_rfc3339("2026-11-28T16:20:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        for text in [
            "2026-11-28T16:20:00.123Z",
            "2026-11-28T16:20:00.123+00:00",
            "2026-11-28T16:20:00.123",
            "2026-11-28 16:20:00.123",
            "2026-11-28 09:20:00.123-07:00",
        ] {
            assert_eq!(parse_start_time(text), Some(expected), "{text}");
        }
        assert_eq!(parse_start_time("yesterday"), None);
    }
}
