//! The preflight (`{"preflight": true}`) through the real definition: each function checks
//! its peers with its own role; a broken peer fails its own check with what to do, and the
//! other checks still answer. Nothing is pushed, written to the day or mailed.

use std::collections::BTreeMap;

use leganto_shared::error::error_chain;
use leganto_shared::secrets::SecretPurpose;
use leganto_shared::steps::preflight::{checklist, Check, SES_SIMULATOR};
use leganto_tests::stack::{secret_id, Stack, StackOptions, EMAIL_FROM};
use serde_json::{json, Value};

use super::support::*;

/// The checklist of a preflight execution, by check name.
async fn preflight(stack: &Stack, name: &str) -> BTreeMap<String, Check> {
    let (execution, visits) = run(stack, name, json!({"preflight": true})).await;
    assert_succeeded(&execution);
    assert!(
        !visits.iter().any(|v| v.name == "Plan the run"),
        "a preflight plans no day"
    );
    let checks = checklist(execution.output.as_ref().expect("an output"));
    for check in &checks {
        println!(
            "  {} {}: {} | {}",
            if check.ok { "ok  " } else { "FAIL" },
            check.check,
            check.detail,
            check.what_to_do
        );
    }
    checks.into_iter().map(|c| (c.check.clone(), c)).collect()
}

/// Changes one field of a secret as a person editing it in the console would.
async fn edit_secret(stack: &Stack, purpose: SecretPurpose, field: &str, value: Value) {
    let client = aws_sdk_secretsmanager::Client::new(&stack.sdk);
    let (name, _) = secret_id(purpose);
    let current = client
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .unwrap();
    let mut secret: Value = serde_json::from_str(current.secret_string().unwrap()).unwrap();
    secret[field] = value;
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(secret.to_string())
        .send()
        .await
        .unwrap();
}

const ALL_CHECKS: [&str; 12] = [
    "CEM SFTP secret",
    "CEM SFTP server",
    "Alma SFTP secret",
    "Alma SFTP server",
    "Alma SFTP directory writable",
    "Alma API key secret",
    "Alma Courses API",
    "Alma API quota",
    "Alma course loader job",
    "SES sender",
    "Slack webhook secret",
    "Slack webhook",
];

#[tokio::test(flavor = "multi_thread")]
async fn every_preflight_check_passes_on_a_healthy_stack_and_a_secret_broken_since_shows_at_once() {
    let stack = start_stack().await;
    let before = s3_keys(&stack).await;
    let checks = preflight(&stack, "preflight-healthy").await;
    let names: Vec<&str> = checks.keys().map(String::as_str).collect();
    let mut expected = ALL_CHECKS.to_vec();
    expected.sort();
    assert_eq!(names, expected);
    for check in checks.values() {
        assert!(check.ok, "{check:?}");
    }
    assert_eq!(
        s3_keys(&stack).await,
        before,
        "the preflight writes nothing to S3"
    );
    assert!(
        stack.alma_files().unwrap().is_empty(),
        "the test file is removed"
    );
    // Only the mailbox simulator hears from the preflight.
    let sent = stack.moto.sent_emails().await.unwrap();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].destinations.iter().all(|d| d == SES_SIMULATOR),
        "{:?}",
        sent[0].destinations
    );
    assert_eq!(sent[0].source.as_deref(), Some(EMAIL_FROM));
    assert!(
        stack.slack.posts().iter().all(|p| p == &json!({})),
        "nothing posted"
    );

    // The functions are warm and keep secrets for minutes; a preflight reads them afresh.
    edit_secret(
        &stack,
        SecretPurpose::AlmaApiKey,
        "api_key",
        json!("REPLACE_ME"),
    )
    .await;
    let checks = preflight(&stack, "preflight-after-an-edit").await;
    assert!(!checks["Alma API key secret"].ok);
    let failed: Vec<&str> = checks
        .values()
        .filter(|c| !c.ok)
        .map(|c| c.check.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "Alma API key secret",
            "Alma API quota",
            "Alma Courses API",
            "Alma course loader job"
        ],
        "only the Alma API's checks fail"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_broken_peer_fails_its_own_check_with_what_to_do_while_the_others_still_run() {
    // No verified identity for the sender in SES.
    let stack = match Stack::start(StackOptions {
        sender_verified: false,
        ..StackOptions::default()
    })
    .await
    {
        Ok(stack) => stack,
        Err(e) => panic!("the local stack did not start: {}", error_chain(&e)),
    };
    // A placeholder left in the CEM login, a wrong pin for Alma's SFTP server, a refused
    // Alma key and a revoked Slack webhook.
    edit_secret(&stack, SecretPurpose::CemSftp, "user", json!("REPLACE_ME")).await;
    edit_secret(
        &stack,
        SecretPurpose::AlmaSftp,
        "host_key_sha256",
        json!("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"),
    )
    .await;
    edit_secret(
        &stack,
        SecretPurpose::AlmaApiKey,
        "api_key",
        json!("wrong-key"),
    )
    .await;
    stack.slack.set_revoked(true);

    let checks = preflight(&stack, "preflight-broken").await;
    let failed = |name: &str, detail: &str, what_to_do: &str| {
        let check = &checks[name];
        assert!(!check.ok, "{check:?}");
        assert!(check.detail.contains(detail), "{check:?}");
        assert!(check.what_to_do.starts_with(what_to_do), "{check:?}");
        assert!(check.what_to_do.ends_with('.'), "{check:?}");
    };
    failed(
        "CEM SFTP secret",
        "field `user` is invalid: still holds the placeholder REPLACE_ME",
        "A secret does not have the expected fields or still holds a placeholder",
    );
    failed(
        "CEM SFTP server",
        "not tried",
        "Fix the failed check \"CEM SFTP secret\" first",
    );
    assert!(checks["Alma SFTP secret"].ok);
    failed(
        "Alma SFTP server",
        "host key",
        "The SFTP server's host key is not the one pinned in its secret",
    );
    failed(
        "Alma SFTP directory writable",
        "not tried",
        "Fix the failed check \"Alma SFTP server\" first",
    );
    assert!(checks["Alma API key secret"].ok);
    failed("Alma Courses API", "", "The Alma API key was refused");
    failed(
        "SES sender",
        EMAIL_FROM,
        "Verify library-systems@example.edu",
    );
    assert!(checks["Slack webhook secret"].ok);
    failed("Slack webhook", "403", "Slack refused the post");
    for check in checks.values() {
        assert!(
            !check.detail.contains("wrong-key"),
            "no secret value shown: {check:?}"
        );
    }
    assert!(stack.alma_files().unwrap().is_empty());
    assert!(stack.moto.sent_emails().await.unwrap().is_empty());
}
