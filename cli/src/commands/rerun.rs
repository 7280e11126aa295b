//! `leganto rerun`: start the daily run again for a date from a stage (optionally a dry
//! run), after checking no execution is running the day and S3 holds what that stage
//! needs; `--wait` follows it to the end.

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use leganto_shared::ops::account::{LiveAccount, Shown};
use leganto_shared::ops::rerun::{self, RerunRequest, Started, Step};
use leganto_shared::steps::Stage;

use crate::common::{fatal, local_time, Deployment, Fatal};
use crate::progress::StateClock;

/// The stages `--from` takes, spelt as the execution input's `start_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum StartAt {
    /// Pull the export from CEM, then every later stage.
    Pull,
    /// Transform the day's export in S3.
    Transform,
    /// Push the day's loader file to Alma's SFTP.
    Push,
    /// Wait for Alma's course loader job.
    WaitForAlma,
    /// Build the rollover report from the day's export.
    RolloverReport,
}

impl From<StartAt> for Stage {
    fn from(s: StartAt) -> Stage {
        match s {
            StartAt::Pull => Stage::Pull,
            StartAt::Transform => Stage::Transform,
            StartAt::Push => Stage::Push,
            StartAt::WaitForAlma => Stage::WaitForAlma,
            StartAt::RolloverReport => Stage::RolloverReport,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// The day to rerun (YYYY-MM-DD, in the library's time zone).
    #[arg(long)]
    run_date: NaiveDate,
    /// The stage to start at; a later stage reuses what S3 holds for the day.
    #[arg(long = "from", value_name = "STAGE")]
    from: StartAt,
    /// Compute and store everything, push nothing to Alma and send no e-mail.
    #[arg(long)]
    dry_run: bool,
    /// Push even though another file was already loaded for the day: Alma loads both.
    /// Without it a second, different file for a day is refused (AlreadyPushed).
    #[arg(long)]
    force: bool,
    /// Send Alma every course, not only the changes since the last loaded day (a delta);
    /// only with --from pull or --from transform, which make the file (refused otherwise).
    #[arg(long)]
    full: bool,
    /// Follow the execution state by state; exit 8 unless it succeeds.
    #[arg(long)]
    wait: bool,
    /// Seconds between looks at the execution while waiting.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    poll_seconds: u64,
    #[command(flatten)]
    deployment: Deployment,
}

impl Args {
    /// What clap cannot check alone: `--full` only with a stage that makes the loader file.
    /// From `push` on, the day's file already exists, and `--full` would be ignored.
    pub fn conflict(&self) -> Option<String> {
        if !self.full || matches!(self.from, StartAt::Pull | StartAt::Transform) {
            return None;
        }
        let stage = Stage::from(self.from).name();
        Some(format!(
            "the argument '--full' cannot be used with '--from {stage}': --full makes a full \
             loader file, and only --from pull or --from transform make one (from {stage} \
             the day's file is the one transform already made); rerun with --from transform \
             --full"
        ))
    }
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    let request = RerunRequest {
        run_date: args.run_date,
        start_at: args.from.into(),
        dry_run: args.dry_run,
        force: args.force,
        full: args.full,
    };
    let deployment = args.deployment.resolve().await?;
    let store = deployment.store();
    let sfn = deployment.sfn();
    if let Some(stale) = rerun::check_not_running(&store, &sfn, &request)
        .await
        .map_err(|e| deployment.fatal(e))?
    {
        println!("Removed the day's lease left by {stale}, which no longer runs");
    }
    let found = rerun::check_artefacts(&store, &request)
        .await
        .map_err(|e| deployment.fatal(e))?;
    let started = rerun::start(&sfn, &deployment.state_machine_arn, &request, Utc::now())
        .await
        .map_err(|e| deployment.fatal(e))?;
    print_started(&started, &found, &deployment.bucket);
    if !args.wait {
        return Ok(());
    }
    let poll = Duration::from_secs(args.poll_seconds);
    follow_to_end(&sfn, &started, poll, deployment.time_zone)
        .await
        .map_err(|e| e.naming_the_stack(deployment.stack.as_deref()))
}

/// The execution started, and the day's files in the bucket it uses.
fn print_started(started: &Started, found: &[String], bucket: &str) {
    println!("Started {}", started.name);
    println!("  input      {}", started.input);
    for key in found {
        println!("  uses       s3://{bucket}/{key}");
    }
    println!("  execution  {}", started.execution_arn);
    if let Some(url) = &started.console_url {
        println!("  console    {url}");
    }
}

/// Follows the execution state by state to its end; an error unless it succeeds.
async fn follow_to_end(
    sfn: &aws_sdk_sfn::Client,
    started: &Started,
    poll: Duration,
    tz: Tz,
) -> Result<(), Fatal> {
    let mut clock = StateClock::new();
    // A loop (the wait for a decision, the job check) shows two passes, then one line.
    let mut live = LiveAccount::default();
    let outcome = rerun::follow(sfn, &started.execution_arn, poll, |step: &Step| {
        for shown in live.feed(step) {
            match shown {
                Shown::Step(step) => {
                    clock.before(step);
                    println!("{}  {}", local_time(step.at, tz), step.what);
                    clock.after(step);
                }
                Shown::Folded(line) => println!("{:>23}  … {line}", ""),
            }
        }
    })
    .await
    .map_err(fatal)?;
    if let Some(Shown::Folded(line)) = live.end_quiet_loop() {
        println!("{:>23}  … {line}", "");
    }
    drop(clock);
    if outcome.succeeded() {
        println!("Execution {} {}", started.name, outcome.status);
        return Ok(());
    }
    let error = outcome.error.as_deref().unwrap_or("no error name");
    let cause = outcome
        .cause
        .as_deref()
        .map(leganto_shared::run::readable_cause)
        .unwrap_or_default();
    Err(Fatal::Followed(format!(
        "execution {} {}: {error}: {cause}",
        started.name, outcome.status
    )))
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn every_stage_is_spelt_on_the_command_line_as_in_the_execution_input() {
        let cli: Vec<(String, &str)> = StartAt::value_variants()
            .iter()
            .filter_map(|v| {
                let name = v.to_possible_value()?.get_name().to_string();
                Some((name, Stage::from(*v).name()))
            })
            .collect();
        assert_eq!(cli.len(), Stage::ALL.len());
        for (spelt, stage) in cli {
            assert_eq!(spelt, stage);
        }
    }
}
