//! `leganto`: check and transform a CEM export, build the rollover report.
//! Thin: parses arguments, dispatches to one module per command, maps failures to one
//! stderr line and an exit code.

// Before the modules: `println!` and `print!` below are the ones they use.
#[macro_use]
mod stdout;
mod commands;
mod common;
mod deployment;
mod progress;

// mimalloc, not the system allocator: the row passes allocate a course per code and free
// them all at the end, and it took 10–17% off the transform's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "leganto",
    version,
    about = "Course loading for Alma/Leganto",
    after_help = common::EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Turn a CEM export into Alma's course loader file.
    Transform(commands::transform::Args),
    /// Report the potential rollovers (copy requests) of a CEM export.
    RolloverReport(commands::rollover::Args),
    /// Start the daily run again for a date from a stage; --wait follows it.
    Rerun(commands::rerun::Args),
    /// Let a day the safety brake held go on to Alma.
    Approve(commands::decide::ApproveArgs),
    /// Stop a day the safety brake held: nothing is pushed.
    Reject(commands::decide::RejectArgs),
    /// What S3 holds for a run date and the executions that ran for it.
    Status(commands::status::Args),
    /// Plan, and with --execute delete, a year and term's courses without reading lists.
    DeleteEmptyCourses(commands::delete_empty::Args),
    /// Check, push and show the stack's institution rules (config/rules.toml in its bucket).
    Rules(commands::rules::Args),
    /// Review a day's rollover report: approve rows to load once, revoke, list.
    Rollovers(commands::rollovers::Args),
    /// Ask for a full load on the next scheduled day, take the request back, or see it.
    FullLoad(commands::full_load::Args),
    /// Check from inside AWS what a run needs (secrets, SFTP, Alma, SES, Slack); exit
    /// non-zero when a check fails.
    Doctor(commands::doctor::Args),
    /// Turn the daily run on (after a passing `leganto doctor`) or off, or show it.
    Schedule(commands::schedule::Args),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::init_tracing();
    let cli = Cli::parse();
    if let Command::Rerun(args) = &cli.command {
        if let Some(conflict) = args.conflict() {
            // A usage error like clap's own (exit 2, rerun's usage), before any AWS call.
            let mut cli = Cli::command();
            cli.build();
            let kind = clap::error::ErrorKind::ArgumentConflict;
            match cli.find_subcommand_mut("rerun") {
                Some(rerun) => rerun.error(kind, conflict).exit(),
                None => cli.error(kind, conflict).exit(),
            }
        }
    }
    let result = match cli.command {
        Command::Transform(args) => commands::transform::run(args).await,
        Command::RolloverReport(args) => commands::rollover::run(args).await,
        Command::Rerun(args) => commands::rerun::run(args).await,
        Command::Approve(args) => commands::decide::approve(args).await,
        Command::Reject(args) => commands::decide::reject(args).await,
        Command::Status(args) => commands::status::run(args).await,
        Command::DeleteEmptyCourses(args) => commands::delete_empty::run(args).await,
        Command::Rules(args) => commands::rules::run(args).await,
        Command::Rollovers(args) => commands::rollovers::run(args).await,
        Command::Doctor(args) => commands::doctor::run(args).await,
        Command::Schedule(args) => commands::schedule::run(args).await,
        Command::FullLoad(args) => commands::full_load::run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("leganto: {e}");
            std::process::ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn every_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
