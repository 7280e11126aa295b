//! Delivering the report: the e-mail's attachment, and Slack when it is down.

use leganto_shared::error::ErrorName as _;
use leganto_tests::support::RUN_DATE;
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::json;

use super::{Options, World};

/// UTF-8 accents, tabs, CRLF and a bare LF, a trailing space: all must arrive unchanged.
fn report_bytes() -> Vec<u8> {
    let mut report = String::from("Course Code\tCourse Title\tSection ID\r\n");
    report.push_str("2026SummerA-X-SPA337-38334\tSPA 337 Théorie Topics\t38334\r\n");
    report.push_str("2026FallC-X-PHY534-21632\tPHY 534 Ñandú — “Seminar” \t21632\n");
    report.into_bytes()
}

#[tokio::test]
async fn the_email_carries_the_day_s_latest_report_intact() {
    let world = World::start("email-attachment").await;
    let store = &world.ctx.store;
    store
        .put(
            "reports/2026/11/28/rollover_20261128080000.txt",
            b"older".to_vec(),
            "text/plain",
        )
        .await
        .unwrap();
    store
        .put(
            "reports/2026/11/28/rollover_20261128113002.txt",
            report_bytes(),
            "text/plain",
        )
        .await
        .unwrap();
    // A rerun started at the report's delivery: no report section, so the day's latest.
    let state = json!({"run": {"run_date": RUN_DATE}});

    let email = world.call("EmailReportFunction", state).await.unwrap();
    assert_eq!(email["attachment"], "rollover_20261128113002.txt");
    assert_eq!(email["recipients"], 2);

    let sent = world.sent_emails().await;
    assert_eq!(sent.len(), 1);
    for to in &world.recipients {
        assert!(
            sent[0].destinations.contains(to),
            "{:?}",
            sent[0].destinations
        );
    }
    let parsed = MessageParser::default()
        .parse(sent[0].raw_data.as_bytes())
        .unwrap();
    assert_eq!(
        parsed.subject(),
        Some(format!("Leganto rollover report {RUN_DATE}").as_str())
    );
    assert!(parsed
        .body_text(0)
        .unwrap()
        .contains("rollover_20261128113002.txt"));
    assert!(parsed.body_html(0).unwrap().contains("<table>"));
    let attachment = parsed.attachment(0).expect("an attachment");
    assert_eq!(
        attachment.attachment_name(),
        Some("rollover_20261128113002.txt")
    );
    assert!(
        attachment.contents() == report_bytes().as_slice(),
        "attachment changed on the way"
    );
}

#[tokio::test]
async fn a_missing_report_is_artefact_missing_naming_where_it_looked() {
    let world = World::start("email-missing").await;
    let err = super::expect_error(
        world
            .call("email-report", json!({"run": {"run_date": RUN_DATE}}))
            .await,
    );
    assert_eq!(err.error_name(), "ArtefactMissing");
    assert!(
        err.message().contains("reports/2026/11/28/rollover_"),
        "{}",
        err.message()
    );
    assert!(world.sent_emails().await.is_empty());
}

#[tokio::test]
async fn slack_down_is_posted_false_and_no_error() {
    let world = World::start_with(
        "slack-down",
        Options {
            slack_failing: true,
            ..Options::default()
        },
    )
    .await;
    let state = json!({
        "run": {"run_date": RUN_DATE},
        "error": {"Error": "SourceFileMissing",
                  "Cause": "{\"errorType\":\"SourceFileMissing\",\"errorMessage\":\"no export file leganto_export_20261128*\"}"},
        "failed_state": "Pull the CEM export"
    });
    let answer = world
        .call(
            "NotifySlackFunction",
            json!({"kind": "failure", "state": state}),
        )
        .await
        .unwrap();
    assert_eq!(answer["posted"], false);
    assert!(
        answer["reason"].as_str().unwrap().contains("500"),
        "{answer}"
    );
    // It was tried, with the failure's state, error and message.
    let posts = world.slack.posts();
    assert_eq!(posts.len(), 1);
    let text = posts[0].to_string();
    assert!(text.contains("Pull the CEM export"), "{text}");
    assert!(text.contains("SourceFileMissing"), "{text}");
    assert!(
        text.contains("no export file leganto_export_20261128*"),
        "{text}"
    );

    // Back up: the next notice goes through.
    world.slack.set_failing(false);
    let answer = world
        .call(
            "notify-slack",
            json!({"kind": "email_failure", "state": {
            "run": {"run_date": RUN_DATE},
            "error": {"Error": "EmailFailed", "Cause": "SES refused"},
            "failed_state": "E-mail the report"}}),
        )
        .await
        .unwrap();
    assert_eq!(answer, json!({"posted": true}));
    assert!(world.slack.posts()[1]
        .to_string()
        .contains("the run went on"));
}
