//! E-mail the report: the day's rollover report attached to a plain and an HTML summary
//! (raw MIME through SES v2), from the configured sender to the configured recipients.
//! Reads S3; never a secret. Not in a dry run. With `"notice": "hold"` it sends instead a
//! plain-text notice that the safety brake held the day (what tripped, how to decide).

use chrono::NaiveDate;
use serde::Deserialize;

use super::check_hold::HoldNotice;
use super::{RunInfo, StepContext, StepError};
use crate::email::{build_notice_email, html_escape, send_raw, send_report_email, ReportEmail};
use crate::run::hold::BrakeNote;
use crate::run::outputs::EmailOutput;
use crate::run::report::DayReport;
use crate::run::state::RunState;
use crate::store::{file_name, StoreError};

#[derive(Debug, Clone, Deserialize)]
pub struct EmailReportInput {
    /// A notice to send instead of the report.
    #[serde(default)]
    pub notice: Option<EmailNotice>,
    /// The run's state: `run`, and `transform`, `hold`, `push`, `alma_job`, `report` as far
    /// as the run got.
    #[serde(flatten)]
    pub state: RunState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailNotice {
    /// The safety brake held the day before Push.
    Hold,
}

/// The summary's lines as (label, value), shared by the plain and the HTML body.
pub fn summary_lines(report: &DayReport) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    if let Some(r) = &report.rollovers {
        lines.push(("Rollovers found".into(), r.found.to_string()));
        if let Some(new) = r.new_since_baseline {
            lines.push((
                "Of them new or changed since the last loaded day".into(),
                new.to_string(),
            ));
        }
        lines.push((
            "Copy requests not found in Alma".into(),
            r.not_found.to_string(),
        ));
        lines.push(("Ambiguous copy requests".into(), r.ambiguous.to_string()));
    }
    if let Some(load) = &report.load {
        lines.push(("Loader file".into(), load.to_string()));
    }
    // Known once the transform ran.
    if report.rows_read.is_some() {
        for (label, value) in report.counts().labelled() {
            lines.push((label.into(), value.to_string()));
        }
    }
    for missing in &report.notes.terms_missing {
        lines.push(("Term missing from the export".into(), missing.clone()));
    }
    if let Some(brake) = brake_line(&report.notes.brake) {
        lines.push(("Safety brake".into(), brake));
    }
    lines.push(("Loader file pushed to Alma".into(), pushed_line(report)));
    for sentence in report.notes.rollover_sentences() {
        lines.push(("Rollovers".into(), sentence));
    }
    if let Some(loaded) = report.loaded {
        let said = if loaded {
            "yes"
        } else {
            "no: Alma's job has not said so"
        };
        lines.push(("Loaded in Alma".into(), said.into()));
    }
    if let Some(status) = &report.alma_job_status {
        let job = report.alma_job.clone().unwrap_or_default();
        let mut status = status.clone();
        if job.timed_out {
            status.push_str(" (still not finished when the wait ended)");
        }
        lines.push(("Alma course loader".into(), status));
        for (name, value) in &job.counters {
            lines.push((format!("Alma: {name}"), value.to_string()));
        }
    }
    lines
}

fn brake_line(brake: &BrakeNote) -> Option<String> {
    match brake {
        BrakeNote::NotTripped => None,
        BrakeNote::Approved { why, by } => Some(format!("held ({why}); approved by {by}")),
        BrakeNote::Tripped { why } | BrakeNote::WouldHold { why } => {
            Some(format!("tripped ({why})"))
        }
    }
}

fn pushed_line(report: &DayReport) -> String {
    match &report.file_pushed {
        Some(file) if report.notes.already_pushed_at.is_some() => {
            format!("{file} (already on the server)")
        }
        Some(file) => file.clone(),
        None => "nothing pushed".into(),
    }
}

/// The e-mail for the day's report.
pub fn build_email(
    ctx: &StepContext,
    run: &RunInfo,
    report: &DayReport,
    attachment_name: &str,
    attachment: Vec<u8>,
) -> ReportEmail {
    let date = report.run_date;
    let subject = match &report.rollovers {
        Some(r) => format!("Leganto rollover report {date}: {} found", r.found),
        None => format!("Leganto rollover report {date}"),
    };
    let lines = summary_lines(report);
    let page_url = crate::page::page_console_url(
        run,
        ctx.store.bucket(),
        ctx.config.console_region.as_deref(),
    );
    let links = Links {
        attachment_name,
        page: page_url.as_deref(),
        execution: report.execution_url.as_deref(),
    };
    ReportEmail {
        from: ctx.config.email.from.clone(),
        to: ctx.config.email.to.clone(),
        subject,
        text: plain_body(date, &lines, &links),
        html: html_body(date, &lines, &links),
        attachment_name: attachment_name.to_string(),
        attachment_bytes: attachment,
    }
}

/// What the e-mail points to besides its lines.
struct Links<'a> {
    attachment_name: &'a str,
    page: Option<&'a str>,
    execution: Option<&'a str>,
}

fn plain_body(date: NaiveDate, lines: &[(String, String)], links: &Links) -> String {
    let mut text = format!("Course load and rollover report for {date}\n\n");
    for (label, value) in lines {
        text.push_str(&format!("{label}: {value}\n"));
    }
    text.push_str(&format!(
        "\nThe rollover report is attached: {}\n",
        links.attachment_name
    ));
    if let Some(url) = links.page {
        text.push_str(&format!("The day page (S3 console): {url}\n"));
    }
    if let Some(url) = links.execution {
        text.push_str(&format!("Execution: {url}\n"));
    }
    text
}

