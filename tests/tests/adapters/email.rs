use leganto_shared::email::{build_report_email, send_report_email, ReportEmail};
use leganto_shared::error::ErrorName as _;
use leganto_tests::moto::Moto;
use mail_parser::{MessageParser, MimeHeaders, PartType};

const FROM: &str = "library@example.edu";

/// UTF-8 accents, tabs, CRLF and LF, a trailing space and a long line: all must survive.
fn report_bytes() -> Vec<u8> {
    let mut report = String::from("Course Code\tCourse Title\tSection ID\r\n");
    report.push_str("2026SummerA-X-SPA337-38334\tSPA 337 Théorie Topics\t38334\r\n");
    report.push_str("2026FallC-X-PHY534-21632\tPHY 534 Ñandú — “Seminar” \t21632\n");
    report.push_str(&"x\t".repeat(120));
    report.push_str("\r\n");
    report.into_bytes()
}

fn email() -> ReportEmail {
    ReportEmail {
        from: FROM.into(),
        to: vec!["courses@example.edu".into(), "reserves@example.edu".into()],
        subject: "Leganto rollover report 2026-11-28 — 3 found".into(),
        text: "Rollover report for 2026-11-28\nFound: 3\n".into(),
        html: "<h1>Rollover report for 2026-11-28</h1><p>Found: <b>3</b></p>".into(),
        attachment_name: "rollover_20261128113002.txt".into(),
        attachment_bytes: report_bytes(),
    }
}

async fn ses(moto: &Moto) -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(&moto.sdk_config().await)
}

#[tokio::test]
async fn the_report_email_reaches_ses_with_both_summaries_and_the_attachment_intact() {
    let moto = Moto::start();
    let ses = ses(&moto).await;
    // SES (and moto) only send from a verified identity.
    ses.create_email_identity()
        .email_identity(FROM)
        .send()
        .await
        .unwrap();

    let message_id = send_report_email(&ses, &email()).await.unwrap();

    let sent = moto.sent_emails().await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].id, message_id);
    assert_eq!(sent[0].source.as_deref(), Some(FROM));
    for to in ["courses@example.edu", "reserves@example.edu"] {
        assert!(
            sent[0].destinations.iter().any(|d| d == to),
            "{:?}",
            sent[0].destinations
        );
    }

    let parsed = MessageParser::default()
        .parse(sent[0].raw_data.as_bytes())
        .unwrap();
    assert_eq!(
        parsed.subject(),
        Some("Leganto rollover report 2026-11-28 — 3 found")
    );
    assert_eq!(parsed.content_type().unwrap().subtype(), Some("mixed"));
    // Body lines travel as CRLF (MIME); the attachment below keeps its bytes exactly.
    let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    assert_eq!(text.trim_end(), "Rollover report for 2026-11-28\nFound: 3");
    assert!(parsed.body_html(0).unwrap().contains("<b>3</b>"));
    let alternative = parsed
        .parts
        .iter()
        .find(|p| p.content_type().and_then(|c| c.subtype()) == Some("alternative"));
    assert!(alternative.is_some(), "no multipart/alternative part");

    assert_eq!(parsed.attachment_count(), 1);
    let attachment = parsed.attachment(0).unwrap();
    assert_eq!(
        attachment.attachment_name(),
        Some("rollover_20261128113002.txt")
    );
    assert_eq!(attachment.content_type().unwrap().ctype(), "text");
    assert!(matches!(
        attachment.body,
        PartType::Text(_) | PartType::Binary(_)
    ));
    assert_eq!(attachment.contents(), report_bytes().as_slice());
}

#[tokio::test]
async fn sending_from_an_unverified_sender_is_an_email_failed_error() {
    let moto = Moto::start();
    let ses = ses(&moto).await;
    let err = send_report_email(&ses, &email()).await.unwrap_err();
    assert_eq!(err.error_name(), "EmailFailed");
    assert!(err.to_string().contains(FROM), "{err}");
    assert!(moto.sent_emails().await.unwrap().is_empty());
}

#[test]
fn the_built_message_parses_back_to_the_same_attachment_bytes() {
    let raw = build_report_email(&email()).unwrap();
    let parsed = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        parsed.attachment(0).unwrap().contents(),
        report_bytes().as_slice()
    );
    assert_eq!(parsed.to().unwrap().iter().count(), 2);
}
