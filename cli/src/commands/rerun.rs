//! `leganto rerun`: start the daily run again for a date from a stage (optionally a dry
//! run), after checking S3 holds what that stage needs; `--wait` follows it to the end.
//! Also where the deployment (state machine, bucket) is found for `status`.

use std::time::Duration;

use aws_config::SdkConfig;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use leganto_shared::ops::rerun::{self, RerunRequest, Step};
use leganto_shared::ops::{error_chain, sdk_detail, OpsError};
use leganto_shared::store::Store;

use crate::common::{self, Fatal};

/// Which deployment to talk to: flags, else the environment, else the stack's outputs.
#[derive(clap::Args, Debug, Clone)]
pub struct Deployment {
    /// The run's state machine [env: LEGANTO_STATE_MACHINE_ARN; else the stack's
    /// StateMachineArn output].
    #[arg(long, env = "LEGANTO_STATE_MACHINE_ARN", hide_env = true)]
    state_machine: Option<String>,
    /// The run's bucket [env: LEGANTO_BUCKET; else the stack's BucketName output].
    #[arg(long, env = "LEGANTO_BUCKET", hide_env = true)]
    bucket: Option<String>,
    /// The deployed CloudFormation stack, read when the above are not given.
    #[arg(
        long,
        env = "LEGANTO_STACK",
        hide_env_values = true,
        default_value = "leganto"
    )]
    stack: String,
    /// The library's time zone, for dates and times [env: TIME_ZONE; else the rules'].
    #[arg(long, env = "TIME_ZONE", hide_env = true)]
    time_zone: Option<Tz>,
}

/// The deployment, resolved.
pub struct Resolved {
    pub sdk: SdkConfig,
    pub state_machine_arn: String,
    pub bucket: String,
    pub time_zone: Tz,
}

/// Output keys of template.yaml's `Outputs`.
const STATE_MACHINE_OUTPUT: &str = "StateMachineArn";
const BUCKET_OUTPUT: &str = "BucketName";

impl Deployment {
    pub async fn resolve(&self) -> Result<Resolved, Fatal> {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let (mut state_machine_arn, mut bucket) = (self.state_machine.clone(), self.bucket.clone());
        if state_machine_arn.is_none() || bucket.is_none() {
            let outputs = stack_outputs(&sdk, &self.stack).await?;
            let find = |key: &str| {
                outputs
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            };
            state_machine_arn = state_machine_arn.or_else(|| find(STATE_MACHINE_OUTPUT));
            bucket = bucket.or_else(|| find(BUCKET_OUTPUT));
        }
        let missing = |what: &str, flag: &str, env: &str, output: &str| {
            Fatal::Settings(format!(
                "no {what}: pass {flag}, set {env}, or deploy stack {:?} with output {output}",
                self.stack
            ))
        };
        let state_machine_arn = state_machine_arn.ok_or_else(|| {
            missing(
                "state machine",
                "--state-machine ARN",
                "LEGANTO_STATE_MACHINE_ARN",
                STATE_MACHINE_OUTPUT,
            )
        })?;
        let bucket = bucket
            .ok_or_else(|| missing("bucket", "--bucket B", "LEGANTO_BUCKET", BUCKET_OUTPUT))?;
        let time_zone = match self.time_zone {
            Some(tz) => tz,
            None => common::load_rules(None)?.time_zone(),
        };
        Ok(Resolved {
            sdk,
            state_machine_arn,
            bucket,
            time_zone,
        })
    }
}

impl Resolved {
    pub fn store(&self) -> Store {
        Store::from_sdk_config(&self.sdk, &self.bucket)
    }

    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.sdk)
    }
}

/// The stack's outputs as (key, value).
async fn stack_outputs(sdk: &SdkConfig, stack: &str) -> Result<Vec<(String, String)>, Fatal> {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let answer = cfn
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| {
            Fatal::Settings(format!(
                "cannot read the outputs of stack {stack:?} ({}): pass --state-machine and \
                 --bucket, or --stack with the deployed stack's name",
                sdk_detail(&e)
            ))
        })?;
    Ok(answer
        .stacks()
        .iter()
        .flat_map(|s| s.outputs())
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect())
}

/// An operating failure as the command reports it.
pub fn fatal(e: OpsError) -> Fatal {
    match e {
        OpsError::UnknownStage { .. } => Fatal::Settings(e.to_string()),
        OpsError::ArtefactMissing { .. } => Fatal::Input(e.to_string()),
        OpsError::Alma(_) => Fatal::Alma(e.to_string()),
        // Step Functions' message already carries AWS's code and message.
        OpsError::StepFunctions { .. } => Fatal::Output(format!("AWS: {e}")),
        // The S3 failure says which call and key; its causes say why.
        OpsError::Store(_) => Fatal::Output(format!("AWS: {}", error_chain(&e))),
    }
}

/// `2026-11-28 09:20:05 MST`
pub fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

#[derive(clap::Args)]
pub struct Args {
    /// The day to rerun (YYYY-MM-DD, in the library's time zone).
    #[arg(long)]
    run_date: NaiveDate,
    /// The stage to start at: pull, transform, push, wait_for_alma or rollover_report.
    #[arg(long = "from", value_name = "STAGE")]
    from: String,
    /// Compute and store everything, push nothing to Alma and send no e-mail.
    #[arg(long)]
    dry_run: bool,
    /// Follow the execution state by state; exit non-zero unless it succeeds.
    #[arg(long)]
    wait: bool,
    /// Seconds between looks at the execution while waiting.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    poll_seconds: u64,
    #[command(flatten)]
    deployment: Deployment,
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    // The stage first: a typo needs no AWS call to be refused.
    let start_at = rerun::parse_stage(&args.from).map_err(fatal)?;
    let request = RerunRequest {
        run_date: args.run_date,
        start_at,
        dry_run: args.dry_run,
    };
    let deployment = args.deployment.resolve().await?;
    let found = rerun::check_artefacts(&deployment.store(), &request)
        .await
        .map_err(fatal)?;
    let sfn = deployment.sfn();
    let started = rerun::start(&sfn, &deployment.state_machine_arn, &request, Utc::now())
        .await
        .map_err(fatal)?;
    println!("Started {}", started.name);
    println!("  input      {}", started.input);
    for key in &found {
        println!("  uses       s3://{}/{key}", deployment.bucket);
    }
    println!("  execution  {}", started.execution_arn);
    if let Some(url) = &started.console_url {
        println!("  console    {url}");
    }
    if !args.wait {
        return Ok(());
    }

    let tz = deployment.time_zone;
    let outcome = rerun::follow(
        &sfn,
        &started.execution_arn,
        Duration::from_secs(args.poll_seconds),
        |step: &Step| println!("{}  {}", local_time(step.at, tz), step.what),
    )
    .await
    .map_err(fatal)?;
    if outcome.succeeded() {
        println!("Execution {} {}", started.name, outcome.status);
        return Ok(());
    }
    let error = outcome.error.as_deref().unwrap_or("no error name");
    let cause = outcome
        .cause
        .as_deref()
        .map(rerun::readable_cause)
        .unwrap_or_default();
    Err(Fatal::Output(format!(
        "execution {} {}: {error}: {cause}",
        started.name, outcome.status
    )))
}
