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

/// Slack's documented limits (Block Kit reference), in characters.
pub mod limits {
    /// A section's `text`.
    pub const SECTION_TEXT: usize = 3000;
    /// Each of a section's `fields`, and at most this many of them.
    pub const FIELD_TEXT: usize = 2000;
    pub const FIELDS: usize = 10;
    /// A header's `plain_text`.
    pub const HEADER_TEXT: usize = 150;
    /// Each element of a context block, and at most this many of them.
    pub const CONTEXT_TEXT: usize = 3000;
    pub const CONTEXT_ELEMENTS: usize = 10;
    /// Blocks in one message.
    pub const BLOCKS: usize = 50;
    /// The top-level `text`: Slack truncates past 40,000, and a notification that long
    /// helps nobody, so the fallback is kept to a section's length.
    pub const FALLBACK_TEXT: usize = 3000;
}

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
pub struct SlackRollovers {
    pub found: u64,
    pub not_found: u64,
    pub ambiguous: u64,
    /// Found rows whose course is new or changed since a delta's baseline.
    pub new_since_baseline: Option<u64>,
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
    pub rollovers: Option<SlackRollovers>,
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

/// Already escaped text cut to at most `limit` characters, the ellipsis included, on a
/// character boundary and never inside an `&amp;`, `&lt;` or `&gt;` (escaping comes first,
/// so what is cut is what Slack counts).
pub fn fit(escaped: &str, limit: usize) -> String {
    if escaped.chars().count() <= limit {
        return escaped.to_string();
    }
    let keep = limit.saturating_sub(1);
    let mut cut = escaped
        .char_indices()
        .nth(keep)
        .map_or(escaped.len(), |(i, _)| i);
    // An entity is at most 5 bytes: a `&` among the last 4 kept, with no `;` after it, is
    // an entity cut in two.
    let tail_start = cut.saturating_sub(4);
    if let Some(amp) = escaped.get(tail_start..cut).and_then(|t| t.rfind('&')) {
        if !escaped[tail_start + amp..cut].contains(';') {
            cut = tail_start + amp;
        }
    }
    format!("{}…", &escaped[..cut])
}

/// `raw` escaped for mrkdwn, then cut to `limit` characters.
pub fn mrkdwn(raw: &str, limit: usize) -> String {
    fit(&escape(raw), limit)
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

/// What was pushed: as plain text (for the fallback text) and as a block shows it.
fn pushed_file(day: &DaySummary) -> (String, String) {
    let raw = match (&day.pushed_file, day.dry_run) {
        (_, true) => "dry run: nothing pushed".to_string(),
        (Some(file), false) => file.clone(),
        (None, false) => "nothing pushed".to_string(),
    };
    let shown = match (&day.pushed_file, day.dry_run) {
        (Some(file), false) => format!("`{}`", mrkdwn(file, 500)),
        _ => raw.clone(),
    };
    (raw, shown)
}

fn alma_job_section(job: &AlmaJobSummary) -> Value {
    let mut line = format!("*Alma course loader:* {}", escape(&job.status));
    for (label, value) in &job.counters {
        line.push_str(&format!("\n• {}: {}", escape(label), escape(value)));
    }
    section(line)
}

fn rollover_fields(r: &SlackRollovers) -> Value {
    let mut counts = vec![
        ("Rollovers found", r.found.to_string()),
        ("Not found", r.not_found.to_string()),
        ("Ambiguous", r.ambiguous.to_string()),
    ];
    if let Some(new) = r.new_since_baseline {
        counts.push(("New since the last load", new.to_string()));
    }
    fields(&counts)
}

impl SlackMessage {
    /// The message with `--stack STACK` in each `leganto` command it gives
    /// ([`crate::next_step::naming_the_stack`]), in the text and every block.
    pub fn naming_the_stack(mut self, stack: &str) -> SlackMessage {
        fn walk(value: &mut Value, stack: &str) {
            match value {
                Value::String(s) => *s = crate::next_step::naming_the_stack(s, stack),
                Value::Array(items) => items.iter_mut().for_each(|v| walk(v, stack)),
                Value::Object(fields) => fields.values_mut().for_each(|v| walk(v, stack)),
                _ => {}
            }
        }
        self.text = crate::next_step::naming_the_stack(&self.text, stack);
        self.blocks.iter_mut().for_each(|b| walk(b, stack));
        self
    }

    /// The day's summary.
    pub fn day_summary(day: &DaySummary) -> SlackMessage {
        let date = date_text(day.run_date);
        // Raw here; escaped where it goes into a block, and with the whole fallback text.
        let (pushed_raw, pushed) = pushed_file(day);
        let counts: Vec<String> = day
            .counts
            .iter()
            .map(|(label, value)| format!("{value} {}", label.to_lowercase()))
            .collect();
        let mut text = format!("Course load {date}: {}; {}", counts.join(", "), pushed_raw);
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
            blocks.push(alma_job_section(job));
            text.push_str(&format!("; Alma job {}", job.status));
        }
        if let Some(r) = &day.rollovers {
            blocks.push(rollover_fields(r));
            text.push_str(&format!(
                "; rollovers {} found, {} not found, {} ambiguous",
                r.found, r.not_found, r.ambiguous
            ));
        }
        for note in &day.notes {
            let room = limits::SECTION_TEXT - ":warning: ".chars().count();
            blocks.push(section(format!(":warning: {}", mrkdwn(note, room))));
            text.push_str(&format!("; {note}"));
        }
        blocks.extend(execution_link(&day.execution_url));
        SlackMessage {
            text: escape(&text),
            blocks,
        }
        .within_limits()
    }

    /// A failed run: the state, its error, its cause (escaped, then cut to fit) and what
    /// to do next.
    pub fn failure(notice: &FailureNotice) -> SlackMessage {
        let date = date_text(notice.run_date);
        let text = format!(
            "Course load {date} failed in \"{}\": {}",
            escape(&notice.state),
            escape(&notice.error)
        );
        let header = truncate(
            &format!("Course load {date} failed"),
            limits::HEADER_TEXT - 1,
        );
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": header}}),
            fields(&[
                ("State", mrkdwn(&notice.state, 200)),
                ("Error", format!("`{}`", mrkdwn(&notice.error, 200))),
            ]),
            section(format!(
                "*What to do:* {}",
                escape(crate::next_step::next_step(&notice.error))
            )),
        ];
        if !notice.cause.is_empty() {
            // A code block keeps JSON causes readable; ``` inside would end it early.
            let (open, close) = ("*Cause*\n```", "```");
            let room = limits::SECTION_TEXT - open.chars().count() - close.chars().count();
            let cause = fit(&escape(&notice.cause).replace("```", "'''"), room);
            blocks.push(section(format!("{open}{cause}{close}")));
        }
        blocks.extend(execution_link(&notice.execution_url));
        SlackMessage { text, blocks }.within_limits()
    }

