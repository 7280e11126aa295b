//! `leganto full-load`: ask for a full load on the next scheduled day (`next`), take the
//! request back (`cancel`), or see it (`show`). The request is
//! `state/full-load-request.json` in the stack's bucket; the next live scheduled run sends
//! every course, says why, and removes the request once its push is done.

use chrono::Utc;
use chrono_tz::Tz;
use leganto_shared::ops::full_load::{self, Asked};
use leganto_shared::run::full_load::FullLoadRequest;
use leganto_shared::store::FULL_LOAD_REQUEST;

use crate::common::{self, local_time, Deployment, Fatal};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: FullLoadCommand,
}

#[derive(clap::Subcommand)]
enum FullLoadCommand {
    /// Ask for a full file on the next scheduled day (not a dry run or a rerun by hand).
    Next(NextArgs),
    /// Take back the request: the next scheduled day is a delta again.
    Cancel(StackArgs),
    /// Whether a full load is asked for, by whom and when.
    Show(StackArgs),
}

#[derive(clap::Args)]
struct NextArgs {
    /// Who asks, as recorded [default: the caller's AWS identity, else $USER].
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    deployment: Deployment,
}

#[derive(clap::Args)]
struct StackArgs {
    #[command(flatten)]
    deployment: Deployment,
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    match args.command {
        FullLoadCommand::Next(args) => next(args).await,
        FullLoadCommand::Cancel(args) => cancel(args).await,
        FullLoadCommand::Show(args) => show(args).await,
    }
}

async fn next(args: NextArgs) -> Result<(), Fatal> {
    let bucket = args.deployment.resolve_bucket().await?;
    let by = common::who(args.by, &bucket.sdk).await;
    let asked = full_load::ask(&bucket.store, &by, Utc::now())
        .await
        .map_err(|e| bucket.fatal(e))?;
    let text = match asked {
        Asked::Recorded(request) => format!(
            "Asked for a full load on the next scheduled day\n{}  written to s3://{}/{FULL_LOAD_REQUEST}\n\
             Next: the next scheduled run sends every course (its summary, Slack and the day page \
             say \"{}\"); its push, once done, removes the request. To take it back: leganto \
             full-load cancel\n",
            lines(&request, bucket.time_zone),
            bucket.store.bucket(),
            request.reason()
        ),
        Asked::Standing(request) => format!(
            "A full load is already asked for the next scheduled day; kept as it was\n{}",
            lines(&request, bucket.time_zone)
        ),
    };
    print!("{}", bucket.naming_the_stack(&text));
    Ok(())
}

async fn cancel(args: StackArgs) -> Result<(), Fatal> {
    let bucket = args.deployment.resolve_bucket().await?;
    let cancelled = full_load::cancel(&bucket.store)
        .await
        .map_err(|e| bucket.fatal(e))?;
    match cancelled {
        Some(request) => print!(
            "Cancelled the full load asked for the next scheduled day\n{}",
            lines(&request, bucket.time_zone)
        ),
        None => println!("No full load is asked for: nothing to cancel"),
    }
    Ok(())
}

async fn show(args: StackArgs) -> Result<(), Fatal> {
    let bucket = args.deployment.resolve_bucket().await?;
    let standing = full_load::show(&bucket.store)
        .await
        .map_err(|e| bucket.fatal(e))?;
    let text = match standing {
        Some(request) => format!(
            "A full load is asked for the next scheduled day\n{}",
            lines(&request, bucket.time_zone)
        ),
        None => "No full load is asked for; the next scheduled day is full only on \
                 FullLoadWeekday or when the baseline is too old (leganto full-load next \
                 asks for one)\n"
            .to_string(),
    };
    print!("{}", bucket.naming_the_stack(&text));
    Ok(())
}

/// Who asked and when.
fn lines(request: &FullLoadRequest, tz: Tz) -> String {
    format!(
        "  by         {}\n  at         {}\n",
        request.by,
        local_time(request.at, tz)
    )
}
