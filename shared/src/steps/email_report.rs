//! E-mail the report: the day's rollover report attached to a plain and an HTML summary
//! (raw MIME through SES v2), from the configured sender to the configured recipients.
//! Reads S3; never a secret. Not in a dry run. With `"notice": "hold"` it sends instead a
//! plain-text notice that the safety brake held the day (what tripped, how to decide).

use serde::{Deserialize, Serialize};

use super::check_hold::{HoldNotice, HoldOutput};
use super::check_job::AlmaJobOutput;
use super::push::PushOutput;
use super::rollover_report::ReportOutput;
use super::{RunInfo, StepContext, StepError};
use crate::email::{build_notice_email, html_escape, send_raw, send_report_email, ReportEmail};
use crate::run::hold::BrakeNote;
use crate::run::summary::TransformOutput;
use crate::store::{file_name, StoreError};

#[derive(Debug, Clone, Deserialize)]
pub struct EmailReportInput {
    pub run: RunInfo,
    #[serde(default)]
    pub transform: Option<TransformOutput>,
    #[serde(default)]
    pub hold: Option<HoldOutput>,
    #[serde(default)]
    pub push: Option<PushOutput>,
    #[serde(default)]
    pub alma_job: Option<AlmaJobOutput>,
    #[serde(default)]
    pub report: Option<ReportOutput>,
    /// A notice to send instead of the report.
    #[serde(default)]
    pub notice: Option<EmailNotice>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailNotice {
    /// The safety brake held the day before Push.
    Hold,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailOutput {
    pub message_id: String,
    pub recipients: usize,
    pub attachment: String,
}

/// The summary's lines as (label, value), shared by the plain and the HTML body.
pub fn summary_lines(input: &EmailReportInput) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    if let Some(r) = &input.report {
        lines.push(("Rollovers found".into(), r.rollovers.to_string()));
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
    if let Some(t) = &input.transform {
        if let Some(load) = &t.load {
            lines.push(("Loader file".into(), load.to_string()));
        }
        for (label, value) in t.counts.labelled() {
            lines.push((label.into(), value.to_string()));
        }
    }
    if let Some(t) = &input.transform {
        let brake = match BrakeNote::of(&t.brake, input.hold.as_ref(), input.run.dry_run) {
            BrakeNote::NotTripped => None,
            BrakeNote::Approved { why, by } => Some(format!("held ({why}); approved by {by}")),
            BrakeNote::Tripped { why } | BrakeNote::WouldHold { why } => {
                Some(format!("tripped ({why})"))
            }
        };
        if let Some(brake) = brake {
            lines.push(("Safety brake".into(), brake));
        }
    }
    let pushed = match &input.push {
        Some(p) if p.already_there => format!("{} (already on the server)", p.file_name),
        Some(p) => p.file_name.clone(),
        None => "nothing pushed".into(),
    };
    lines.push(("Loader file pushed to Alma".into(), pushed));
    if let Some(job) = &input.alma_job {
        let mut status = job.status.clone();
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

/// The e-mail for the day's report.
pub fn build_email(
    ctx: &StepContext,
    input: &EmailReportInput,
    attachment_name: &str,
    attachment: Vec<u8>,
) -> ReportEmail {
    let date = input.run.run_date;
    let subject = match &input.report {
        Some(r) => format!("Leganto rollover report {date}: {} found", r.rollovers),
        None => format!("Leganto rollover report {date}"),
    };
    let lines = summary_lines(input);
    let mut text = format!("Course load and rollover report for {date}\n\n");
    for (label, value) in &lines {
        text.push_str(&format!("{label}: {value}\n"));
    }
    text.push_str(&format!(
        "\nThe rollover report is attached: {attachment_name}\n"
    ));
    let page_url = crate::page::page_console_url(
        &input.run,
        ctx.store.bucket(),
        ctx.config.console_region.as_deref(),
    );
    if let Some(url) = &page_url {
        text.push_str(&format!("The day page (S3 console): {url}\n"));
    }
    if let Some(url) = &input.run.console_url {
        text.push_str(&format!("Execution: {url}\n"));
    }

    let mut html = format!(
        "<html><body><h2>Course load and rollover report for {}</h2><table>",
        html_escape(&date.to_string())
    );
    for (label, value) in &lines {
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            html_escape(label),
            html_escape(value)
        ));
    }
    html.push_str(&format!(
        "</table><p>The rollover report is attached: <code>{}</code></p>",
        html_escape(attachment_name)
    ));
    if let Some(url) = &page_url {
        html.push_str(&format!(
            "<p><a href=\"{}\">The day page</a> (in the S3 console)</p>",
            html_escape(url)
        ));
    }
    if let Some(url) = &input.run.console_url {
        html.push_str(&format!(
            "<p><a href=\"{}\">The execution in the console</a></p>",
            html_escape(url)
        ));
    }
    html.push_str("</body></html>");

    ReportEmail {
        from: ctx.config.email.from.clone(),
        to: ctx.config.email.to.clone(),
        subject,
        text,
        html,
        attachment_name: attachment_name.to_string(),
        attachment_bytes: attachment,
    }
}

pub async fn run(ctx: &StepContext, input: EmailReportInput) -> Result<EmailOutput, StepError> {
    if input.run.dry_run {
        return Err(StepError::invalid_input(
            "this is a dry run: the report is not e-mailed",
        ));
    }
    if input.notice == Some(EmailNotice::Hold) {
        return send_hold_notice(ctx, &input).await;
    }
    let report_key = match &input.report {
        Some(r) => r.report_key.clone(),
        None => {
            let prefix = input.run.day().rollover_prefix();
            ctx.store.latest(&prefix).await?.ok_or_else(|| {
                StepError::from(StoreError::NotFound {
                    bucket: ctx.store.bucket().to_string(),
                    key: format!("{prefix}*.txt"),
                })
            })?
        }
    };
    let attachment = ctx.store.get(&report_key).await?;
    let attachment_name = file_name(&report_key).to_string();
    let email = build_email(ctx, &input, &attachment_name, attachment.to_vec());
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

/// The held day's notice, to the report's recipients.
async fn send_hold_notice(
    ctx: &StepContext,
    input: &EmailReportInput,
) -> Result<EmailOutput, StepError> {
    let notice = HoldNotice::new(
        input.run.run_date,
        input.transform.as_ref(),
        ctx.config.hold.limit,
    );
    let text = notice.text(input.run.console_url.as_deref());
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
        let mut input: EmailReportInput = serde_json::from_value(serde_json::json!({
            "run": {"run_date": "2026-11-28"},
            "transform": {
                "loader_key": "k", "loader_file_name": "f", "summary_key": "s", "rejects_key": "r",
                "brake": {"tripped": true, "reasons": ["60 DELETE rows would be sent"]}
            },
            "hold": {"decision": "approved", "held_since": "2026-11-28T16:00:00Z", "checks": 4,
                     "by": "pat@example.edu"}
        }))
        .unwrap();
        let brake = |input: &EmailReportInput| {
            summary_lines(input)
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
}
