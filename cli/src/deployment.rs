//! Which deployment the operating commands talk to, found as `sam deploy` finds it.
//!
//! Each setting comes from the first place that has it: a flag, then the environment,
//! then `samconfig.toml` (the environment `--config-env` names, `default` otherwise). The
//! state machine and the bucket come from the stack's outputs unless given, and the
//! library's time zone from the stack's `TimeZone` parameter.

use std::path::{Path, PathBuf};

use aws_config::SdkConfig;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use chrono_tz::Tz;
use leganto_shared::config::DEFAULT_TIME_ZONE;
use leganto_shared::ops::sdk_detail;
use leganto_shared::store::Store;

use crate::common::{Fatal, AWS_HINT};

/// The environment variables read here, beside `LEGANTO_STATE_MACHINE_ARN` and
/// `LEGANTO_BUCKET` (which clap reads).
const STACK_ENV: &str = "LEGANTO_STACK";
const REGION_ENV: &str = "AWS_REGION";
const PROFILE_ENV: &str = "AWS_PROFILE";
const TIME_ZONE_ENV: &str = leganto_shared::config::env::TIME_ZONE;

/// The file `sam deploy` reads when not given `--config-file`.
const SAMCONFIG: &str = "samconfig.toml";
/// The environment `sam deploy` uses when not given `--config-env`.
const DEFAULT_CONFIG_ENV: &str = "default";

/// Output keys and the parameter of template.yaml read here.
const STATE_MACHINE_OUTPUT: &str = "StateMachineArn";
const BUCKET_OUTPUT: &str = "BucketName";
const TIME_ZONE_PARAMETER: &str = "TimeZone";
const SCHEDULE_OUTPUT: &str = "ScheduleName";
const NO_DAY_LOADED_ALARM_OUTPUT: &str = "NoDayLoadedAlarmName";
const SCHEDULE_STATE_PARAMETER: &str = "ScheduleState";

/// Which deployment to talk to. Each setting comes from the flag, else its environment
/// variable, else samconfig.toml (as `sam deploy` reads it: --config-file, else
/// ./samconfig.toml in the current directory).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Deployment {
    /// The samconfig.toml environment whose stack_name and region to use, as
    /// `sam deploy --config-env NAME` [default: default].
    #[arg(long, value_name = "NAME")]
    config_env: Option<String>,
    /// The SAM configuration file [default: ./samconfig.toml in the current directory].
    #[arg(long, value_name = "PATH")]
    config_file: Option<PathBuf>,
    /// The deployed CloudFormation stack [env: LEGANTO_STACK; else samconfig.toml's
    /// stack_name].
    #[arg(long, value_name = "NAME")]
    stack: Option<String>,
    /// The AWS region [env: AWS_REGION; else samconfig.toml's region; else the profile's].
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// The AWS profile [env: AWS_PROFILE; else samconfig.toml's profile].
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// The run's state machine [env: LEGANTO_STATE_MACHINE_ARN; else the stack's
    /// StateMachineArn output].
    #[arg(long, env = "LEGANTO_STATE_MACHINE_ARN", hide_env = true)]
    state_machine: Option<String>,
    /// The run's bucket [env: LEGANTO_BUCKET; else the stack's BucketName output].
    #[arg(long, env = "LEGANTO_BUCKET", hide_env = true)]
    bucket: Option<String>,
    /// The library's time zone, for dates and times [default: the stack's TimeZone
    /// parameter; else TIME_ZONE; else America/Phoenix].
    #[arg(long)]
    time_zone: Option<Tz>,
}

/// The deployment, resolved.
pub struct Resolved {
    pub sdk: SdkConfig,
    pub state_machine_arn: String,
    pub bucket: String,
    pub time_zone: Tz,
    /// The stack read, when one was.
    pub stack: Option<String>,
}

impl Resolved {
    /// [`fatal`](crate::common::fatal), its commands naming the stack read.
    pub fn fatal(&self, e: leganto_shared::ops::OpsError) -> Fatal {
        crate::common::fatal(e).naming_the_stack(self.stack.as_deref())
    }

    /// `text` with its `leganto` commands naming the stack read, when one was.
    pub fn naming_the_stack(&self, text: &str) -> String {
        naming_the_stack(text, self.stack.as_deref())
    }

    pub fn store(&self) -> Store {
        Store::from_sdk_config(&self.sdk, &self.bucket)
    }

    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.sdk)
    }
}

