use chrono::NaiveDate;
use leganto_shared::error::ErrorName as _;
use leganto_shared::run::summary::TransformCounts;
use leganto_shared::slack::{
    AlmaJobSummary, DaySummary, FailureNotice, SlackError, SlackMessage, SlackRollovers,
    SlackWebhook,
};
use leganto_tests::slack_receiver::SlackReceiver;
use leganto_tests::support::free_port;
use secrecy::SecretString;

fn summary() -> DaySummary {
    DaySummary {
        run_date: NaiveDate::from_ymd_opt(2026, 11, 28),
        dry_run: false,
        counts: TransformCounts {
            rows_read: 1532,
            rows_skipped: 20,
            rows_written: 1410,
            rejected: 9,
            deletes_sent: 61,
            deletes_suppressed: 4,
            deletes_not_in_alma: 3,
            warnings: 2,
            rows_in_file: 1410,
            deletes_unclear: 0,
            terms_missing: 0,
        }
        .labelled(),
        pushed_file: Some("20261128092514.txt".into()),
        alma_job: Some(AlmaJobSummary {
            status: "COMPLETED_SUCCESS".into(),
            counters: vec![
                ("Courses created".into(), "17".into()),
                ("Courses updated".into(), "1393".into()),
            ],
        }),
        rollovers: Some(SlackRollovers {
            found: 40,
            not_found: 6,
            ambiguous: 2,
            new_since_baseline: Some(7),
        }),
        execution_url: Some("https://us-west-2.console.aws.amazon.com/states/home".into()),
        notes: vec!["The report e-mail failed: SES refused".into()],
    }
}

fn webhook(url: String) -> SlackWebhook {
    SlackWebhook::new(SecretString::from(url)).unwrap()
}

#[tokio::test]
async fn the_day_summary_arrives_as_block_kit_with_a_text_fallback() {
    let receiver = SlackReceiver::start().await;
    webhook(receiver.url())
        .post(&SlackMessage::day_summary(&summary()))
        .await
        .unwrap();

    let posts = receiver.posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert!(
        post["text"].as_str().unwrap().contains("1532 rows read"),
        "{post}"
    );
    let blocks = post["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "Course load 2026-11-28");
    let fields: Vec<&str> = blocks[1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "*Rows read*\n1532",
            "*Rows skipped (by status)*\n20",
            "*Courses written*\n1410",
            "*Rows rejected*\n9",
            "*Deletes sent*\n61",
            "*Deletes suppressed (reading lists)*\n4",
            "*Deletes not in Alma*\n3",
            "*Warnings*\n2",
        ]
    );
    let all = serde_json::to_string(blocks).unwrap();
    for expected in [
        "*File pushed:* `20261128092514.txt`",
        "*Alma course loader:* COMPLETED_SUCCESS",
        "Courses updated: 1393",
        "*Rollovers found*\\n40",
        "*Not found*\\n6",
        "*Ambiguous*\\n2",
        "The report e-mail failed",
        "<https://us-west-2.console.aws.amazon.com/states/home|",
    ] {
        assert!(all.contains(expected), "{expected} not in {all}");
    }
}

#[tokio::test]
async fn a_failure_notice_arrives_with_state_error_and_cause() {
    let receiver = SlackReceiver::start().await;
    let notice = FailureNotice {
        run_date: NaiveDate::from_ymd_opt(2026, 11, 28),
        state: "Pull CEM export".into(),
        error: "SourceFileMissing".into(),
        cause: r#"{"errorMessage":"no leganto_export_20261128* in /outgoing"}"#.into(),
        execution_url: None,
    };
    webhook(receiver.url())
        .post(&SlackMessage::failure(&notice))
        .await
        .unwrap();
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1);
    let all = posts[0].to_string();
    assert!(
        all.contains("Pull CEM export") && all.contains("SourceFileMissing"),
        "{all}"
    );
    assert!(
        all.contains("no leganto_export_20261128* in /outgoing"),
        "{all}"
    );
    assert!(posts[0]["text"].as_str().unwrap().contains("failed"));
}

#[tokio::test]
async fn a_receiver_answering_500_gives_a_typed_error_without_the_url() {
    let receiver = SlackReceiver::start_failing().await;
    let err = webhook(receiver.url())
        .post(&SlackMessage::day_summary(&summary()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SlackError::Rejected { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(err.error_name(), "SlackFailed");
    assert!(!format!("{err} {err:?}").contains("/services/"), "{err:?}");
    assert_eq!(receiver.posts().len(), 1);

    receiver.set_failing(false);
    webhook(receiver.url())
        .post(&SlackMessage::day_summary(&summary()))
        .await
        .unwrap();
    assert_eq!(receiver.posts().len(), 2);
}

#[tokio::test]
async fn a_refused_connection_gives_a_typed_error_without_the_url() {
    let url = format!(
        "http://127.0.0.1:{}/services/T/B/SECRET-TOKEN",
        free_port().unwrap()
    );
    let err = webhook(url)
        .post(&SlackMessage::day_summary(&summary()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SlackError::Unreachable {
                timed_out: false,
                ..
            }
        ),
        "{err:?}"
    );
    let mut shown = format!("{err} {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        shown.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    assert!(!shown.contains("SECRET-TOKEN"), "{shown}");
}
