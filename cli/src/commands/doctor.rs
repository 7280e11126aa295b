//! `leganto doctor`: run the deployed stack's preflight checks from inside AWS (secrets,
//! SFTP servers, Alma API, SES sender, Slack webhook), wait, and print the checklist; exit
//! non-zero when any check fails.

use std::time::Duration;

use chrono::Utc;
use leganto_shared::ops::{preflight, rerun};

use crate::common::{Deployment, Fatal};

#[derive(clap::Args)]
pub struct Args {
    /// Seconds between looks at the execution while waiting.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    poll_seconds: u64,
    #[command(flatten)]
    deployment: Deployment,
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    let deployment = args.deployment.resolve().await?;
    let sfn = deployment.sfn();
    let started = preflight::start(&sfn, &deployment.state_machine_arn, Utc::now())
        .await
        .map_err(|e| deployment.fatal(e))?;
    println!("Started {}", started.name);
    if let Some(url) = &started.console_url {
        println!("  console    {url}");
    }
    let outcome = rerun::follow(
        &sfn,
        &started.execution_arn,
        Duration::from_secs(args.poll_seconds),
        |_| {},
    )
    .await
    .map_err(|e| deployment.fatal(e))?;
    let checks = preflight::checklist(&outcome);
    for check in &checks {
        let mark = if check.ok { "ok  " } else { "FAIL" };
        println!("{mark}  {}: {}", check.check, check.detail);
        if !check.ok {
            let what_to_do = deployment.naming_the_stack(&check.what_to_do);
            println!("      what to do: {what_to_do}");
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed == 0 {
        println!("All {} checks passed", checks.len());
        return Ok(());
    }
    Err(Fatal::Settings(format!(
        "{failed} of {} preflight checks failed; fix each as its \"what to do\" says, then run leganto doctor again",
        checks.len()
    ))
    .naming_the_stack(deployment.stack.as_deref()))
}