/// `text` with its `leganto` commands naming `stack`, when one was read.
fn naming_the_stack(text: &str, stack: Option<&str>) -> String {
    match stack {
        Some(stack) => leganto_shared::next_step::naming_the_stack(text, stack),
        None => text.to_string(),
    }
}

/// The deployment with its daily schedule, for `leganto schedule`.
pub struct WithSchedule {
    pub resolved: Resolved,
    /// The EventBridge Scheduler schedule (default group).
    pub schedule_name: String,
    /// The 26-hour alarm, which exists only while the stack's `ScheduleState` is ENABLED.
    pub alarm_name: Option<String>,
    /// The stack's `ScheduleState` parameter: what a deploy sets the schedule to.
    pub schedule_state_parameter: Option<String>,
}

impl WithSchedule {
    pub fn scheduler(&self) -> aws_sdk_scheduler::Client {
        aws_sdk_scheduler::Client::new(&self.resolved.sdk)
    }
}

/// The deployment's bucket, for the commands that need no state machine.
pub struct InBucket {
    pub store: Store,
    pub sdk: SdkConfig,
    pub time_zone: Tz,
    /// The stack read, when one was.
    pub stack: Option<String>,
}

impl InBucket {
    /// [`fatal`](crate::common::fatal), its commands naming the stack read.
    pub fn fatal(&self, e: leganto_shared::ops::OpsError) -> Fatal {
        crate::common::fatal(e).naming_the_stack(self.stack.as_deref())
    }

    /// `text` with its `leganto` commands naming the stack read, when one was.
    pub fn naming_the_stack(&self, text: &str) -> String {
        naming_the_stack(text, self.stack.as_deref())
    }
}

/// What [`Deployment::find`] found.
struct Found {
    sdk: SdkConfig,
    state_machine_arn: Option<String>,
    bucket: String,
    time_zone: Tz,
    stack: Option<String>,
    facts: Option<StackFacts>,
}

impl Found {
    fn missing(&self, what: &str, flag: &str, env: &str, output: &str) -> Fatal {
        let stack = self.stack.as_deref().unwrap_or("(none)");
        Fatal::Settings(format!(
            "no {what}: pass {flag}, set {env}, or deploy stack {stack:?} with output {output}"
        ))
    }
}

/// What samconfig.toml says for one environment (`deploy` over `global`, as SAM reads it).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SamSettings {
    pub stack_name: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
}

/// The stack, region and profile, each from the first place that has it.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub stack: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
}

impl Deployment {
    pub async fn resolve(&self) -> Result<Resolved, Fatal> {
        let found = self.find(true, false).await?;
        Self::resolved(found)
    }

    fn resolved(mut found: Found) -> Result<Resolved, Fatal> {
        let Some(state_machine_arn) = found.state_machine_arn.take() else {
            return Err(found.missing(
                "state machine",
                "--state-machine ARN",
                "LEGANTO_STATE_MACHINE_ARN",
                STATE_MACHINE_OUTPUT,
            ));
        };
        Ok(Resolved {
            sdk: found.sdk,
            state_machine_arn,
            bucket: found.bucket,
            time_zone: found.time_zone,
            stack: found.stack,
        })
    }

    /// The deployment and its schedule: the stack is always read (its outputs name the
    /// schedule and the alarm, its parameters what a deploy sets the schedule to).
    pub async fn resolve_with_schedule(&self) -> Result<WithSchedule, Fatal> {
        let mut found = self.find(true, true).await?;
        let facts = found.facts.take().ok_or_else(no_stack)?;
        let Some(schedule_name) = facts.output(SCHEDULE_OUTPUT) else {
            let stack = found.stack.as_deref().unwrap_or("(none)");
            return Err(Fatal::Settings(format!(
                "stack {stack:?} has no output {SCHEDULE_OUTPUT}: deploy this version of                  template.yaml (sam build && sam deploy), then run leganto schedule again"
            )));
        };
        Ok(WithSchedule {
            alarm_name: facts.output(NO_DAY_LOADED_ALARM_OUTPUT),
            schedule_state_parameter: facts.parameter(SCHEDULE_STATE_PARAMETER),
            schedule_name,
            resolved: Self::resolved(found)?,
        })
    }

