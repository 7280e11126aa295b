//! Post to Slack: the day's summary, a failure (state, error, cause), a failed e-mail, a
//! day held by the safety brake (what tripped and how to decide), or an export not there
//! yet (once, at a scheduled run's first look: until when it is looked for).
//! A Slack outage never fails the run: the answer says `posted: false` and why.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use chrono::{DateTime, Utc};

use super::check_hold::HoldNotice;
use super::{StepContext, StepError};
use crate::run::hold::BrakeNote;
use crate::run::limits;
use crate::run::report::DayReport;
use crate::run::state::RunState;
use crate::slack::{
    escape, truncate, AlmaJobSummary, DaySummary, FailureNotice, SlackMessage, SlackRollovers,
};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlackKind {
    Summary,
    Failure,
    EmailFailure,
    /// The safety brake held the day before Push.
    Hold,
    /// The day's export is not on the CEM server yet; the run looks again until its
    /// deadline.
    ExportLate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackOutput {
    pub posted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The day's summary as Slack shows it.
pub fn day_summary(report: &DayReport) -> DaySummary {
    DaySummary {
        run_date: Some(report.run_date),
        dry_run: report.dry_run,
        counts: report.counts().labelled(),
        pushed_file: report.file_pushed.clone(),
        alma_job: alma_job_summary(report),
        rollovers: report.rollovers.map(|r| SlackRollovers {
            found: r.found,
            not_found: r.not_found,
            ambiguous: r.ambiguous,
            new_since_baseline: r.new_since_baseline,
        }),
        execution_url: report.execution_url.clone(),
        notes: summary_notes(report),
    }
}

/// The notes under the counts, in Slack's words.
fn summary_notes(report: &DayReport) -> Vec<String> {
    let notes = &report.notes;
    let mut lines = Vec::new();
    if report.dry_run {
        lines.push("Dry run: nothing pushed or mailed.".to_string());
    }
    if report.loaded == Some(false) {
        let status = report.alma_job_status.as_deref().unwrap_or("not seen");
        lines.push(format!(
            "Not loaded as far as Alma says: its course loader job for the day's file is {status}."
        ));
    }
    lines.extend(notes.pull_warnings.iter().cloned());
    lines.extend(
        notes
            .terms_missing
            .iter()
            .map(|m| format!("{}.", capitalized(m))),
    );
    if let Some(load) = &report.load {
        lines.push(format!("Loader file: {load}."));
    }
    match &notes.brake {
        BrakeNote::WouldHold { why } => {
            lines.push(format!("The safety brake would hold this day: {why}."))
        }
        BrakeNote::Approved { why, by } => lines.push(format!(
            "Held by the safety brake ({why}); approved by {by}."
        )),
        // A held day's own notice says what tripped (HoldNotice).
        BrakeNote::Tripped { .. } | BrakeNote::NotTripped => {}
    }
    let file = report.file_pushed.as_deref().unwrap_or_default();
    if let Some(at) = notes.already_pushed_at {
        lines.push(format!(
            "Already loaded, nothing new pushed: {file} was pushed for this day at {}.",
            at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    if notes.forced {
        lines.push(format!(
            "Forced: {file} was pushed although another file was loaded for this day."
        ));
    }
    if notes.deletes_dropped_at_push > 0 {
        lines.push(format!(
            "{} DELETE rows dropped at the push: their courses have reading lists now, are no longer in Alma's listing, or Alma's answer did not say.",
            notes.deletes_dropped_at_push
        ));
    }
    if notes.deletes_unclear > 0 {
        lines.push(format!(
            "{} DELETE rows not sent: Alma's answer did not say whether their course has reading lists (the answers are in the logs).",
            notes.deletes_unclear
        ));
    }
    lines.extend(notes.rollover_sentences());
    lines
}

/// A sentence's first letter in capitals, for a note that stands alone.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn alma_job_summary(report: &DayReport) -> Option<AlmaJobSummary> {
    let status = report.alma_job_status.clone()?;
    let job = report.alma_job.clone().unwrap_or_default();
    let status = if job.timed_out {
        format!(
            "{status} — not finished after {} min; the run went on",
            job.waited_seconds / 60
        )
    } else {
        status
    };
    Some(AlmaJobSummary {
        status,
        counters: job
            .counters
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
    })
}

/// A held day: what tripped, the numbers, and the commands that decide.
pub fn hold_message(state: &RunState, hold_limit: std::time::Duration) -> SlackMessage {
    let date = state.run_date().unwrap_or_default();
    let notice = HoldNotice::new(date, state.transform.as_ref(), hold_limit);
    let bullets = |lines: &[String]| {
        lines
            .iter()
            .map(|l| format!("• {}", escape(l)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text",
               "text": truncate(&notice.title, 140)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(
            &format!("*What tripped the safety brake*\n{}", bullets(&notice.reasons)), 2900)}}),
        json!({"type": "section", "text": {"type": "mrkdwn",
               "text": truncate(&bullets(&notice.facts), 2900)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "To load it: `{}`\nTo stop it: `{}`\n{}",
            escape(&notice.approve),
            escape(&notice.reject),
            escape(&notice.limit)
        )}}),
    ];
    if let Some(url) = state.console_url() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": format!("<{}|The execution in the console>", escape(&url))}}));
    }
    let text = match notice.reasons.first() {
        Some(first) => format!("{}: {first}", notice.title),
        None => notice.title.clone(),
    };
    SlackMessage {
        text: truncate(&text, 2900),
        blocks,
    }
}

/// An export not there yet: one line, with until when it is looked for.
pub fn export_late_message(state: &RunState) -> SlackMessage {
    let date = state.run_date().unwrap_or_default();
    let line = match &state.run {
        Some(run) => match (run.export_wait_until, run.started_at) {
            (Some(until), Some(started)) => crate::run::export_wait::waiting_line(
                date,
                started,
                until,
                run.export_poll_seconds,
                run.time_zone
                    .parse()
                    .unwrap_or(crate::config::DEFAULT_TIME_ZONE),
            ),
            _ => format!("The CEM export for {date} is not there yet; looking again."),
        },
        None => format!("The CEM export for {date} is not there yet; looking again."),
    };
    SlackMessage {
        text: line.clone(),
        blocks: vec![json!({"type": "section", "text": {"type": "mrkdwn",
            "text": truncate(&escape(&line), 2900)}})],
    }
}

/// The message for `kind`; `hold_limit` is what a hold notice says is left to decide.
pub fn message(
    kind: SlackKind,
    state: &RunState,
    hold_limit: std::time::Duration,
    now: DateTime<Utc>,
) -> SlackMessage {
    let report = DayReport::of(state.run_date().unwrap_or_default(), state, None, now);
    let notice = || FailureNotice {
        run_date: state.run_date(),
        state: report
            .failed_state
            .clone()
            .unwrap_or_else(|| "unknown state".into()),
        error: report.error.clone().unwrap_or_default(),
        cause: report.error_message.clone().unwrap_or_default(),
        execution_url: report.execution_url.clone(),
    };
    match kind {
        SlackKind::Summary => SlackMessage::day_summary(&day_summary(&report)),
        SlackKind::Failure => failure_message(&notice()),
        SlackKind::EmailFailure => email_failure_message(&notice()),
        SlackKind::Hold => hold_message(state, hold_limit),
        SlackKind::ExportLate => export_late_message(state),
    }
}

fn failure_message(notice: &FailureNotice) -> SlackMessage {
    let mut message = SlackMessage::failure(notice);
    // Not a breakage: the cause says what happened and what to do.
    let date = notice_date(notice);
    let title = match notice.error.as_str() {
        "RunInProgress" => Some(format!(
            "Course load {date}: another execution is running this day; this one stopped"
        )),
        "AlreadyPushed" => Some(format!(
            "Course load {date}: already loaded; nothing pushed"
        )),
        "OutOfOrder" => Some(format!(
            "Course load {date}: a later day is already loaded; nothing pushed"
        )),
        _ => None,
    };
    if let Some(title) = title {
        message.text = title.clone();
        set_header(&mut message, title);
    }
    message
}

fn email_failure_message(notice: &FailureNotice) -> SlackMessage {
    let mut message = SlackMessage::failure(notice);
    let title = format!(
        "Course load {}: the report e-mail failed (the run went on)",
        notice_date(notice)
    );
    message.text = format!("{title}: {}", notice.error);
    set_header(&mut message, title);
    message
}

fn notice_date(notice: &FailureNotice) -> String {
    notice
        .run_date
        .map_or_else(|| "unknown date".to_string(), |d| d.to_string())
}

fn set_header(message: &mut SlackMessage, title: String) {
    if let Some(header) = message.blocks.first_mut() {
        header["text"]["text"] = Value::String(title);
    }
}

/// Runs on the raw payload `{"kind", "state"}`.
pub async fn run_value(ctx: &StepContext, payload: Value) -> Result<SlackOutput, StepError> {
    let kind: SlackKind = match payload.get("kind") {
        Some(kind) => {
            serde_json::from_value(kind.clone()).map_err(|e| StepError::InvalidInput {
                message: format!(
                    "kind must be summary, failure, email_failure, hold or export_late: {e}"
                ),
                source: Some(Box::new(e)),
            })?
        }
        None => return Err(StepError::invalid_input("the input has no kind")),
    };
    let state = RunState::from_value(payload.get("state").unwrap_or(&Value::Null));
    run(ctx, kind, &state).await
}

pub async fn run(
    ctx: &StepContext,
    kind: SlackKind,
    state: &RunState,
) -> Result<SlackOutput, StepError> {
    let mut message = message(kind, state, ctx.config.hold.limit, ctx.now());
    if let Some(stack) = &ctx.config.stack_name {
        message = message.naming_the_stack(stack);
    }
    // The release writes the page as the run ends (a held or waiting day has none yet).
    if !matches!(kind, SlackKind::Hold | SlackKind::ExportLate) {
        let page = state.run.as_ref().and_then(|run| {
            crate::page::page_console_url(
                run,
                ctx.store.bucket(),
                ctx.config.console_region.as_deref(),
            )
        });
        if let Some(url) = page {
            message = message.with_page_link(&url);
        }
    }
    let webhook = ctx.slack().await?;
    match webhook.post(&message).await {
        Ok(()) => {
            tracing::info!(kind = ?kind, "posted to Slack");
            Ok(SlackOutput {
                posted: true,
                reason: None,
            })
        }
        Err(e) => {
            // Never fail the run for Slack: say so in the output and the log.
            let reason = limits::clip(&e.to_string(), limits::LINE_BYTES);
            tracing::warn!(kind = ?kind, error = %reason, "could not post to Slack");
            Ok(SlackOutput {
                posted: false,
                reason: Some(reason),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLD: std::time::Duration = std::time::Duration::from_secs(20 * 3600);

    fn now() -> DateTime<Utc> {
        "2026-11-28T18:20:00Z".parse().unwrap()
    }

    #[test]
    fn a_late_export_is_one_line_saying_until_when_in_the_librarys_time() {
        let state = RunState::from_value(&json!({"run": {
            "run_date": "2026-11-28", "time_zone": "America/Phoenix",
            "started_at": "2026-11-28T16:20:00Z", "export_wait_until": "2026-11-28T18:20:00Z",
            "export_poll_seconds": 300
        }}));
        let message = message(SlackKind::ExportLate, &state, HOLD, now());
        assert_eq!(
            message.text,
            "The CEM export for 2026-11-28 is not there yet; looking again every 5 minutes \
             until 11:20 MST (then the day fails with SourceFileMissing)."
        );
        assert_eq!(message.blocks.len(), 1);
    }

    #[test]
    fn a_hold_notice_names_the_stack_in_its_commands_when_the_stack_is_known() {
        let state = RunState::from_value(&json!({"run": {"run_date": "2026-11-28"}}));
        let message = hold_message(&state, HOLD).naming_the_stack("leganto-prod");
        let text = serde_json::to_string(&message.blocks).unwrap();
        assert!(
            text.contains("leganto approve --stack leganto-prod --run-date 2026-11-28"),
            "{text}"
        );
        assert!(
            text.contains("leganto reject --stack leganto-prod --run-date 2026-11-28"),
            "{text}"
        );
    }

    #[test]
    fn a_hold_notice_says_what_tripped_and_gives_both_commands() {
        let state = RunState::from_value(&json!({
            "run": {"run_date": "2026-11-28", "console_url": "https://console/x"},
            "transform": {
                "loader_key": "alma/2026/11/28/20261128092514.txt",
                "loader_file_name": "20261128092514.txt",
                "summary_key": "s", "rejects_key": "r",
                "counts": {"rows_read": 699, "rows_written": 600},
                "brake": {"tripped": true, "reasons": ["the export has 699 rows, 301 fewer <than>"]}
            }
        }));
        let m = message(SlackKind::Hold, &state, HOLD, now());
        assert!(m.text.contains("2026-11-28 is held"), "{}", m.text);
        assert!(m.text.contains("699 rows"), "{}", m.text);
        let blocks = serde_json::to_string(&m.blocks).unwrap();
        for expected in [
            "301 fewer &lt;than&gt;",
            "`leganto approve --run-date 2026-11-28`",
            "`leganto reject --run-date 2026-11-28 --reason",
            "within 20 hours",
            "20261128092514.txt",
            "https://console/x",
        ] {
            assert!(blocks.contains(expected), "{expected:?} not in {blocks}");
        }
        let kind: SlackKind = serde_json::from_value(json!("hold")).unwrap();
        assert_eq!(kind, SlackKind::Hold);
    }

    #[test]
    fn a_lambda_cause_shows_its_message() {
        let cause = r#"{"errorType":"SourceFileMissing","errorMessage":"no export file"}"#;
        assert_eq!(crate::run::readable_cause(cause), "no export file");
        assert_eq!(
            crate::run::readable_cause("States.Timeout"),
            "States.Timeout"
        );
    }

    #[test]
    fn a_failure_before_the_plan_still_names_state_error_and_date() {
        let state = RunState::from_value(&json!({
            "run_date": "2026-11-28",
            "error": {"Error": "InvalidInput", "Cause": "{\"errorType\":\"InvalidInput\",\"errorMessage\":\"start_at \\\"x\\\" is not one of ...\"}"},
            "failed_state": "Plan the run"
        }));
        let message = message(SlackKind::Failure, &state, HOLD, now());
        let blocks = serde_json::to_string(&message.blocks).unwrap();
        assert!(message.text.contains("2026-11-28"), "{}", message.text);
        assert!(
            blocks.contains("Plan the run") && blocks.contains("InvalidInput"),
            "{blocks}"
        );
        assert!(blocks.contains("is not one of"), "{blocks}");
        assert!(!blocks.contains("errorType"), "{blocks}");
    }

    #[test]
    fn a_second_execution_for_the_day_is_told_as_such_with_what_to_do() {
        let state = RunState::from_value(&json!({
            "run_date": "2026-11-28",
            "error": {"Error": "RunInProgress", "Cause": "{\"errorType\":\"RunInProgress\",\"errorMessage\":\"execution daily-1 is already running 2026-11-28 (since 2026-11-28T16:20:00+00:00); this one stopped without doing anything. Wait for it to end\"}"},
            "failed_state": "Plan the run"
        }));
        let m = message(SlackKind::Failure, &state, HOLD, now());
        assert!(
            m.text.contains("another execution is running"),
            "{}",
            m.text
        );
        let blocks = serde_json::to_string(&m.blocks).unwrap();
        assert!(blocks.contains("daily-1"), "{blocks}");
        assert!(blocks.contains("Wait for it to end"), "{blocks}");
        assert!(!blocks.contains("failed\""), "{blocks}");
    }

    #[test]
    fn a_day_already_loaded_says_nothing_was_pushed() {
        let state = RunState::from_value(&json!({
            "run": {"run_date": "2026-11-28"},
            "error": {"Error": "AlreadyPushed", "Cause": "2026-11-28 was already loaded: rerun with --force"},
            "failed_state": "Push to Alma SFTP"
        }));
        let m = message(SlackKind::Failure, &state, HOLD, now());
        assert!(
            m.text.contains("already loaded; nothing pushed"),
            "{}",
            m.text
        );
        let blocks = serde_json::to_string(&m.blocks).unwrap();
        assert!(blocks.contains("--force"), "{blocks}");
    }

    #[test]
    fn the_summary_tells_a_no_op_push_and_the_deletes_dropped_at_the_push() {
        let state = RunState::from_value(&json!({
            "run": {"run_date": "2026-11-28"},
            "push": {"file_name": "20261128092514.txt", "bytes": 9,
                     "pushed_at": "2026-11-28T16:25:14Z", "already_there": true},
        }));
        let text = serde_json::to_string(&message(SlackKind::Summary, &state, HOLD, now()).blocks)
            .unwrap();
        assert!(
            text.contains("Already loaded, nothing new pushed"),
            "{text}"
        );
        let state = RunState::from_value(&json!({
            "run": {"run_date": "2026-11-28"},
            "push": {"file_name": "20261208100000.txt", "bytes": 9,
                     "pushed_at": "2026-12-08T17:00:00Z", "deletes_dropped_at_push": 2},
        }));
        let text = serde_json::to_string(&message(SlackKind::Summary, &state, HOLD, now()).blocks)
            .unwrap();
        assert!(text.contains("2 DELETE rows dropped at the push"), "{text}");
        assert!(!text.contains("Already loaded"), "{text}");
    }

    #[test]
    fn the_summary_notes_deletes_not_sent_on_an_unclear_answer_only_when_there_are_some() {
        let with = |unclear: u64| {
            let state = RunState::from_value(&json!({
                "run": {"run_date": "2026-11-28"},
                "transform": {
                    "loader_key": "k", "loader_file_name": "f", "summary_key": "s",
                    "rejects_key": "r",
                    "counts": {"rows_read": 10, "deletes_sent": 1, "deletes_unclear": unclear},
                },
            }));
            serde_json::to_string(&message(SlackKind::Summary, &state, HOLD, now()).blocks).unwrap()
        };
        let text = with(3);
        assert!(
            text.contains(
                "3 DELETE rows not sent: Alma's answer did not say whether their course has reading lists"
            ),
            "{text}"
        );
        assert!(!with(0).contains("DELETE rows not sent"));
    }

    #[test]
    fn the_summary_says_which_expected_terms_the_export_lacks() {
        let state = RunState::from_value(&json!({
            "run": {"run_date": "2026-12-06"},
            "transform": {
                "loader_key": "k", "loader_file_name": "f", "summary_key": "s", "rejects_key": "r",
                "counts": {"rows_read": 10, "terms_missing": 1},
                "warnings": ["the export holds no course of term 1 2027, which starts 2027-01-12 (in 37 days)",
                             "line 2 C-1: no term for term \"9\" and \"X\", Term1 left empty"],
            },
        }));
        let text = serde_json::to_string(&message(SlackKind::Summary, &state, HOLD, now()).blocks)
            .unwrap();
        assert!(
            text.contains(
                "The export holds no course of term 1 2027, which starts 2027-01-12 (in 37 days)."
            ),
            "{text}"
        );
        assert!(
            !text.contains("Term1 left empty"),
            "row warnings stay in the summary file"
        );
    }

    #[test]
    fn an_unreadable_section_is_left_out_not_fatal() {
        let state = RunState::from_value(&json!({
            "run": {"run_date": "2026-11-28"},
            "push": {"file_name": 5},
        }));
        assert!(state.run.is_some());
        assert!(state.push.is_none());
    }

    #[test]
    fn a_dry_run_summary_says_nothing_was_pushed_or_mailed() {
        let state = RunState::from_value(&json!({
            "run": {"run_date": "2026-11-28", "dry_run": true},
            "alma_job": {"done": true, "timed_out": false, "status": "SKIPPED", "checks": 0, "counters": {}}
        }));
        let text = serde_json::to_string(&message(SlackKind::Summary, &state, HOLD, now()).blocks)
            .unwrap();
        assert!(text.contains("nothing pushed or mailed"), "{text}");
        assert!(text.contains("SKIPPED"), "{text}");
    }

    #[test]
    fn the_summary_of_an_approved_day_says_it_was_held_and_who_approved() {
        let state = RunState::from_value(&json!({
            "run": {"run_date": "2026-11-28"},
            "transform": {
                "loader_key": "k", "loader_file_name": "f", "summary_key": "s", "rejects_key": "r",
                "brake": {"tripped": true, "reasons": ["60 DELETE rows would be sent"]}
            },
            "hold": {"decision": "approved", "held_since": "2026-11-28T16:00:00Z", "checks": 4,
                     "by": "pat@example.edu"}
        }));
        let text = serde_json::to_string(&message(SlackKind::Summary, &state, HOLD, now()).blocks)
            .unwrap();
        assert!(
            text.contains("Held by the safety brake (60 DELETE rows would be sent); approved by pat@example.edu"),
            "{text}"
        );
        let mut dry = state.clone();
        dry.run.as_mut().unwrap().dry_run = true;
        dry.hold = None;
        let text =
            serde_json::to_string(&message(SlackKind::Summary, &dry, HOLD, now()).blocks).unwrap();
        assert!(
            text.contains("The safety brake would hold this day"),
            "{text}"
        );
    }

    #[test]
    fn an_email_failure_says_the_run_went_on() {
        let state = RunState::from_value(&json!({
            "run": {"run_date": "2026-11-28"},
            "error": {"Error": "EmailFailed", "Cause": "SES said no"},
            "failed_state": "E-mail the report"
        }));
        let m = message(SlackKind::EmailFailure, &state, HOLD, now());
        assert!(m.text.contains("the run went on"), "{}", m.text);
        assert!(serde_json::to_string(&m.blocks)
            .unwrap()
            .contains("SES said no"));
    }
}