fn html_body(date: NaiveDate, lines: &[(String, String)], links: &Links) -> String {
    let mut html = format!(
        "<html><body><h2>Course load and rollover report for {}</h2><table>",
        html_escape(&date.to_string())
    );
    for (label, value) in lines {
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            html_escape(label),
            html_escape(value)
        ));
    }
    html.push_str(&format!(
        "</table><p>The rollover report is attached: <code>{}</code></p>",
        html_escape(links.attachment_name)
    ));
    if let Some(url) = links.page {
        html.push_str(&format!(
            "<p><a href=\"{}\">The day page</a> (in the S3 console)</p>",
            html_escape(url)
        ));
    }
    if let Some(url) = links.execution {
        html.push_str(&format!(
            "<p><a href=\"{}\">The execution in the console</a></p>",
            html_escape(url)
        ));
    }
    html.push_str("</body></html>");
    html
}

pub async fn run(ctx: &StepContext, input: EmailReportInput) -> Result<EmailOutput, StepError> {
    let state = &input.state;
    let Some(run) = &state.run else {
        return Err(StepError::invalid_input("the input has no run"));
    };
    if run.dry_run {
        return Err(StepError::invalid_input(
            "this is a dry run: the report is not e-mailed",
        ));
    }
    if input.notice == Some(EmailNotice::Hold) {
        return send_hold_notice(ctx, run, state).await;
    }
    let report_key = rollover_report_key(ctx, run, state).await?;
    let attachment = ctx.store.get(&report_key).await?;
    let attachment_name = file_name(&report_key).to_string();
    let report = DayReport::of(run.run_date, state, None, ctx.now());
    let email = build_email(ctx, run, &report, &attachment_name, attachment.to_vec());
    let message_id = send_report_email(&ctx.ses, &email).await?;
    tracing::info!(
        message_id = %message_id,
        recipients = email.to.len(),
        attachment = %attachment_name,
        "e-mailed the rollover report"
    );
    Ok(EmailOutput {
        message_id,
        recipients: email.to.len(),
        attachment: attachment_name,
    })
}

/// The day's rollover report: the one this run made, else the newest for the day.
async fn rollover_report_key(
    ctx: &StepContext,
    run: &RunInfo,
    state: &RunState,
) -> Result<String, StepError> {
    if let Some(report) = &state.report {
        return Ok(report.report_key.clone());
    }
    let prefix = run.day().rollover_prefix();
    ctx.store.latest(&prefix).await?.ok_or_else(|| {
        StepError::from(StoreError::NotFound {
            bucket: ctx.store.bucket().to_string(),
            key: format!("{prefix}*.txt"),
        })
    })
}

/// The held day's notice, to the report's recipients.
async fn send_hold_notice(
    ctx: &StepContext,
    run: &RunInfo,
    state: &RunState,
) -> Result<EmailOutput, StepError> {
    let notice = HoldNotice::new(
        run.run_date,
        state.transform.as_ref(),
        ctx.config.hold.limit,
    );
    let mut text = notice.text(run.console_url.as_deref());
    if let Some(stack) = &ctx.config.stack_name {
        text = crate::next_step::naming_the_stack(&text, stack);
    }
    let (from, to) = (&ctx.config.email.from, &ctx.config.email.to);
    let raw = build_notice_email(from, to, &notice.title, &text)?;
    let message_id = send_raw(&ctx.ses, from, to, raw).await?;
    tracing::info!(
        message_id = %message_id,
        recipients = to.len(),
        "e-mailed the hold notice"
    );
    Ok(EmailOutput {
        message_id,
        recipients: to.len(),
        attachment: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_a_held_day_was_approved_and_by_whom() {
        let mut input: RunState = RunState::from_value(&serde_json::json!({
            "run": {"run_date": "2026-11-28"},
            "transform": {
                "loader_key": "k", "loader_file_name": "f", "summary_key": "s", "rejects_key": "r",
                "brake": {"tripped": true, "reasons": ["60 DELETE rows would be sent"]}
            },
            "hold": {"decision": "approved", "held_since": "2026-11-28T16:00:00Z", "checks": 4,
                     "by": "pat@example.edu"}
        }));
        let brake = |input: &RunState| {
            let date = input.run_date().unwrap();
            summary_lines(&DayReport::of(date, input, None, chrono::Utc::now()))
                .into_iter()
                .find(|(label, _)| label == "Safety brake")
                .map(|(_, value)| value)
        };
        assert_eq!(
            brake(&input).as_deref(),
            Some("held (60 DELETE rows would be sent); approved by pat@example.edu")
        );
        input.hold = None;
        assert_eq!(
            brake(&input).as_deref(),
            Some("tripped (60 DELETE rows would be sent)")
        );
        input.transform.as_mut().unwrap().brake.tripped = false;
        assert_eq!(brake(&input), None);
    }

    #[test]
    fn the_summary_has_a_line_for_each_expected_term_the_export_lacks() {
        let missing = "the export holds no course of term 7 2027, which starts 2027-08-19 (today)";
        let input = RunState::from_value(&serde_json::json!({
            "run": {"run_date": "2027-08-19"},
            "transform": {
                "loader_key": "k", "loader_file_name": "f", "summary_key": "s", "rejects_key": "r",
                "counts": {"rows_read": 3, "terms_missing": 1},
                "warnings": [missing, "2 copy years are not years"]
            }
        }));
        let lines = summary_lines(&DayReport::of(
            input.run_date().unwrap(),
            &input,
            None,
            chrono::Utc::now(),
        ));
        let terms: Vec<&(String, String)> = lines
            .iter()
            .filter(|(label, _)| label == "Term missing from the export")
            .collect();
        assert_eq!(
            terms,
            [&(
                "Term missing from the export".to_owned(),
                missing.to_owned()
            )]
        );
    }
}