    /// The bucket alone, for commands that start no execution (`rules`): the stack is
    /// read only when `--bucket`/`LEGANTO_BUCKET` does not name it.
    pub async fn resolve_bucket(&self) -> Result<InBucket, Fatal> {
        let found = self.find(false, false).await?;
        Ok(InBucket {
            store: Store::from_sdk_config(&found.sdk, found.bucket),
            sdk: found.sdk,
            time_zone: found.time_zone,
            stack: found.stack,
        })
    }

    /// One of the stack's parameters as deployed; `None` when the stack does not have it.
    /// Needs the stack's name (--config-env, --stack or LEGANTO_STACK).
    pub async fn stack_parameter(&self, key: &str) -> Result<Option<String>, Fatal> {
        let target = self.target(|name| std::env::var(name).ok(), self.samconfig()?);
        let sdk = sdk_config(&target).await;
        let stack = target.stack.clone().ok_or_else(no_stack)?;
        Ok(describe_stack(&sdk, &stack).await?.parameter(key))
    }

    /// The settings given, completed from the stack's outputs and parameters when a wanted
    /// one is missing (always with `want_stack`).
    async fn find(&self, want_state_machine: bool, want_stack: bool) -> Result<Found, Fatal> {
        let sam = self.samconfig()?;
        let target = self.target(|name| std::env::var(name).ok(), sam);
        let sdk = sdk_config(&target).await;
        let (mut state_machine_arn, mut bucket) = (self.state_machine.clone(), self.bucket.clone());
        let mut stack_time_zone = None;
        let mut stack_read = None;
        let mut facts_read = None;
        if want_stack || (want_state_machine && state_machine_arn.is_none()) || bucket.is_none() {
            let stack = target.stack.clone().ok_or_else(no_stack)?;
            let facts = describe_stack(&sdk, &stack).await?;
            state_machine_arn = state_machine_arn.or_else(|| facts.output(STATE_MACHINE_OUTPUT));
            bucket = bucket.or_else(|| facts.output(BUCKET_OUTPUT));
            stack_time_zone = Some(facts.parameter(TIME_ZONE_PARAMETER));
            stack_read = Some(stack);
            facts_read = Some(facts);
        }
        let local = std::env::var(TIME_ZONE_ENV).ok();
        let (time_zone, note) = time_zone(self.time_zone, stack_time_zone, local);
        if let Some(note) = note {
            eprintln!("leganto: note: {note}");
        }
        let mut found = Found {
            sdk,
            state_machine_arn,
            bucket: String::new(),
            time_zone,
            stack: stack_read,
            facts: facts_read,
        };
        found.bucket = match bucket {
            Some(bucket) => bucket,
            None => {
                return Err(found.missing("bucket", "--bucket B", "LEGANTO_BUCKET", BUCKET_OUTPUT))
            }
        };
        Ok(found)
    }

    /// samconfig.toml's settings for the environment asked for. A missing file or
    /// environment is an error only when `--config-env` or `--config-file` asked for it.
    fn samconfig(&self) -> Result<SamSettings, Fatal> {
        let asked = self.config_env.is_some() || self.config_file.is_some();
        let path = self
            .config_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(SAMCONFIG));
        let env = self.config_env.as_deref().unwrap_or(DEFAULT_CONFIG_ENV);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if !asked && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(SamSettings::default())
            }
            Err(e) => {
                return Err(Fatal::Settings(format!(
                    "cannot read {} ({e}): run leganto where you run sam deploy, or pass \
                     --config-file PATH or --stack NAME",
                    shown(&path)
                )))
            }
        };
        match read_samconfig(&text, env) {
            Ok(Some(settings)) => Ok(settings),
            Ok(None) if !asked => Ok(SamSettings::default()),
            Ok(None) => Err(Fatal::Settings(format!(
                "{} has no environment {env:?} (no [{env}.global.parameters] or \
                 [{env}.deploy.parameters]): pass the --config-env that sam deploy uses",
                shown(&path)
            ))),
            Err(why) => Err(Fatal::Settings(format!(
                "cannot read {}: {why}",
                shown(&path)
            ))),
        }
    }

    /// Flag, else environment (`env`), else samconfig.toml, for each of the three.
    pub fn target(&self, env: impl Fn(&str) -> Option<String>, sam: SamSettings) -> Target {
        let pick = |flag: &Option<String>, var: &str, sam: Option<String>| {
            flag.clone()
                .or_else(|| env(var).filter(|v| !v.trim().is_empty()))
                .or(sam)
        };
        Target {
            stack: pick(&self.stack, STACK_ENV, sam.stack_name),
            region: pick(&self.region, REGION_ENV, sam.region),
            profile: pick(&self.profile, PROFILE_ENV, sam.profile),
        }
    }
}

