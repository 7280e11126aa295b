//! `leganto approve` / `leganto reject` against moto: the decision a held day waits for.

use serde_json::Value;

use super::*;

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:leganto-daily";

fn summary(tripped: bool) -> String {
    serde_json::json!({
        "loader_key": "alma/2026/11/28/20261128092514.txt",
        "loader_file_name": "20261128092514.txt",
        "summary_key": "reports/2026/11/28/run-summary.json",
        "rejects_key": "reports/2026/11/28/rejects.csv",
        "counts": {"rows_read": 699, "rows_written": 600},
        "brake": {"tripped": tripped,
                  "reasons": ["the export has 699 rows, 301 fewer than the 1000 of 2026-11-27"],
                  "compared_with": "2026-11-27"}
    })
    .to_string()
}

async fn decision(aws: &Aws) -> Value {
    aws.store()
        .get_json("reports/2026/11/28/decision.json")
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn approve_and_reject_record_who_decided_on_the_held_file_and_refuse_a_day_not_held() {
    let aws = Aws::start().await;
    let base = [
        "--run-date",
        RUN_DATE,
        "--state-machine",
        MACHINE,
        "--bucket",
        BUCKET,
    ];
    let approve = [&["approve"][..], &base[..]].concat();

    // Not transformed, then transformed without tripping the brake: nothing to decide.
    let o = aws.leganto(&approve).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot decide on 2026-11-28"),
        "{}",
        stderr(&o)
    );
    aws.put("reports/2026/11/28/run-summary.json", &summary(false))
        .await;
    let o = aws.leganto(&approve).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("did not trip"), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "one line");

    // Held: approve records the caller's AWS identity and the held file.
    aws.put("reports/2026/11/28/run-summary.json", &summary(true))
        .await;
    let o = aws.leganto(&approve).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("Approved 20261128092514.txt for 2026-11-28"),
        "{out}"
    );
    assert!(out.contains("held for   the export has 699 rows"), "{out}");
    assert!(out.contains("Next: the held execution pushes"), "{out}");
    let d = decision(&aws).await;
    assert_eq!(d["decision"], "approve");
    assert_eq!(d["loader_file"], "20261128092514.txt");
    let by = d["by"].as_str().unwrap();
    assert!(by.starts_with("arn:aws:"), "the caller's identity: {by}");
    assert_eq!(field(&out, "by").as_deref(), Some(by));

    // A reject needs a reason; with one it replaces the approval.
    let reject = [&["reject"][..], &base[..]].concat();
    let o = aws.leganto(&reject).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = aws
        .leganto(
            &[
                &reject[..],
                &["--reason", "half the export is missing", "--by", "pat"],
            ]
            .concat(),
        )
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("ends at its next look with HeldRejected"),
        "{}",
        stdout(&o)
    );
    let d = decision(&aws).await;
    assert_eq!(d["decision"], "reject");
    assert_eq!(d["by"], "pat");
    assert_eq!(d["reason"], "half the export is missing");

    // Once pushed, a decision would change nothing.
    aws.put(
        "alma/2026/11/28/pushed.json",
        r#"{"run_date": "2026-11-28", "file_name": "20261128092514.txt",
            "loader_key": "alma/2026/11/28/20261128092514.txt", "sha256": "00", "bytes": 1,
            "pushed_at": "2026-11-28T18:00:00Z"}"#,
    )
    .await;
    let o = aws.leganto(&approve).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("already pushed"), "{}", stderr(&o));
    assert_eq!(decision(&aws).await["decision"], "reject", "left as it was");
}
