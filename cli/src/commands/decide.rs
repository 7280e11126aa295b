//! `leganto approve` and `leganto reject`: decide on a day the safety brake held. The
//! decision goes to the day's `decision.json` in S3; the held execution reads it at its
//! next look and pushes (approve) or ends with nothing pushed (reject).

use chrono::{NaiveDate, Utc};
use leganto_shared::ops::hold::{self, Decided, DecisionRequest};
use leganto_shared::run::hold::Verdict;

use crate::common::{self, local_time, Deployment, Fatal, Resolved};

#[derive(clap::Args)]
pub struct ApproveArgs {
    /// The held day (YYYY-MM-DD, in the library's time zone).
    #[arg(long)]
    run_date: NaiveDate,
    /// Who approves, as recorded [default: the caller's AWS identity, else $USER].
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    deployment: Deployment,
}

#[derive(clap::Args)]
pub struct RejectArgs {
    /// The held day (YYYY-MM-DD, in the library's time zone).
    #[arg(long)]
    run_date: NaiveDate,
    /// Why the day must not be loaded (shown in Slack and the execution's error).
    #[arg(long)]
    reason: String,
    /// Who rejects, as recorded [default: the caller's AWS identity, else $USER].
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    deployment: Deployment,
}

pub async fn approve(args: ApproveArgs) -> Result<(), Fatal> {
    let deployment = args.deployment.resolve().await?;
    let by = common::who(args.by, &deployment.sdk).await;
    let decided = write(
        &deployment,
        args.run_date,
        Verdict::Approve,
        by,
        String::new(),
    )
    .await?;
    print!(
        "{}",
        deployment.naming_the_stack(&render(&decided, deployment.time_zone))
    );
    Ok(())
}

pub async fn reject(args: RejectArgs) -> Result<(), Fatal> {
    let deployment = args.deployment.resolve().await?;
    let by = common::who(args.by, &deployment.sdk).await;
    let decided = write(&deployment, args.run_date, Verdict::Reject, by, args.reason).await?;
    print!(
        "{}",
        deployment.naming_the_stack(&render(&decided, deployment.time_zone))
    );
    Ok(())
}

async fn write(
    deployment: &Resolved,
    run_date: NaiveDate,
    decision: Verdict,
    by: String,
    reason: String,
) -> Result<Decided, Fatal> {
    let request = DecisionRequest {
        run_date,
        decision,
        by,
        reason,
    };
    hold::decide(&deployment.store(), &request, Utc::now())
        .await
        .map_err(|e| deployment.fatal(e))
}

/// What was decided and what happens next.
pub fn render(decided: &Decided, tz: chrono_tz::Tz) -> String {
    let d = &decided.decision;
    let date = decided
        .key
        .strip_prefix("reports/")
        .and_then(|k| k.strip_suffix("/decision.json"))
        .unwrap_or(&decided.key)
        .replace('/', "-");
    let mut out = match d.decision {
        Verdict::Approve => format!("Approved {} for {date}\n", d.loader_file),
        Verdict::Reject => format!("Rejected {} for {date}: {}\n", d.loader_file, d.reason),
    };
    out.push_str(&format!("  by         {}\n", d.by));
    out.push_str(&format!("  at         {}\n", local_time(d.at, tz)));
    out.push_str(&format!("  written to {}\n", decided.key));
    for reason in &decided.reasons {
        out.push_str(&format!("  held for   {reason}\n"));
    }
    match d.decision {
        Verdict::Approve => out.push_str(&format!(
            "Next: the held execution pushes the file at its next look for a decision. If no \
             execution is holding the day any more (it expired), start one: leganto rerun \
             --run-date {date} --from push\n"
        )),
        Verdict::Reject => out.push_str(
            "Next: the held execution ends at its next look with HeldRejected; nothing is \
             pushed. To load the day after all, approve it and rerun it from push.\n",
        ),
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use leganto_shared::run::hold::HoldDecision;

    use super::*;

    #[test]
    fn an_approval_says_what_happens_next_and_how_to_restart_an_expired_hold() {
        let decided = Decided {
            decision: HoldDecision {
                decision: Verdict::Approve,
                by: "arn:aws:iam::123456789012:user/pat".into(),
                reason: String::new(),
                at: DateTime::parse_from_rfc3339("2026-11-28T17:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
                loader_file: "20261128092514.txt".into(),
            },
            key: "reports/2026/11/28/decision.json".into(),
            reasons: vec!["the export has 699 rows".into()],
        };
        let text = render(&decided, chrono_tz::America::Phoenix);
        assert!(
            text.starts_with("Approved 20261128092514.txt for 2026-11-28"),
            "{text}"
        );
        assert!(text.contains("2026-11-28 10:00:00 MST"), "{text}");
        assert!(
            text.contains("held for   the export has 699 rows"),
            "{text}"
        );
        assert!(
            text.contains("leganto rerun --run-date 2026-11-28 --from push"),
            "{text}"
        );
    }
}
