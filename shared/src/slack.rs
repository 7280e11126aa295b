//! Slack notices through an incoming webhook: the day's summary and failures, as Block Kit
//! with a plain `text` fallback.
//!
//! The webhook URL is a secret: it is never logged and never part of an error. Posting
//! returns a typed result and callers decide; a Slack outage must never fail the run.

use std::time::Duration;

use chrono::NaiveDate;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{json, Value};
use tracing::instrument;

/// How long one post may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest error cause shown (Block Kit section text allows 3000 characters).
const CAUSE_LIMIT: usize = 1500;

/// A Block Kit message: `text` is the notification and fallback, `blocks` the layout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlackMessage {
    pub text: String,
    pub blocks: Vec<Value>,
}

/// Status and counters of Alma's course loader job for the day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlmaJobSummary {
    /// e.g. `COMPLETED_SUCCESS`, `COMPLETED_WARNINGS`, `RUNNING`, or a wait that timed out.
    pub status: String,
    /// Alma's counters as (label, value), in Alma's order.
    pub counters: Vec<(String, String)>,
}

/// Rollover matches in the day's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RolloverCounts {
    pub found: u64,
    pub not_found: u64,
    pub ambiguous: u64,
}

/// What the day's summary reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaySummary {
    pub run_date: Option<NaiveDate>,
    pub dry_run: bool,
    /// The transform's counts as (label, value), in the order people read them
    /// (`TransformCounts::labelled`, as the e-mail shows them).
    pub counts: Vec<(&'static str, u64)>,
    /// File name pushed to Alma's SFTP server; `None` in a dry run or when nothing was pushed.
    pub pushed_file: Option<String>,
    pub alma_job: Option<AlmaJobSummary>,
    pub rollovers: Option<RolloverCounts>,
    /// Link to the execution in the console.
    pub execution_url: Option<String>,
    /// Extra lines, e.g. "The report e-mail failed: …".
    pub notes: Vec<String>,
}

/// What a failure notice reports (from the state machine's `Catch`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FailureNotice {
    pub run_date: Option<NaiveDate>,
    /// The state that failed, e.g. "Pull the CEM export".
    pub state: String,
    /// The error's stable name, e.g. `SourceFileMissing`.
    pub error: String,
    /// The cause as Step Functions passes it (often JSON); truncated.
    pub cause: String,
    pub execution_url: Option<String>,
}

/// Escapes `&`, `<` and `>` as Slack's mrkdwn requires.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `limit` characters, with an ellipsis when cut.
pub fn truncate(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

fn date_text(date: Option<NaiveDate>) -> String {
    date.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "unknown date".into())
}

fn section(markdown: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": markdown}})
}

fn fields(pairs: &[(&str, String)]) -> Value {
    let fields: Vec<Value> = pairs
        .iter()
        .map(|(label, value)| json!({"type": "mrkdwn", "text": format!("*{label}*\n{value}")}))
        .collect();
    json!({"type": "section", "fields": fields})
}

fn execution_link(url: &Option<String>) -> Option<Value> {
    url.as_ref().map(|url| {
        json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": format!("<{url}|View the execution in the console>")}
        ]})
    })
}

impl SlackMessage {
    /// The day's summary.
    pub fn day_summary(day: &DaySummary) -> SlackMessage {
        let date = date_text(day.run_date);
        let pushed = match (&day.pushed_file, day.dry_run) {
            (_, true) => "dry run: nothing pushed".to_string(),
            (Some(file), false) => format!("`{}`", escape(file)),
            (None, false) => "nothing pushed".to_string(),
        };
        let counts: Vec<String> = day
            .counts
            .iter()
            .map(|(label, value)| format!("{value} {}", label.to_lowercase()))
            .collect();
        let mut text = format!(
            "Course load {date}: {}; {}",
            counts.join(", "),
            pushed.replace('`', "")
        );
        let title = if day.dry_run {
            format!("Course load {date} (dry run)")
        } else {
            format!("Course load {date}")
        };
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": title}}),
            fields(
                &day.counts
                    .iter()
                    .map(|(label, value)| (*label, value.to_string()))
                    .collect::<Vec<_>>(),
            ),
            section(format!("*File pushed:* {pushed}")),
        ];
        if let Some(job) = &day.alma_job {
            let mut line = format!("*Alma course loader:* {}", escape(&job.status));
            for (label, value) in &job.counters {
                line.push_str(&format!("\n• {}: {}", escape(label), escape(value)));
            }
            blocks.push(section(line));
            text.push_str(&format!("; Alma job {}", job.status));
        }
        if let Some(r) = &day.rollovers {
            blocks.push(fields(&[
                ("Rollovers found", r.found.to_string()),
                ("Not found", r.not_found.to_string()),
                ("Ambiguous", r.ambiguous.to_string()),
            ]));
            text.push_str(&format!(
                "; rollovers {} found, {} not found, {} ambiguous",
                r.found, r.not_found, r.ambiguous
            ));
        }
        for note in &day.notes {
            blocks.push(section(format!(
                ":warning: {}",
                escape(&truncate(note, CAUSE_LIMIT))
            )));
            text.push_str(&format!("; {note}"));
        }
        blocks.extend(execution_link(&day.execution_url));
        SlackMessage { text, blocks }
    }

    /// A failed run: the state, its error and (truncated) cause.
    pub fn failure(notice: &FailureNotice) -> SlackMessage {
        let date = date_text(notice.run_date);
        let cause = truncate(&notice.cause, CAUSE_LIMIT);
        let text = format!(
            "Course load {date} failed in \"{}\": {}",
            notice.state, notice.error
        );
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text",
                   "text": truncate(&format!("Course load {date} failed"), 140)}}),
            fields(&[
                ("State", escape(&notice.state)),
                ("Error", format!("`{}`", escape(&notice.error))),
            ]),
        ];
        if !cause.is_empty() {
            // A code block keeps JSON causes readable; ``` inside would end it early.
            blocks.push(section(format!(
                "*Cause*\n```{}```",
                escape(&cause).replace("```", "'''")
            )));
        }
        blocks.extend(execution_link(&notice.execution_url));
        SlackMessage { text, blocks }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error("could not set up the Slack HTTP client")]
    Client(#[source] reqwest::Error),
    /// Connection refused, DNS, TLS or timeout. The source carries no URL.
    #[error("could not reach the Slack webhook{}", if *.timed_out { " (timed out)" } else { "" })]
    Unreachable {
        timed_out: bool,
        #[source]
        source: reqwest::Error,
    },
    #[error("the Slack webhook answered {status}: {body}")]
    Rejected { status: u16, body: String },
}