/// The error when the stack is needed and nothing names it.
fn no_stack() -> Fatal {
    Fatal::Settings(format!(
        "no stack: run leganto where samconfig.toml is and pass --config-env NAME (as sam \
         deploy), or pass --stack NAME (env {STACK_ENV}), or --state-machine and --bucket"
    ))
}

/// A path as the messages show it, absolute when it can be.
fn shown(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_owned())
        .display()
        .to_string()
}

/// `env`'s settings in samconfig.toml's text: `[env.deploy.parameters]` over
/// `[env.global.parameters]`, as SAM reads them; `None` when the file has neither table.
pub fn read_samconfig(text: &str, env: &str) -> Result<Option<SamSettings>, String> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let parameters = |command: &str| {
        doc.get(env)
            .and_then(|t| t.get(command))
            .and_then(|t| t.get("parameters"))
            .and_then(|t| t.as_table())
    };
    let (global, deploy) = (parameters("global"), parameters("deploy"));
    if global.is_none() && deploy.is_none() {
        return Ok(None);
    }
    let setting = |key: &str| {
        [deploy, global]
            .into_iter()
            .flatten()
            .find_map(|t| t.get(key).and_then(|v| v.as_str()).map(str::to_string))
    };
    Ok(Some(SamSettings {
        stack_name: setting("stack_name"),
        region: setting("region"),
        profile: setting("profile"),
    }))
}

/// The AWS configuration for `target`'s region and profile (the SDK's own chain for what
/// it leaves out).
async fn sdk_config(target: &Target) -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(profile) = &target.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &target.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    loader.load().await
}

/// The time zone: `--time-zone`, else the stack's `TimeZone` parameter (when the stack
/// was read), else the local `TIME_ZONE`, else the template's default; with a note when
/// the stack was read but did not say.
pub fn time_zone(
    flag: Option<Tz>,
    stack: Option<Option<String>>,
    local: Option<String>,
) -> (Tz, Option<String>) {
    if let Some(tz) = flag {
        return (tz, None);
    }
    let fallback = local
        .as_deref()
        .and_then(|v| v.parse::<Tz>().ok())
        .unwrap_or(DEFAULT_TIME_ZONE);
    match stack {
        None => (fallback, None),
        Some(Some(value)) => match value.parse::<Tz>() {
            Ok(tz) => (tz, None),
            Err(_) => (
                fallback,
                Some(format!(
                    "the stack's TimeZone {value:?} is not a time zone; times are in {fallback} (pass --time-zone to choose)"
                )),
            ),
        },
        Some(None) => (
            fallback,
            Some(format!(
                "the stack has no TimeZone parameter; times are in {fallback} (TIME_ZONE, else the default; pass --time-zone to choose)"
            )),
        ),
    }
}

/// The stack's outputs and parameters as (key, value).
struct StackFacts {
    outputs: Vec<(String, String)>,
    parameters: Vec<(String, String)>,
}

impl StackFacts {
    fn output(&self, key: &str) -> Option<String> {
        find(&self.outputs, key)
    }

    fn parameter(&self, key: &str) -> Option<String> {
        find(&self.parameters, key)
    }
}

