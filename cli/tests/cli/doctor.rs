use super::*;

/// A state machine that answers only `{"preflight": true}`, with `checks` as the pull
/// function's checklist.
fn preflight_machine(checks: &str) -> String {
    format!(
        r#"{{
  "StartAt": "Preflight or the day?",
  "States": {{
    "Preflight or the day?": {{
      "Type": "Choice",
      "Choices": [{{"Variable": "$.preflight", "BooleanEquals": true, "Next": "Report the preflight checks"}}],
      "Default": "Not a preflight"
    }},
    "Report the preflight checks": {{
      "Type": "Pass",
      "Result": {{"preflight": [{{"step": "pull", "checks": {checks}}},
                                 {{"step": "push", "error": "SecretsUnavailable", "cause": "denied"}}]}},
      "End": true
    }},
    "Not a preflight": {{"Type": "Fail", "Error": "NotAPreflight"}}
  }}
}}"#
    )
}

/// `leganto doctor` against `machine`, polling every second.
async fn doctor(aws: &Aws, machine: &str) -> Output {
    aws.leganto(&[
        "doctor",
        "--poll-seconds",
        "1",
        "--state-machine",
        machine,
        "--bucket",
        BUCKET,
    ])
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_prints_the_checklist_and_exits_non_zero_when_a_check_fails() {
    let aws = Aws::start().await;
    let checks = r#"[
        {"check": "CEM SFTP secret", "ok": true, "detail": "filled in", "what_to_do": ""},
        {"check": "CEM SFTP server", "ok": false, "detail": "host key mismatch",
         "what_to_do": "Pin the new key, then run `leganto doctor` again."}]"#;
    let machine = aws
        .machine("leganto-preflight", &preflight_machine(checks))
        .await;
    let o = doctor(&aws, &machine).await;
    assert_eq!(o.status.code(), Some(5));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(out.starts_with("Started preflight-"), "{out}");
    assert!(out.contains("ok    CEM SFTP secret: filled in"), "{out}");
    assert!(out.contains("FAIL  CEM SFTP server: host key mismatch\n      what to do: Pin the new key, then run `leganto doctor` again."), "{out}");
    // The push function failing outright is a failed check of its own.
    assert!(
        out.contains("FAIL  the push function: it failed with SecretsUnavailable: denied"),
        "{out}"
    );
    assert!(err.contains("2 of 3 preflight checks failed"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_exits_zero_when_every_check_passes() {
    let aws = Aws::start().await;
    let definition = preflight_machine(
        r#"[{"check": "CEM SFTP server", "ok": true, "detail": "listed", "what_to_do": ""}]"#,
    )
    .replace(
        r#",
                                 {"step": "push", "error": "SecretsUnavailable", "cause": "denied"}"#,
        "",
    );
    let machine = aws.machine("leganto-preflight-ok", &definition).await;
    let o = doctor(&aws, &machine).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("ok    CEM SFTP server: listed"), "{out}");
    assert!(out.contains("All 1 checks passed"), "{out}");
}