impl crate::error::ErrorName for SlackError {
    fn error_name(&self) -> &'static str {
        "SlackFailed"
    }
}

/// An incoming webhook.
#[derive(Clone)]
pub struct SlackWebhook {
    http: reqwest::Client,
    url: SecretString,
    timeout: Duration,
}

impl std::fmt::Debug for SlackWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackWebhook { url: [redacted] }")
    }
}

impl SlackWebhook {
    pub fn new(url: SecretString) -> Result<SlackWebhook, SlackError> {
        Self::with_timeout(url, DEFAULT_TIMEOUT)
    }

    pub fn with_timeout(url: SecretString, timeout: Duration) -> Result<SlackWebhook, SlackError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .build()
            .map_err(|e| SlackError::Client(e.without_url()))?;
        Ok(SlackWebhook::with_client(http, url, timeout))
    }

    /// Over an HTTP client the caller keeps (a warm Lambda reuses one for every post).
    pub fn with_client(
        http: reqwest::Client,
        url: SecretString,
        timeout: Duration,
    ) -> SlackWebhook {
        SlackWebhook { http, url, timeout }
    }

    /// Posts `message`; `Ok` once Slack answered 2xx.
    #[instrument(skip_all, err)]
    pub async fn post(&self, message: &SlackMessage) -> Result<(), SlackError> {
        let response = self
            .http
            .post(self.url.expose_secret())
            .timeout(self.timeout)
            .json(message)
            .send()
            .await
            .map_err(|e| SlackError::Unreachable {
                timed_out: e.is_timeout(),
                source: e.without_url(),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(SlackError::Rejected {
            status: status.as_u16(),
            body: truncate(&body, 200),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> DaySummary {
        DaySummary {
            run_date: NaiveDate::from_ymd_opt(2026, 11, 28),
            dry_run: false,
            counts: vec![
                ("Rows read", 1200),
                ("Courses written", 1100),
                ("Deletes sent", 40),
                ("Deletes suppressed (reading lists)", 3),
                ("Rows rejected", 7),
                ("Warnings", 2),
            ],
            pushed_file: Some("20261128092514.txt".into()),
            alma_job: Some(AlmaJobSummary {
                status: "COMPLETED_WARNINGS".into(),
                counters: vec![("Courses created".into(), "12".into())],
            }),
            rollovers: Some(RolloverCounts {
                found: 30,
                not_found: 5,
                ambiguous: 1,
            }),
            execution_url: Some("https://console.example/exec".into()),
            notes: vec![],
        }
    }

    fn all_text(message: &SlackMessage) -> String {
        serde_json::to_string(&message.blocks).unwrap()
    }

    #[test]
    fn day_summary_shows_counts_file_job_rollovers_and_link() {
        let message = SlackMessage::day_summary(&day());
        let blocks = all_text(&message);
        for expected in [
            "Course load 2026-11-28",
            "*Rows read*\\n1200",
            "*Courses written*\\n1100",
            "*Deletes sent*\\n40",
            "*Deletes suppressed (reading lists)*\\n3",
            "*Rows rejected*\\n7",
            "*Warnings*\\n2",
            "20261128092514.txt",
            "COMPLETED_WARNINGS",
            "Courses created: 12",
            "*Rollovers found*\\n30",
            "*Ambiguous*\\n1",
            "<https://console.example/exec|",
        ] {
            assert!(blocks.contains(expected), "{expected} not in {blocks}");
        }
        assert!(message.text.contains("1200 rows read"), "{}", message.text);
    }

    #[test]
    fn a_dry_run_says_nothing_was_pushed() {
        let mut summary = day();
        summary.dry_run = true;
        let message = SlackMessage::day_summary(&summary);
        assert!(all_text(&message).contains("dry run: nothing pushed"));
        assert!(message.text.contains("dry run: nothing pushed"));
    }

    #[test]
    fn failure_shows_state_error_and_truncated_escaped_cause() {
        let notice = FailureNotice {
            run_date: NaiveDate::from_ymd_opt(2026, 11, 28),
            state: "Pull the CEM export".into(),
            error: "SourceFileMissing".into(),
            cause: format!("<no file> {}", "x".repeat(5000)),
            execution_url: None,
        };
        let message = SlackMessage::failure(&notice);
        let blocks = all_text(&message);
        assert!(blocks.contains("Pull the CEM export") && blocks.contains("SourceFileMissing"));
        assert!(blocks.contains("&lt;no file&gt;"));
        assert!(blocks.len() < 3000, "{}", blocks.len());
        assert!(message.text.contains("failed in \"Pull the CEM export\""));
    }

    #[test]
    fn truncate_cuts_on_character_boundaries() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ab", 2), "ab");
    }
}
