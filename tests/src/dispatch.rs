//! Which step a Lambda function name means, and running it: what AWS does by deploying one
//! binary per function, the local Lambda host and the step tests do by name.

use leganto_shared::steps::{
    self, cache_courses, check_hold, check_job, email_report, notify_slack, plan, pull, push,
    release, rollover_report, transform, StepContext, StepError,
};
use serde_json::Value;

/// One Lambda per step; the names follow the folder: `functions/check-job` =
/// package `leganto-check-job` = SAM `CheckJobFunction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Plan,
    Pull,
    Transform,
    Push,
    CheckHold,
    CheckJob,
    CacheCourses,
    RolloverReport,
    EmailReport,
    NotifySlack,
    Release,
}

impl Step {
    pub const ALL: [Step; 11] = [
        Step::Plan,
        Step::Pull,
        Step::Transform,
        Step::Push,
        Step::CheckHold,
        Step::CheckJob,
        Step::CacheCourses,
        Step::RolloverReport,
        Step::EmailReport,
        Step::NotifySlack,
        Step::Release,
    ];

    /// The folder name: `plan`, `check-job`, ...
    pub fn name(self) -> &'static str {
        match self {
            Step::Plan => "plan",
            Step::Pull => "pull",
            Step::Transform => "transform",
            Step::Push => "push",
            Step::CheckHold => "check-hold",
            Step::CheckJob => "check-job",
            Step::CacheCourses => "cache-courses",
            Step::RolloverReport => "rollover-report",
            Step::EmailReport => "email-report",
            Step::NotifySlack => "notify-slack",
            Step::Release => "release",
        }
    }

    /// The SAM logical id: `PlanFunction`, `CheckJobFunction`, ...
    pub fn sam_name(self) -> &'static str {
        match self {
            Step::Plan => "PlanFunction",
            Step::Pull => "PullFunction",
            Step::Transform => "TransformFunction",
            Step::Push => "PushFunction",
            Step::CheckHold => "CheckHoldFunction",
            Step::CheckJob => "CheckJobFunction",
            Step::CacheCourses => "CacheCoursesFunction",
            Step::RolloverReport => "RolloverReportFunction",
            Step::EmailReport => "EmailReportFunction",
            Step::NotifySlack => "NotifySlackFunction",
            Step::Release => "ReleaseFunction",
        }
    }

    /// The step a Lambda function name or ARN refers to: `plan`, `leganto-plan`,
    /// `PlanFunction`, `arn:aws:lambda:…:function:leganto-PlanFunction-1X2Y3Z[:alias]`.
    pub fn from_function_name(name: &str) -> Option<Step> {
        let name = name.trim();
        // arn:aws:lambda:region:account:function:NAME[:qualifier]
        let name = match name.split(':').collect::<Vec<_>>().as_slice() {
            ["arn", _, "lambda", _, _, "function", function, ..] => *function,
            _ => name,
        };
        let squash = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .collect()
        };
        let plain = squash(name.strip_prefix("leganto-").unwrap_or(name));
        if let Some(step) = Step::ALL.into_iter().find(|s| squash(s.name()) == plain) {
            return Some(step);
        }
        // SAM names functions `<stack>-PlanFunction-<suffix>`; the longest match wins so
        // `CheckJobFunction` is never read as something shorter.
        let whole = squash(name);
        Step::ALL
            .into_iter()
            .filter(|s| whole.contains(&squash(s.sam_name())))
            .max_by_key(|s| s.sam_name().len())
    }

    /// Runs this step on a JSON payload, as its Lambda does.
    pub async fn run(self, ctx: &StepContext, payload: Value) -> Result<Value, StepError> {
        let name = self.name();
        match self {
            Step::Plan => steps::handle(ctx, name, payload, plan::run).await,
            Step::Pull => steps::handle(ctx, name, payload, pull::run).await,
            Step::Transform => steps::handle(ctx, name, payload, transform::run).await,
            Step::Push => steps::handle(ctx, name, payload, push::run).await,
            Step::CheckHold => steps::handle(ctx, name, payload, check_hold::run).await,
            Step::CheckJob => steps::handle(ctx, name, payload, check_job::run).await,
            Step::CacheCourses => steps::handle(ctx, name, payload, cache_courses::run).await,
            Step::RolloverReport => steps::handle(ctx, name, payload, rollover_report::run).await,
            Step::EmailReport => steps::handle(ctx, name, payload, email_report::run).await,
            Step::NotifySlack => steps::handle(ctx, name, payload, notify_slack::run_value).await,
            Step::Release => steps::handle(ctx, name, payload, release::run).await,
        }
    }
}

/// Runs the step a Lambda function name or ARN names (see [`Step::from_function_name`]);
/// a name that means no step is `InvalidInput`.
pub async fn invoke(
    ctx: &StepContext,
    function_name: &str,
    payload: Value,
) -> Result<Value, StepError> {
    match Step::from_function_name(function_name) {
        Some(step) => step.run(ctx, payload).await,
        None => Err(StepError::invalid_input(format!(
            "no step is called {function_name:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_in_every_form_find_their_step() {
        for step in Step::ALL {
            assert_eq!(Step::from_function_name(step.name()), Some(step));
            assert_eq!(
                Step::from_function_name(&format!("leganto-{}", step.name())),
                Some(step)
            );
            assert_eq!(Step::from_function_name(step.sam_name()), Some(step));
            let arn = format!(
                "arn:aws:lambda:us-west-2:123456789012:function:leganto-{}-AbC123:live",
                step.sam_name()
            );
            assert_eq!(Step::from_function_name(&arn), Some(step), "{arn}");
            let arn = format!(
                "arn:aws:lambda:us-east-1:123456789012:function:leganto-{}",
                step.name()
            );
            assert_eq!(Step::from_function_name(&arn), Some(step), "{arn}");
        }
        assert_eq!(Step::from_function_name("deploy"), None);
        assert_eq!(Step::from_function_name(""), None);
    }
}
