//! Check for a person's decision on a held day: the safety brake ([`crate::run::brake`])
//! tripped, so the run waits before Push. Reads `reports/YYYY/MM/DD/decision.json`, which
//! `leganto approve` or `leganto reject` writes; a decision for another loader file than
//! the one held does not count. Approved → the run pushes; rejected → `HeldRejected`; no
//! decision within `HOLD_LIMIT_HOURS` of the first look → `HeldExpired`. Nothing is pushed
//! in either failure. Reads S3; never a secret.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::{RunInfo, StepContext, StepError};
pub use crate::run::hold::{read_decision, HoldDecision, HoldOutput, HoldStatus, Verdict};
use crate::run::summary::TransformOutput;

#[derive(Debug, Clone, Deserialize)]
pub struct CheckHoldInput {
    pub run: RunInfo,
    #[serde(default)]
    pub transform: Option<TransformOutput>,
    /// The previous look's answer (from the second look on).
    #[serde(default)]
    pub hold: Option<HoldOutput>,
}

/// `20`, `0.5`: hours as people write them.
pub fn hours_text(limit: Duration) -> String {
    let hours = limit.as_secs_f64() / 3600.0;
    let rounded = (hours * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

/// The answer of one look, a plain function of what S3 held and the time.
pub fn look(
    run_date: NaiveDate,
    decision: Option<&HoldDecision>,
    loader_file: &str,
    held_since: DateTime<Utc>,
    checks: u64,
    now: DateTime<Utc>,
    limit: Duration,
) -> Result<HoldOutput, StepError> {
    let pending = HoldOutput {
        decision: HoldStatus::Pending,
        held_since,
        checks,
        by: None,
    };
    match decision {
        Some(d) if d.loader_file == loader_file => match d.decision {
            Verdict::Approve => {
                return Ok(HoldOutput {
                    decision: HoldStatus::Approved,
                    // A person's file: bounded like any name in the state.
                    by: Some(crate::run::limits::clip(
                        &d.by,
                        crate::run::limits::NAME_BYTES,
                    )),
                    ..pending
                });
            }
            Verdict::Reject => {
                return Err(StepError::HeldRejected {
                    run_date: run_date.to_string(),
                    by: d.by.clone(),
                    reason: d.reason.clone(),
                })
            }
        },
        Some(d) => tracing::warn!(
            decided_file = %d.loader_file,
            held_file = loader_file,
            "the decision is about another loader file; it does not count"
        ),
        None => {}
    }
    let held = (now - held_since).to_std().unwrap_or_default();
    if held >= limit {
        return Err(StepError::HeldExpired {
            run_date: run_date.to_string(),
            held_since: held_since.to_rfc3339(),
            limit_hours: hours_text(limit),
        });
    }
    Ok(pending)
}

/// What people are told when a day holds: the Slack post and the e-mail say the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldNotice {
    pub title: String,
    /// What tripped the brake, one sentence each, with the numbers.
    pub reasons: Vec<String>,
    /// The day's counts and the held file.
    pub facts: Vec<String>,
    /// The command that lets the day go on to Alma.
    pub approve: String,
    /// The command that stops it.
    pub reject: String,
    /// What happens without a decision.
    pub limit: String,
}

impl HoldNotice {
    pub fn new(
        run_date: NaiveDate,
        transform: Option<&TransformOutput>,
        limit: Duration,
    ) -> HoldNotice {
        let mut facts = Vec::new();
        let mut reasons = Vec::new();
        if let Some(t) = transform {
            reasons.extend(t.brake.reasons.iter().cloned());
            facts.push(format!(
                "Loader file held: {} (nothing goes to Alma until someone decides)",
                t.loader_file_name
            ));
            let c = &t.counts;
            facts.push(format!(
                "Rows read {}, courses written {}, DELETE rows {}, rows rejected {}",
                c.rows_read, c.rows_written, c.deletes_sent, c.rejected
            ));
            if let Some(date) = t.brake.compared_with {
                facts.push(match t.brake.history_days {
                    0 | 1 => format!("Compared with {date}, the last day loaded"),
                    n => format!("Compared with the last {n} days loaded, the newest {date}"),
                });
            }
        }
        HoldNotice {
            title: format!("Course load {run_date} is held: the day looks abnormal"),
            reasons,
            facts,
            approve: format!("leganto approve --run-date {run_date}"),
            reject: format!("leganto reject --run-date {run_date} --reason \"...\""),
            limit: format!(
                "Without a decision within {} hours the run ends and nothing is pushed.",
                hours_text(limit)
            ),
        }
    }

    /// The notice as plain text, for the e-mail.
    pub fn text(&self, execution_url: Option<&str>) -> String {
        let mut text = format!("{}\n\nWhat tripped the safety brake:\n", self.title);
        for r in &self.reasons {
            text.push_str(&format!("  - {r}\n"));
        }
        text.push('\n');
        for f in &self.facts {
            text.push_str(&format!("{f}\n"));
        }
        text.push('\n');
        text.push_str(&format!(
            "To load it: {}\nTo stop it: {}\n{}\n",
            self.approve, self.reject, self.limit
        ));
        if let Some(url) = execution_url {
            text.push_str(&format!("\nExecution: {url}\n"));
        }
        text
    }
}

pub async fn run(ctx: &StepContext, input: CheckHoldInput) -> Result<HoldOutput, StepError> {
    let Some(transform) = &input.transform else {
        return Err(StepError::invalid_input(
            "the state has no transform section: there is no loader file to hold",
        ));
    };
    let now = ctx.now();
    let (held_since, checks) = match &input.hold {
        Some(h) => (h.held_since, h.checks + 1),
        None => (now, 1),
    };
    let decision = read_decision(&ctx.store, input.run.run_date).await?;
    let output = look(
        input.run.run_date,
        decision.as_ref(),
        &transform.loader_file_name,
        held_since,
        checks,
        now,
        ctx.config.hold.limit,
    )?;
    tracing::info!(
        loader_file = %transform.loader_file_name,
        decision = ?output.decision,
        held_since = %output.held_since,
        checks,
        "looked for a decision on the held day"
    );
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName as _;

    const FILE: &str = "20261128092514.txt";

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
    }

    fn decision(verdict: Verdict, file: &str) -> HoldDecision {
        HoldDecision {
            decision: verdict,
            by: "arn:aws:iam::123456789012:user/librarian".into(),
            reason: "the export is half empty".into(),
            at: at("2026-11-28T17:00:00Z"),
            loader_file: file.into(),
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn without_a_decision_the_day_stays_held_until_the_limit() {
        let since = at("2026-11-28T16:00:00Z");
        let out = look(
            date(),
            None,
            FILE,
            since,
            3,
            at("2026-11-28T16:59:59Z"),
            HOUR,
        )
        .unwrap();
        assert_eq!(out.decision, HoldStatus::Pending);
        assert_eq!((out.held_since, out.checks), (since, 3));

        let err = look(
            date(),
            None,
            FILE,
            since,
            4,
            at("2026-11-28T17:00:00Z"),
            HOUR,
        )
        .unwrap_err();
        assert_eq!(err.error_name(), "HeldExpired");
        let text = err.to_string();
        assert!(text.contains("within 1 hours"), "{text}");
        assert!(
            text.contains("leganto approve --run-date 2026-11-28"),
            "{text}"
        );
    }

    #[test]
    fn an_approval_of_the_held_file_lets_the_day_push() {
        let since = at("2026-11-28T16:00:00Z");
        let d = decision(Verdict::Approve, FILE);
        let out = look(date(), Some(&d), FILE, since, 2, since, HOUR).unwrap();
        assert_eq!(out.decision, HoldStatus::Approved);
        assert_eq!(out.by.as_deref(), Some(d.by.as_str()));
    }

    #[test]
    fn a_rejection_ends_the_run_naming_who_and_why() {
        let since = at("2026-11-28T16:00:00Z");
        let d = decision(Verdict::Reject, FILE);
        let err = look(date(), Some(&d), FILE, since, 2, since, HOUR).unwrap_err();
        assert_eq!(err.error_name(), "HeldRejected");
        let text = err.to_string();
        assert!(text.contains("user/librarian"), "{text}");
        assert!(text.contains("the export is half empty"), "{text}");
        assert!(text.contains("nothing was pushed"), "{text}");
    }

    #[test]
    fn a_decision_about_another_loader_file_does_not_count() {
        let since = at("2026-11-28T16:00:00Z");
        for verdict in [Verdict::Approve, Verdict::Reject] {
            let d = decision(verdict, "20261127092514.txt");
            let out = look(date(), Some(&d), FILE, since, 2, since, HOUR).unwrap();
            assert_eq!(out.decision, HoldStatus::Pending, "{verdict:?}");
        }
    }

    #[test]
    fn the_decision_file_reads_as_the_cli_writes_it() {
        let d: HoldDecision = serde_json::from_value(serde_json::json!({
            "decision": "reject", "by": "pat", "at": "2026-11-28T17:00:00Z",
            "loader_file": FILE
        }))
        .unwrap();
        assert_eq!(d.decision, Verdict::Reject);
        assert_eq!(d.reason, "");
        let out = serde_json::to_value(HoldOutput {
            decision: HoldStatus::Pending,
            held_since: at("2026-11-28T16:00:00Z"),
            checks: 1,
            by: None,
        })
        .unwrap();
        assert_eq!(out["decision"], "pending");
        assert!(out.get("by").is_none());
    }

    #[test]
    fn the_notice_says_what_tripped_with_the_numbers_and_how_to_decide() {
        let transform: TransformOutput = serde_json::from_value(serde_json::json!({
            "loader_key": "alma/2026/11/28/20261128092514.txt",
            "loader_file_name": FILE,
            "summary_key": "reports/2026/11/28/run-summary.json",
            "rejects_key": "reports/2026/11/28/rejects.csv",
            "counts": {"rows_read": 699, "rows_written": 600, "deletes_sent": 3, "rejected": 1},
            "brake": {"tripped": true, "reasons": ["the export has 699 rows, 301 fewer"],
                      "compared_with": "2026-11-27"}
        }))
        .unwrap();
        let notice = HoldNotice::new(date(), Some(&transform), Duration::from_secs(20 * 3600));
        let text = notice.text(Some("https://console/x"));
        for expected in [
            "Course load 2026-11-28 is held",
            "the export has 699 rows, 301 fewer",
            FILE,
            "Rows read 699, courses written 600, DELETE rows 3, rows rejected 1",
            "Compared with 2026-11-27",
            "leganto approve --run-date 2026-11-28",
            "leganto reject --run-date 2026-11-28 --reason",
            "within 20 hours",
            "https://console/x",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
    }

    #[test]
    fn hours_read_as_people_write_them() {
        assert_eq!(hours_text(Duration::from_secs(20 * 3600)), "20");
        assert_eq!(hours_text(Duration::from_secs(1800)), "0.5");
        assert_eq!(hours_text(Duration::from_millis(3600)), "0.001");
    }
}
