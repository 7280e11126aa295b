//! `leganto schedule on|off|show`: the daily schedule, turned on only after a preflight
//! (`leganto doctor`) passed every check within the last hour.

use chrono::Utc;
use leganto_shared::ops::schedule::{self, Schedule, PREFLIGHT_FRESH_FOR};

use crate::common::{local_time, Deployment, Fatal};
use crate::deployment::WithSchedule;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Turn the daily run on; refused unless `leganto doctor` passed every check within
    /// the last hour.
    On(Target),
    /// Turn the daily run off (always allowed).
    Off(Target),
    /// Whether the daily run is on, its time and time zone, and its next start.
    Show(Target),
}

#[derive(clap::Args)]
struct Target {
    #[command(flatten)]
    deployment: Deployment,
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    match args.action {
        Action::On(target) => on(target).await,
        Action::Off(target) => off(target).await,
        Action::Show(target) => show(target).await,
    }
}

async fn on(target: Target) -> Result<(), Fatal> {
    let deployment = target.deployment.resolve_with_schedule().await?;
    let sfn = deployment.resolved.sfn();
    let now = Utc::now();
    let recent = schedule::preflights_since(
        &sfn,
        &deployment.resolved.state_machine_arn,
        now - PREFLIGHT_FRESH_FOR,
    )
    .await
    .map_err(|e| deployment.resolved.fatal(e))?;
    let latest = match schedule::latest_recent_preflight(&recent, now) {
        Some(run) => Some((
            run,
            schedule::outcome_of(&sfn, &run.execution_arn)
                .await
                .map_err(|e| deployment.resolved.fatal(e))?,
        )),
        None => None,
    };
    if let Some(why) = schedule::refusal(latest.as_ref().map(|(r, o)| (*r, o)), now) {
        return Err(Fatal::Settings(format!("the schedule stays off: {why}")));
    }
    if let Some((run, _)) = &latest {
        println!("Preflight {} passed every check", run.name);
    }
    switch(&deployment, true).await
}

async fn off(target: Target) -> Result<(), Fatal> {
    let deployment = target.deployment.resolve_with_schedule().await?;
    switch(&deployment, false).await
}

/// Turns the schedule on or off, then shows it.
async fn switch(deployment: &WithSchedule, enabled: bool) -> Result<(), Fatal> {
    let scheduler = deployment.scheduler();
    let schedule = schedule::set_enabled(&scheduler, &deployment.schedule_name, enabled)
        .await
        .map_err(|e| deployment.resolved.fatal(e))?;
    println!(
        "Turned the daily schedule {}",
        if enabled { "on" } else { "off" }
    );
    print_schedule(deployment, &schedule);
    Ok(())
}

async fn show(target: Target) -> Result<(), Fatal> {
    let deployment = target.deployment.resolve_with_schedule().await?;
    let schedule = schedule::read(&deployment.scheduler(), &deployment.schedule_name)
        .await
        .map_err(|e| deployment.resolved.fatal(e))?;
    print_schedule(&deployment, &schedule);
    Ok(())
}

fn print_schedule(deployment: &WithSchedule, schedule: &Schedule) {
    let tz = deployment.resolved.time_zone;
    let state = if schedule.enabled { "on" } else { "off" };
    println!("Schedule {}: {state}", schedule.name);
    let time = schedule.daily_time().map_or_else(
        || "not a daily time".to_string(),
        |t| format!("{} every day", t.format("%H:%M")),
    );
    println!(
        "  time        {time}, {} ({})",
        schedule.time_zone, schedule.expression
    );
    match schedule.next_start(Utc::now(), tz) {
        Some(next) => println!("  next start  {}", local_time(next.with_timezone(&Utc), tz)),
        None => println!("  next start  none while it is off (leganto schedule on)"),
    }
    match &deployment.alarm_name {
        Some(alarm) => println!("  alarm       {alarm} (no day loaded in 26 hours)"),
        None => println!(
            "  alarm       none: the 26-hour alarm comes with ScheduleState=ENABLED (set it once a day has loaded, then sam deploy)"
        ),
    }
    if let Some(note) = drift_note(
        schedule.enabled,
        deployment.schedule_state_parameter.as_deref(),
    ) {
        println!("  note        {note}");
    }
}

/// What a later `sam deploy` does to a schedule turned on or off here: CloudFormation sets
/// it back to the stack's `ScheduleState` whenever it updates the schedule.
fn drift_note(enabled: bool, parameter: Option<&str>) -> Option<String> {
    let wanted = if enabled { "ENABLED" } else { "DISABLED" };
    let parameter = parameter?;
    if parameter == wanted {
        return None;
    }
    let keep = if enabled {
        "once a day has loaded, then sam deploy, to keep it on (that also adds the 26-hour alarm)"
    } else {
        "and sam deploy to keep it off"
    };
    Some(format!(
        "the stack's ScheduleState is {parameter}: a sam deploy that changes the schedule \
         sets it back to {parameter}; put \"ScheduleState={wanted}\" in samconfig.toml's \
         parameter_overrides {keep}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_that_differs_from_the_stack_parameter_says_what_a_deploy_does() {
        let note = drift_note(true, Some("DISABLED")).unwrap();
        assert!(note.contains("sets it back to DISABLED"), "{note}");
        assert!(note.contains("\"ScheduleState=ENABLED\""), "{note}");
        assert_eq!(drift_note(true, Some("ENABLED")), None);
        assert_eq!(drift_note(false, Some("DISABLED")), None);
        assert_eq!(drift_note(false, None), None);
    }
}