fn find(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

async fn describe_stack(sdk: &SdkConfig, stack: &str) -> Result<StackFacts, Fatal> {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let answer = cfn
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| {
            let detail = sdk_detail(&e);
            // CloudFormation answers ValidationError for a stack that does not exist: a
            // wrong name or region, not a failing service.
            if e.code() == Some("ValidationError") {
                Fatal::Settings(format!(
                    "cannot read the outputs of stack {stack:?} ({detail}): pass --config-env \
                     or --stack with the deployed stack's name and --region with its region, \
                     or --state-machine and --bucket"
                ))
            } else {
                Fatal::Aws(format!(
                    "AWS: CloudFormation DescribeStacks failed for stack {stack:?} ({detail}): \
                     {AWS_HINT}, or pass --state-machine and --bucket"
                ))
            }
        })?;
    let stacks = answer.stacks();
    Ok(StackFacts {
        outputs: stacks
            .iter()
            .flat_map(|s| s.outputs())
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect(),
        parameters: stacks
            .iter()
            .flat_map(|s| s.parameters())
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_string(),
                    p.parameter_value()?.to_string(),
                ))
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMCONFIG_TEXT: &str = r#"
version = 0.1
[default.build.parameters]
cached = true

[prod.global.parameters]
stack_name = "leganto-prod"

[prod.deploy.parameters]
region = "us-west-2"

[dev.global.parameters]
stack_name = "leganto-dev"
region = "us-east-1"

[dev.deploy.parameters]
stack_name = "leganto-dev-2"
profile = "library-dev"
"#;

    fn sam(stack: &str, region: &str) -> SamSettings {
        SamSettings {
            stack_name: Some(stack.into()),
            region: Some(region.into()),
            profile: None,
        }
    }

    #[test]
    fn samconfig_gives_the_environment_stack_name_and_region() {
        let prod = read_samconfig(SAMCONFIG_TEXT, "prod").unwrap();
        assert_eq!(prod, Some(sam("leganto-prod", "us-west-2")));
    }

    #[test]
    fn samconfig_deploy_parameters_win_over_global_as_in_sam() {
        let dev = read_samconfig(SAMCONFIG_TEXT, "dev").unwrap().unwrap();
        assert_eq!(dev.stack_name.as_deref(), Some("leganto-dev-2"));
        assert_eq!(dev.region.as_deref(), Some("us-east-1"));
        assert_eq!(dev.profile.as_deref(), Some("library-dev"));
    }

    #[test]
    fn an_environment_with_only_build_parameters_names_no_deployment() {
        assert_eq!(read_samconfig(SAMCONFIG_TEXT, "default").unwrap(), None);
        assert_eq!(read_samconfig(SAMCONFIG_TEXT, "staging").unwrap(), None);
    }

    #[test]
    fn a_broken_samconfig_says_why() {
        assert!(read_samconfig("[prod.global.parameters\n", "prod").is_err());
    }

    #[test]
    fn the_repository_samconfig_names_prod_and_dev() {
        let text = include_str!("../../samconfig.toml");
        let prod = read_samconfig(text, "prod").unwrap().unwrap();
        assert_eq!(prod.stack_name.as_deref(), Some("leganto-prod"));
        assert!(prod.region.is_some());
        let dev = read_samconfig(text, "dev").unwrap().unwrap();
        assert_eq!(dev.stack_name.as_deref(), Some("leganto-dev"));
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_flag_wins_over_the_environment_and_the_environment_over_samconfig() {
        let flags = Deployment {
            stack: Some("from-flag".into()),
            ..Deployment::default()
        };
        let env = env_of(&[("LEGANTO_STACK", "from-env"), ("AWS_REGION", "eu-west-1")]);
        let target = flags.target(env, sam("from-samconfig", "us-west-2"));
        assert_eq!(target.stack.as_deref(), Some("from-flag"));
        assert_eq!(target.region.as_deref(), Some("eu-west-1"));

        let target = Deployment::default().target(env_of(&[]), sam("from-samconfig", "us-west-2"));
        assert_eq!(target.stack.as_deref(), Some("from-samconfig"));
        assert_eq!(target.region.as_deref(), Some("us-west-2"));
        assert_eq!(target.profile, None);
    }

    #[test]
    fn an_empty_environment_variable_does_not_hide_samconfig() {
        let target = Deployment::default().target(
            env_of(&[("LEGANTO_STACK", " ")]),
            sam("from-samconfig", "us-west-2"),
        );
        assert_eq!(target.stack.as_deref(), Some("from-samconfig"));
    }

    #[test]
    fn the_time_zone_is_the_flag_else_the_stack_else_the_local_one_with_a_note() {
        let phoenix = chrono_tz::America::Phoenix;
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            time_zone(Some(berlin), Some(Some("America/Phoenix".into())), None),
            (berlin, None)
        );
        assert_eq!(
            time_zone(None, Some(Some("Europe/Berlin".into())), Some("UTC".into())),
            (berlin, None)
        );
        let (tz, note) = time_zone(None, Some(None), Some("Europe/Berlin".into()));
        assert_eq!(tz, berlin);
        assert!(note.unwrap().contains("no TimeZone parameter"));
        assert_eq!(time_zone(None, None, None), (phoenix, None));
    }
}
