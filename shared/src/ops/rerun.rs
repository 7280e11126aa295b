//! Rerun a day from a stage: check no execution is running the day and S3 holds what that
//! stage needs, start an execution with `{"run_date", "start_at", "dry_run"[, "force"][, "full"]}`
//! under a readable unique name, and follow it state by state.

use std::time::Duration;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use super::OpsError;
use crate::config::{aws_time, execution_console_url};
use crate::run::{lease, readable_cause, Stage};
use crate::store::{DayKeys, Store};

/// What a rerun asks the state machine for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RerunRequest {
    pub run_date: NaiveDate,
    pub start_at: Stage,
    pub dry_run: bool,
    /// Push even though the day's receipt names another file (Alma loads both).
    pub force: bool,
    /// Send every course, not only the changes since the last loaded day.
    pub full: bool,
}

impl RerunRequest {
    /// The execution input of infra/CONTRACT.md.
    pub fn input(&self) -> serde_json::Value {
        let mut input = json!({
            "run_date": self.run_date.format("%Y-%m-%d").to_string(),
            "start_at": self.start_at.name(),
            "dry_run": self.dry_run,
        });
        if self.force {
            input["force"] = json!(true);
        }
        if self.full {
            input["full"] = json!(true);
        }
        input
    }

    /// The day's keys this rerun uses: live, or under `dry-run/`.
    pub fn day(&self) -> DayKeys {
        DayKeys::for_run(self.run_date, self.dry_run)
    }

    /// `rerun-2026-11-28-rollover_report-20261130T162005Z` (`…-push-dry-run-…` for a dry
    /// run, `…-push-force-…` when forced): the day, the stage and the moment it was started (UTC), so each start gets its
    /// own name, while two starts within one second with the same input are one execution
    /// (Step Functions treats a repeated name and input as the same request).
    pub fn execution_name(&self, now: DateTime<Utc>) -> String {
        format!(
            "rerun-{}-{}{}{}{}-{}",
            self.run_date.format("%Y-%m-%d"),
            self.start_at.name(),
            if self.dry_run { "-dry-run" } else { "" },
            if self.force { "-force" } else { "" },
            if self.full { "-full" } else { "" },
            now.format("%Y%m%dT%H%M%SZ")
        )
    }
}

/// An artefact a stage needs from the earlier stages of its day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needed {
    /// Any object under `cem/YYYY/MM/DD/`.
    Export,
    /// `reports/YYYY/MM/DD/run-summary.json`.
    RunSummary,
    /// A `*.txt` under `alma/YYYY/MM/DD/`.
    LoaderFile,
}

impl Needed {
    pub fn describe(self) -> &'static str {
        match self {
            Needed::Export => "the day's CEM export",
            Needed::RunSummary => "the day's run summary, written by transform",
            Needed::LoaderFile => "the day's course loader file, written by transform",
        }
    }

    /// The key or prefix people should look for.
    pub fn location(self, day: &DayKeys) -> String {
        match self {
            Needed::Export => day.cem_prefix(),
            Needed::RunSummary => day.run_summary(),
            Needed::LoaderFile => format!("{}*.txt", day.alma_prefix()),
        }
    }
}

/// What S3 must hold for a run that starts at `stage` (the plan and the first step's
/// inputs per infra/CONTRACT.md): transform and the rollover report read the export; push
/// and the wait need the summary (its `years_needed` drives the cache Map) and the loader
/// file.
pub fn needed_for(stage: Stage) -> &'static [Needed] {
    match stage {
        Stage::Pull => &[],
        Stage::Transform => &[Needed::Export],
        Stage::Push | Stage::WaitForAlma => &[Needed::RunSummary, Needed::LoaderFile],
        Stage::RolloverReport => &[Needed::Export],
    }
}

