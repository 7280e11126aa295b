//! `leganto rollovers approve|revoke|list`: review a day's rollover report, recording each
//! approval once in the ledger (course-loading.md §10); only while the stack's
//! `RolloversEnabled` is `true`. The next live push checks each approved rollover in Alma
//! and sends it once, as a ROLLOVER row; the report step after Alma's job confirms it.

use chrono::{NaiveDate, Utc};
use leganto_shared::ops::rollovers::{self, Approval, Listed, Selection};
use serde_json::json;

use crate::common::{self, Deployment, Fatal};

/// The stack parameter that turns loading approved rollovers on.
const ENABLED_PARAMETER: &str = "RolloversEnabled";

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Approve rows of a day's rollover report: the next live push sends each once.
    Approve(ApproveArgs),
    /// Withdraw an approval not yet sent.
    Revoke(RevokeArgs),
    /// Each row of a day's report (or every rollover ever approved) and where it stands:
    /// proposed, approved, source has no lists, sent, confirmed, already has lists, failed,
    /// revoked.
    List(ListArgs),
}

#[derive(clap::Args)]
struct ApproveArgs {
    /// The day whose rollover report holds the rows (YYYY-MM-DD).
    #[arg(long)]
    run_date: NaiveDate,
    /// Every row of that report.
    #[arg(long, conflicts_with_all = ["course", "section"])]
    all: bool,
    /// A target course's code (with --section; repeat both for several).
    #[arg(long, requires = "section", required_unless_present = "all")]
    course: Vec<String>,
    /// The section of the --course at the same position.
    #[arg(long)]
    section: Vec<String>,
    /// Who approves, as recorded [default: the caller's AWS identity, else $USER].
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    deployment: Deployment,
}

#[derive(clap::Args)]
struct RevokeArgs {
    /// The target course's code.
    #[arg(long)]
    course: String,
    #[arg(long)]
    section: String,
    /// Who revokes, as recorded [default: the caller's AWS identity, else $USER].
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    deployment: Deployment,
}

#[derive(clap::Args)]
struct ListArgs {
    /// The day whose report to list [default: every rollover in the ledger].
    #[arg(long)]
    run_date: Option<NaiveDate>,
    /// `text` for people, `json` for scripts.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    deployment: Deployment,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Output {
    Text,
    Json,
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    match args.command {
        Command::Approve(a) => approve(a).await,
        Command::Revoke(a) => revoke(a).await,
        Command::List(a) => list(a).await,
    }
}

/// Refused unless the stack loads rollovers: an approval nothing would ever send misleads.
async fn require_enabled(deployment: &Deployment) -> Result<(), Fatal> {
    match deployment
        .stack_parameter(ENABLED_PARAMETER)
        .await?
        .as_deref()
    {
        Some("true") => Ok(()),
        _ => Err(Fatal::Settings(format!(
            "loading rollovers is off for this stack ({ENABLED_PARAMETER} is not true), so an \
             approval would never be sent; to turn it on: sam deploy --config-env ENV \
             --parameter-overrides {ENABLED_PARAMETER}=true (with the environment's other \
             overrides), then approve again"
        ))),
    }
}

async fn approve(args: ApproveArgs) -> Result<(), Fatal> {
    if args.course.len() != args.section.len() {
        return Err(Fatal::Settings(
            "give one --section for each --course, in the same order".into(),
        ));
    }
    require_enabled(&args.deployment).await?;
    let selection = if args.all {
        Selection::All
    } else {
        Selection::Courses(args.course.into_iter().zip(args.section).collect())
    };
    let deployment = args.deployment.resolve().await?;
    let by = common::who(args.by, &deployment.sdk).await;
    let outcomes = rollovers::approve(
        &deployment.store(),
        args.run_date,
        &selection,
        &by,
        Utc::now(),
    )
    .await
    .map_err(|e| deployment.fatal(e))?;
    let mut approved = 0;
    for outcome in &outcomes {
        match outcome {
            Approval::Approved(r) => {
                approved += 1;
                println!("approved          {}", r.describe());
            }
            Approval::AlreadyApproved(r) => println!("already approved  {}", r.describe()),
            Approval::Refused(r, stage) => println!(
                "not approved      {}: it is {} (a rollover is sent once, ever)",
                r.describe(),
                stage.label()
            ),
        }
    }
    println!(
        "{approved} of {} rows approved by {by} and recorded; the next live push sends each \
         once (`leganto rollovers list` shows where each stands)",
        outcomes.len()
    );
    Ok(())
}

async fn revoke(args: RevokeArgs) -> Result<(), Fatal> {
    let deployment = args.deployment.resolve().await?;
    let by = common::who(args.by, &deployment.sdk).await;
    let record = rollovers::revoke(
        &deployment.store(),
        &args.course,
        &args.section,
        &by,
        Utc::now(),
    )
    .await
    .map_err(|e| deployment.fatal(e))?;
    println!(
        "revoked  {}: it will not be sent",
        record.rollover.describe()
    );
    Ok(())
}

async fn list(args: ListArgs) -> Result<(), Fatal> {
    let deployment = args.deployment.resolve().await?;
    let rows = rollovers::list(&deployment.store(), args.run_date)
        .await
        .map_err(|e| deployment.fatal(e))?;
    match args.output {
        Output::Json => println!("{:#}", json!(rows.iter().map(row_json).collect::<Vec<_>>())),
        Output::Text => {
            for row in &rows {
                let note = row
                    .record
                    .as_ref()
                    .and_then(|r| r.note.as_deref())
                    .map(|n| format!("  ({n})"))
                    .unwrap_or_default();
                println!("{:<18} {}{note}", row.state(), row.rollover.describe());
            }
            println!("{} rollovers", rows.len());
        }
    }
    Ok(())
}

fn row_json(row: &Listed) -> serde_json::Value {
    json!({
        "code": row.rollover.code,
        "section": row.rollover.section,
        "old_code": row.rollover.old_code,
        "old_section": row.rollover.old_section,
        "state": row.state(),
        "record": row.record,
    })
}
