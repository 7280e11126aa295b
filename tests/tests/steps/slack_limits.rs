//! A failure notice reaches Slack whatever the cause holds: escaped first, then cut to
//! Slack's limits, so the webhook never refuses it.

use leganto_tests::slack_receiver::violations;
use leganto_tests::support::RUN_DATE;
use serde_json::json;

use super::World;

#[tokio::test]
async fn a_ten_thousand_character_cause_full_of_markup_reaches_slack_as_a_valid_message() {
    let world = World::start("slack-limits").await;
    let message = format!(
        "line 2 <{}> & {}",
        "=HYPERLINK(\"http://x\",\"<b>&amp;</b>\")".repeat(150),
        "<&>".repeat(2000)
    );
    let cause = json!({"errorType": "InvalidInput", "errorMessage": message}).to_string();
    assert!(cause.len() > 10_000, "{}", cause.len());
    let state = json!({
        "run": {"run_date": RUN_DATE, "console_url": "https://console.example/x"},
        "error": {"Error": "InvalidInput", "Cause": cause},
        "failed_state": "Transform the <export> & more",
    });
    let answer = world
        .call("notify-slack", json!({"kind": "failure", "state": state}))
        .await
        .unwrap();
    assert_eq!(answer["posted"], true, "{answer}");
    let posts = world.slack.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(violations(&posts[0]), Vec::<String>::new(), "{}", posts[0]);
    let text = posts[0].to_string();
    assert!(text.contains("&lt;export&gt; &amp; more"), "{text}");
    assert!(text.contains("What to do:"), "{text}");
}

#[test]
fn the_receiver_refuses_what_slack_would_refuse() {
    let long = "x".repeat(3001);
    let bad = json!({"text": "a <b", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": long}},
        {"type": "header", "text": {"type": "plain_text", "text": "h".repeat(151)}},
        {"type": "section", "fields": (0..11).map(|_| json!({"type": "mrkdwn", "text": "f"})).collect::<Vec<_>>()},
    ]});
    let problems = violations(&bad);
    assert_eq!(problems.len(), 4, "{problems:#?}");
    let good = json!({"text": "ok &lt;", "blocks": [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "<https://x|link>"}]}
    ]});
    assert!(violations(&good).is_empty());
}