/// Refuses the rerun, naming the first missing key or prefix, unless S3 holds everything
/// `request.start_at` needs. Returns the keys found.
pub async fn check_artefacts(
    store: &Store,
    request: &RerunRequest,
) -> Result<Vec<String>, OpsError> {
    let day = request.day();
    let mut found = Vec::new();
    for needed in needed_for(request.start_at) {
        let key = match needed {
            // A dry run reads the live export when it pulled none of its own.
            Needed::Export => match store.latest(&day.cem_prefix()).await? {
                None if day.is_dry_run() => store.latest(&day.live().cem_prefix()).await?,
                found => found,
            },
            Needed::RunSummary => {
                let key = day.run_summary();
                store.exists(&key).await?.then_some(key)
            }
            Needed::LoaderFile => store
                .list(&day.alma_prefix())
                .await?
                .into_iter()
                .map(|o| o.key)
                .filter(|k| k.ends_with(".txt"))
                .max(),
        };
        match key {
            Some(key) => found.push(key),
            None => {
                return Err(OpsError::ArtefactMissing {
                    run_date: request.run_date.to_string(),
                    stage: request.start_at.name(),
                    bucket: store.bucket().to_string(),
                    what: needed.describe(),
                    missing: needed.location(&day),
                })
            }
        }
    }
    Ok(found)
}

/// Refuses the rerun when the day's lease names an execution that is still RUNNING. A lease
/// left by one that ended without giving it back (stopped by hand, timed out) would stop the
/// rerun's plan until it expires, so it is removed (only that version of it) and named in
/// the answer: `Ok(Some(holder and status))`.
pub async fn check_not_running(
    store: &Store,
    sfn: &aws_sdk_sfn::Client,
    request: &RerunRequest,
) -> Result<Option<String>, OpsError> {
    let day = request.day();
    let Some((held, etag)) = lease::read(store, &day).await? else {
        return Ok(None);
    };
    let holder = held.holder().to_string();
    let described = sfn
        .describe_execution()
        .execution_arn(&held.execution_arn)
        .send()
        .await;
    let status = match described {
        Ok(out) => out.status().as_str().to_string(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_execution_does_not_exist()) =>
        {
            "unknown to Step Functions".to_string()
        }
        Err(e) => return Err(OpsError::sfn("DescribeExecution", e)),
    };
    if status == ExecutionStatus::Running.as_str() {
        return Err(OpsError::RunInProgress {
            run_date: request.run_date.to_string(),
            holder,
            since: held.started_at.to_rfc3339(),
        });
    }
    store.delete_if(&day.lease(), &etag).await?;
    Ok(Some(format!("{holder} ({status})")))
}

/// An execution just started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub execution_arn: String,
    pub name: String,
    pub input: String,
    pub started_at: DateTime<Utc>,
    /// The execution in the Step Functions console.
    pub console_url: Option<String>,
}

/// Starts the execution (no artefact check: see [`check_artefacts`]).
#[tracing::instrument(skip(sfn), fields(run_date = %request.run_date, start_at = request.start_at.name(), dry_run = request.dry_run), err)]
pub async fn start(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    request: &RerunRequest,
    now: DateTime<Utc>,
) -> Result<Started, OpsError> {
    let name = request.execution_name(now);
    start_named(
        sfn,
        state_machine_arn,
        name,
        request.input().to_string(),
        now,
    )
    .await
}

/// Starts an execution called `name` with `input` (JSON text).
pub(crate) async fn start_named(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    name: String,
    input: String,
    now: DateTime<Utc>,
) -> Result<Started, OpsError> {
    let out = sfn
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(&name)
        .input(&input)
        .send()
        .await
        .map_err(|e| OpsError::sfn("StartExecution", e))?;
    let execution_arn = out.execution_arn().to_string();
    tracing::info!(execution_arn = %execution_arn, name = %name, "started the execution");
    Ok(Started {
        console_url: execution_console_url(None, &execution_arn),
        started_at: aws_time(out.start_date()).unwrap_or(now),
        execution_arn,
        name,
        input,
    })
}