    /// With a link to the day page beside the execution's (the context block, which the
    /// limits keep as the last block), or in a block of its own.
    pub fn with_page_link(mut self, url: &str) -> SlackMessage {
        let element = json!({"type": "mrkdwn", "text": format!("<{}|The day page>", escape(url))});
        match self.blocks.last_mut() {
            Some(last) if last["type"] == "context" => {
                if let Some(elements) = last["elements"].as_array_mut() {
                    elements.push(element);
                }
            }
            _ => self
                .blocks
                .push(json!({"type": "context", "elements": [element]})),
        }
        self.within_limits()
    }

    /// The message held to Slack's limits: a notice Slack refuses is a notice lost. The
    /// texts built above already fit; this catches what grows with the day (notes, counts).
    pub fn within_limits(mut self) -> SlackMessage {
        self.text = fit(&self.text, limits::FALLBACK_TEXT);
        let mut blocks = Vec::with_capacity(self.blocks.len());
        for mut block in std::mem::take(&mut self.blocks) {
            match block["type"].as_str() {
                Some("section") => {
                    if let Some(text) = block["text"]["text"].as_str() {
                        block["text"]["text"] = Value::String(fit(text, limits::SECTION_TEXT));
                    }
                    let Some(fields) = block["fields"].as_array().cloned() else {
                        blocks.push(block);
                        continue;
                    };
                    let fields: Vec<Value> = fields
                        .into_iter()
                        .map(|mut field| {
                            if let Some(text) = field["text"].as_str() {
                                field["text"] = Value::String(fit(text, limits::FIELD_TEXT));
                            }
                            field
                        })
                        .collect();
                    for chunk in fields.chunks(limits::FIELDS) {
                        blocks.push(json!({"type": "section", "fields": chunk}));
                    }
                }
                Some("header") => {
                    if let Some(text) = block["text"]["text"].as_str() {
                        let text = truncate(text, limits::HEADER_TEXT - 1);
                        block["text"]["text"] = Value::String(text);
                    }
                    blocks.push(block);
                }
                Some("context") => {
                    if let Some(elements) = block["elements"].as_array_mut() {
                        elements.truncate(limits::CONTEXT_ELEMENTS);
                        for element in elements {
                            if let Some(text) = element["text"].as_str() {
                                element["text"] = Value::String(fit(text, limits::CONTEXT_TEXT));
                            }
                        }
                    }
                    blocks.push(block);
                }
                _ => blocks.push(block),
            }
        }
        if blocks.len() > limits::BLOCKS {
            // Keep the head and the last block (the console link); say what was left out.
            let last = blocks.pop();
            let dropped = blocks.len() - (limits::BLOCKS - 2);
            blocks.truncate(limits::BLOCKS - 2);
            blocks.push(section(format!(
                "… and {dropped} more notes in the run summary and the logs"
            )));
            blocks.extend(last);
        }
        self.blocks = blocks;
        self
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

    /// Whether the webhook is live, posting nothing: Slack answers an empty message (`{}`)
    /// with 400 `no_text` on a live webhook, 403 or 404 on a revoked or deleted one.
    #[instrument(skip_all, err)]
    pub async fn probe(&self) -> Result<(), SlackError> {
        let response = self
            .http
            .post(self.url.expose_secret())
            .timeout(self.timeout)
            .json(&serde_json::json!({}))
            .send()
            .await
            .map_err(|e| SlackError::Unreachable {
                timed_out: e.is_timeout(),
                source: e.without_url(),
            })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() || (status.as_u16() == 400 && body.trim() == "no_text") {
            return Ok(());
        }
        Err(SlackError::Rejected {
            status: status.as_u16(),
            body: truncate(&body, 200),
        })
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
            rollovers: Some(SlackRollovers {
                found: 30,
                not_found: 5,
                ambiguous: 1,
                new_since_baseline: None,
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
    fn the_day_page_link_sits_beside_the_execution_link_or_in_a_block_of_its_own() {
        let page = "https://us-west-2.console.aws.amazon.com/s3/object/b?prefix=reports/2026/11/28/index.html&x=<y>";
        let message = SlackMessage::day_summary(&day()).with_page_link(page);
        let last = message.blocks.last().unwrap();
        assert_eq!(last["type"], "context");
        let elements = last["elements"].as_array().unwrap();
        assert_eq!(elements.len(), 2);
        assert!(elements[0]["text"]
            .as_str()
            .unwrap()
            .contains("console.example/exec"));
        assert_eq!(
            elements[1]["text"],
            "<https://us-west-2.console.aws.amazon.com/s3/object/b?prefix=reports/2026/11/28/index.html&amp;x=&lt;y&gt;|The day page>"
        );

        let mut without = day();
        without.execution_url = None;
        let message = SlackMessage::day_summary(&without).with_page_link(page);
        let last = message.blocks.last().unwrap();
        assert_eq!(last["type"], "context");
        assert_eq!(last["elements"].as_array().unwrap().len(), 1);
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
        let cause = message.blocks.last().unwrap()["text"]["text"]
            .as_str()
            .unwrap();
        assert_eq!(cause.chars().count(), limits::SECTION_TEXT);
        assert!(cause.ends_with("…```"), "{cause}");
        assert!(blocks.contains("ask the campus"), "the next step: {blocks}");
        assert!(message.text.contains("failed in \"Pull the CEM export\""));
    }

    #[test]
    fn a_huge_cause_full_of_markup_is_escaped_first_then_cut_to_fit() {
        let notice = FailureNotice {
            run_date: NaiveDate::from_ymd_opt(2026, 11, 28),
            state: "Transform the export".into(),
            error: "InvalidInput".into(),
            cause: "<a href=\"x\">&</a> ```".repeat(500),
            execution_url: Some("https://console.example/exec".into()),
        };
        assert!(notice.cause.len() > 10_000);
        let message = SlackMessage::failure(&notice);
        for block in &message.blocks {
            if let Some(text) = block["text"]["text"].as_str() {
                assert!(text.chars().count() <= limits::SECTION_TEXT, "{text}");
                assert!(!text.contains('<'), "{text}");
            }
        }
        let blocks = all_text(&message);
        assert!(blocks.contains("&lt;a href") && blocks.contains("&amp;"));
        assert!(
            blocks.contains("…```"),
            "the code block is closed after the cut"
        );
        assert!(blocks.contains("What to do:"));
        assert!(message.text.chars().count() <= limits::FALLBACK_TEXT);
    }

    #[test]
    fn a_cut_never_splits_an_entity() {
        let escaped = escape("ab<<<<<<<<");
        for limit in 1..20 {
            let cut = fit(&escaped, limit);
            assert!(cut.chars().count() <= limit, "{limit}: {cut}");
            let body = cut.trim_end_matches('…');
            assert!(escaped.starts_with(body), "{limit}: {cut}");
            assert!(
                body.len() <= 2 || body.ends_with("&lt;"),
                "{limit}: {cut} ends inside an entity"
            );
        }
        assert_eq!(fit("short", 10), "short");
    }

    #[test]
    fn a_day_of_many_notes_and_counts_stays_within_the_block_limits() {
        let mut summary = day();
        summary.notes = (0..200)
            .map(|i| format!("note {i} <&> {}", "y".repeat(4000)))
            .collect();
        summary.counts = (0..25).map(|_| ("Rows read", 1)).collect();
        summary.pushed_file = Some("a&b.txt".into());
        let message = SlackMessage::day_summary(&summary);
        assert!(message.blocks.len() <= limits::BLOCKS);
        for block in &message.blocks {
            if let Some(fields) = block["fields"].as_array() {
                assert!(fields.len() <= limits::FIELDS);
            }
            if let Some(text) = block["text"]["text"].as_str() {
                assert!(text.chars().count() <= limits::SECTION_TEXT);
            }
        }
        assert_eq!(message.blocks.last().unwrap()["type"], "context");
        assert!(all_text(&message).contains("more notes"));
        assert!(!message.text.contains('<'), "the fallback is escaped too");
        assert!(
            message.text.contains("a&amp;b.txt"),
            "escaped once: {}",
            message.text
        );
    }

    #[test]
    fn truncate_cuts_on_character_boundaries() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ab", 2), "ab");
    }
}