/// One line of an execution's history worth showing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub what: StepKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    ExecutionStarted,
    Entered(String),
    Exited(String),
    /// A task or Lambda failed (it may be retried or caught).
    TaskFailed {
        error: String,
        cause: String,
    },
    ExecutionSucceeded,
    ExecutionFailed {
        error: String,
        cause: String,
    },
    ExecutionAborted,
    ExecutionTimedOut,
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepKind::ExecutionStarted => f.write_str("execution started"),
            StepKind::Entered(s) => write!(f, "entered  {s}"),
            StepKind::Exited(s) => write!(f, "exited   {s}"),
            StepKind::TaskFailed { error, cause } => write!(f, "  task failed: {error}: {cause}"),
            StepKind::ExecutionSucceeded => f.write_str("execution succeeded"),
            StepKind::ExecutionFailed { error, cause } => {
                write!(f, "execution failed: {error}: {cause}")
            }
            StepKind::ExecutionAborted => f.write_str("execution aborted"),
            StepKind::ExecutionTimedOut => f.write_str("execution timed out"),
        }
    }
}

fn text(s: Option<&str>) -> String {
    s.unwrap_or_default().to_string()
}

/// The history event as a [`Step`], or `None` for the bookkeeping events.
pub fn step_of(event: &HistoryEvent) -> Option<Step> {
    use HistoryEventType as T;
    let kind = event.r#type();
    let what = if let Some(d) = event.state_entered_event_details() {
        StepKind::Entered(d.name().to_string())
    } else if let Some(d) = event.state_exited_event_details() {
        StepKind::Exited(d.name().to_string())
    } else {
        match kind {
            T::ExecutionStarted => StepKind::ExecutionStarted,
            T::ExecutionSucceeded => StepKind::ExecutionSucceeded,
            T::ExecutionAborted => StepKind::ExecutionAborted,
            T::ExecutionTimedOut => StepKind::ExecutionTimedOut,
            T::ExecutionFailed => {
                let d = event.execution_failed_event_details();
                StepKind::ExecutionFailed {
                    error: text(d.and_then(|d| d.error())),
                    cause: readable_cause(&text(d.and_then(|d| d.cause()))),
                }
            }
            T::TaskFailed => {
                let d = event.task_failed_event_details();
                StepKind::TaskFailed {
                    error: text(d.and_then(|d| d.error())),
                    cause: readable_cause(&text(d.and_then(|d| d.cause()))),
                }
            }
            T::LambdaFunctionFailed => {
                let d = event.lambda_function_failed_event_details();
                StepKind::TaskFailed {
                    error: text(d.and_then(|d| d.error())),
                    cause: readable_cause(&text(d.and_then(|d| d.cause()))),
                }
            }
            _ => return None,
        }
    };
    Some(Step {
        id: event.id(),
        at: aws_time(event.timestamp()).unwrap_or_default(),
        what,
    })
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`...
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<String>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.status == ExecutionStatus::Succeeded.as_str()
    }
}

/// The execution's steps so far, oldest first.
pub async fn steps(sfn: &aws_sdk_sfn::Client, execution_arn: &str) -> Result<Vec<Step>, OpsError> {
    Ok(history(sfn, execution_arn)
        .await?
        .iter()
        .filter_map(step_of)
        .collect())
}

/// Every event so far, oldest first.
async fn history(
    sfn: &aws_sdk_sfn::Client,
    execution_arn: &str,
) -> Result<Vec<HistoryEvent>, OpsError> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .reverse_order(false)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| OpsError::sfn("GetExecutionHistory", e))?;
        events.extend(page.events().iter().cloned());
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    events.sort_by_key(HistoryEvent::id);
    Ok(events)
}

/// Follows the execution to its end: calls `on_step` once per new [`Step`], in order,
/// polling every `poll`, and returns how it ended.
pub async fn follow(
    sfn: &aws_sdk_sfn::Client,
    execution_arn: &str,
    poll: Duration,
    mut on_step: impl FnMut(&Step),
) -> Result<Outcome, OpsError> {
    let mut last_seen = 0_i64;
    loop {
        // Status first: when it is final, the history read after it is complete.
        let described = sfn
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .map_err(|e| OpsError::sfn("DescribeExecution", e))?;
        for event in history(sfn, execution_arn).await? {
            if event.id() <= last_seen {
                continue;
            }
            last_seen = event.id();
            if let Some(step) = step_of(&event) {
                on_step(&step);
            }
        }
        if *described.status() != ExecutionStatus::Running
            && *described.status() != ExecutionStatus::PendingRedrive
        {
            return Ok(Outcome {
                status: described.status().as_str().to_string(),
                error: described.error().map(str::to_string),
                cause: described.cause().map(str::to_string),
                output: described.output().map(str::to_string),
            });
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn request(stage: Stage, dry_run: bool) -> RerunRequest {
        RerunRequest {
            run_date: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
            start_at: stage,
            dry_run,
            force: false,
            full: false,
        }
    }

    /// Step Functions names: 1–80 characters, none of whitespace, brackets, wildcards or
    /// `"#%\^|~`$&,;:/`, no control characters.
    fn valid_execution_name(name: &str) -> bool {
        (1..=80).contains(&name.chars().count())
            && !name.chars().any(|c| {
                c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
            })
    }

    #[test]
    fn execution_name_reads_as_day_stage_and_start_time() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 16, 20, 5).unwrap();
        let name = request(Stage::RolloverReport, false).execution_name(now);
        assert_eq!(name, "rerun-2026-11-28-rollover_report-20261130T162005Z");
        assert!(valid_execution_name(&name));
        let dry = request(Stage::WaitForAlma, true).execution_name(now);
        assert_eq!(
            dry,
            "rerun-2026-11-28-wait_for_alma-dry-run-20261130T162005Z"
        );
        assert!(valid_execution_name(&dry));
        let forced = RerunRequest {
            force: true,
            ..request(Stage::Push, false)
        };
        let name = forced.execution_name(now);
        assert_eq!(name, "rerun-2026-11-28-push-force-20261130T162005Z");
        assert!(valid_execution_name(&name));
    }

    #[test]
    fn execution_input_is_the_contract_shape() {
        assert_eq!(
            request(Stage::Push, true).input(),
            json!({"run_date": "2026-11-28", "start_at": "push", "dry_run": true})
        );
        let forced = RerunRequest {
            force: true,
            ..request(Stage::Push, false)
        };
        assert_eq!(
            forced.input(),
            json!({"run_date": "2026-11-28", "start_at": "push", "dry_run": false, "force": true})
        );
        let full = RerunRequest {
            full: true,
            ..request(Stage::Transform, false)
        };
        assert_eq!(
            full.input(),
            json!({"run_date": "2026-11-28", "start_at": "transform", "dry_run": false, "full": true})
        );
    }

    #[test]
    fn a_lambda_error_cause_is_shown_as_its_message() {
        let cause =
            r#"{"errorType":"ArtefactMissing","errorMessage":"artefact missing: s3://b/k"}"#;
        assert_eq!(readable_cause(cause), "artefact missing: s3://b/k");
        assert_eq!(readable_cause("plain words"), "plain words");
    }

    #[test]
    fn later_stages_need_what_earlier_stages_left() {
        assert!(needed_for(Stage::Pull).is_empty());
        assert_eq!(needed_for(Stage::Transform), &[Needed::Export]);
        assert_eq!(
            needed_for(Stage::Push),
            &[Needed::RunSummary, Needed::LoaderFile]
        );
        assert_eq!(needed_for(Stage::RolloverReport), &[Needed::Export]);
        let day = DayKeys::new(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap());
        assert_eq!(Needed::LoaderFile.location(&day), "alma/2026/11/28/*.txt");
        assert_eq!(
            Needed::RunSummary.location(&day),
            "reports/2026/11/28/run-summary.json"
        );
    }
}
