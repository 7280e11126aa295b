//! Preflight: execution input `{"preflight": true}` runs these checks instead of the day.
//! Each function checks the peers it uses in a real run, with its own role and settings:
//! Pull the CEM SFTP server, Push Alma's SFTP server, CheckJob the Alma API, EmailReport
//! the SES sender, NotifySlack the webhook. A check that fails is an answer, not an error:
//! the step returns every check it made, so one bad peer never hides the others. Nothing
//! is pushed, deleted or mailed.

use serde_json::Value;

use super::{StepContext, StepError};
use crate::error::ErrorName as _;
pub use crate::run::preflight::{advice, checklist, Check, PreflightOutput};

/// Whether a step's event asks for its preflight rather than its work.
pub fn asked(payload: &Value) -> bool {
    payload.get("preflight") == Some(&Value::Bool(true))
}

/// The preflight of the step named `name` (its folder name); a step that reaches no peer
/// of its own has none.
pub async fn run(ctx: &StepContext, name: &'static str) -> Result<PreflightOutput, StepError> {
    // A secret fixed a minute ago must count, whatever this warm Lambda kept.
    ctx.forget_secrets().await;
    let checks = match name {
        #[cfg(feature = "sftp")]
        "pull" => cem_sftp(ctx).await,
        #[cfg(feature = "sftp")]
        "push" => alma_sftp(ctx).await,
        "check-job" => alma_api(ctx).await,
        "email-report" => ses_sender(ctx).await,
        "notify-slack" => slack_webhook(ctx).await,
        _ => {
            return Err(StepError::InvalidInput {
                message: format!("{name} has no preflight checks"),
                source: None,
            })
        }
    };
    for check in &checks {
        tracing::info!(
            check = %check.check,
            ok = check.ok,
            detail = %check.detail,
            "preflight check"
        );
    }
    Ok(PreflightOutput {
        step: name.to_string(),
        checks,
    })
}

/// A failed check from the error the real run would have raised there: its message
/// (which names fields and hosts, never a secret's value) and what to do about it.
fn failed_with(check: &str, err: &StepError) -> Check {
    Check::failed(check, err.message(), advice(err.error_name()))
}

/// Pull's peer: the CEM SFTP server reachable, its host key the pinned one, the login
/// working, the directory listable.
#[cfg(feature = "sftp")]
async fn cem_sftp(ctx: &StepContext) -> Vec<Check> {
    const SECRET: &str = "CEM SFTP secret";
    const SERVER: &str = "CEM SFTP server";
    let sftp = match ctx.cem_sftp().await {
        Ok(sftp) => sftp,
        Err(e) => return vec![failed_with(SECRET, &e), Check::not_tried(SERVER, SECRET)],
    };
    let mut checks = vec![Check::passed(
        SECRET,
        "every field is present and filled in",
    )];
    let login = sftp.login();
    let at = format!("{}:{} {}", login.host, login.port, login.directory);
    checks.push(match sftp.list().await {
        Ok(files) => Check::passed(
            SERVER,
            format!(
                "{at}: the host key matches, the login works, {} files listed",
                files.len()
            ),
        ),
        Err(e) => failed_with(SERVER, &e.into()),
    });
    checks
}

/// Push's peer: Alma's SFTP server as for the CEM one, and the directory writable (a
/// dotfile written and removed, which the loader never takes).
#[cfg(feature = "sftp")]
async fn alma_sftp(ctx: &StepContext) -> Vec<Check> {
    const SECRET: &str = "Alma SFTP secret";
    const SERVER: &str = "Alma SFTP server";
    const WRITABLE: &str = "Alma SFTP directory writable";
    let sftp = match ctx.alma_sftp().await {
        Ok(sftp) => sftp,
        Err(e) => {
            return vec![
                failed_with(SECRET, &e),
                Check::not_tried(SERVER, SECRET),
                Check::not_tried(WRITABLE, SECRET),
            ]
        }
    };
    let mut checks = vec![Check::passed(
        SECRET,
        "every field is present and filled in",
    )];
    let login = sftp.login();
    let at = format!("{}:{} {}", login.host, login.port, login.directory);
    match sftp.list().await {
        Ok(files) => checks.push(Check::passed(
            SERVER,
            format!(
                "{at}: the host key matches, the login works, {} files listed",
                files.len()
            ),
        )),
        Err(e) => {
            checks.push(failed_with(SERVER, &e.into()));
            checks.push(Check::not_tried(WRITABLE, SERVER));
            return checks;
        }
    }
    let name = format!(".leganto-preflight-{}.part", ctx.now().timestamp_millis());
    checks.push(match sftp.write_and_remove(&name).await {
        Ok(()) => Check::passed(WRITABLE, format!("wrote and removed {name} in {at}")),
        Err(e) => failed_with(WRITABLE, &e.into()),
    });
    checks
}

/// CheckJob's peer: the Alma API key valid for the Courses API (read) at the configured
/// gateway, the quota header read, and the course loader job found through the jobs API.
async fn alma_api(ctx: &StepContext) -> Vec<Check> {
    const SECRET: &str = "Alma API key secret";
    const COURSES: &str = "Alma Courses API";
    const QUOTA: &str = "Alma API quota";
    const JOB: &str = "Alma course loader job";
    let alma = match ctx
        .alma_for(crate::run::alma_rate::AlmaCaller::CheckJob)
        .await
    {
        Ok(alma) => alma,
        Err(e) => {
            return vec![
                failed_with(SECRET, &e),
                Check::not_tried(COURSES, SECRET),
                Check::not_tried(QUOTA, SECRET),
                Check::not_tried(JOB, SECRET),
            ]
        }
    };
    let base = &ctx.config.alma.base_url;
    let mut checks = vec![Check::passed(SECRET, "the key is present and filled in")];
    match alma.search_courses("code~leganto-preflight", 1, 0).await {
        Ok(_) => checks.push(Check::passed(
            COURSES,
            format!("{base} accepts the key for reading courses"),
        )),
        Err(e) => {
            checks.push(failed_with(COURSES, &e.into()));
            checks.push(Check::not_tried(QUOTA, COURSES));
            checks.push(Check::not_tried(JOB, COURSES));
            return checks;
        }
    }
    checks.push(match alma.last_remaining() {
        Some(left) => Check::passed(QUOTA, format!("{left} API calls left today")),
        None => Check::failed(
            QUOTA,
            format!("{base} sent no X-Exl-Api-Remaining header"),
            "Set AlmaBaseUrl to your region's Alma API gateway (https://api-<region>.hosted.exlibrisgroup.com) and redeploy, then run `leganto doctor` again.",
        ),
    });
    checks.push(loader_job(ctx, &alma).await);
    checks
}

/// Where the course loader's profile id is in Alma, for the "what to do" of its checks.
const PROFILE_ID_WHERE: &str = "the ID of the Course Loader integration profile in Alma's Configuration Menu > General > External Systems > Integration Profiles; docs/deploy.md, \"The Alma ids\"";

/// The course loader job, found from the integration profile as the run finds it
/// (`AlmaLoaderJobId`, when set, overrides it). The profile id is required: without a job
/// to watch, a day is judged by a fixed wait, not by Alma.
async fn loader_job(ctx: &StepContext, alma: &crate::alma::AlmaClient) -> Check {
    const JOB: &str = "Alma course loader job";
    let Some(profile) = &ctx.config.alma.loader_profile_id else {
        return Check::failed(
            JOB,
            "AlmaLoaderProfileId is not set: the run cannot find the course loader job to watch",
            format!("Set AlmaLoaderProfileId ({PROFILE_ID_WHERE}) in samconfig.toml's parameter_overrides and run sam deploy, then run `leganto doctor` again."),
        );
    };
    if let Some(id) = &ctx.config.alma.loader_job_id {
        let since = ctx.now().date_naive() - chrono::Duration::days(1);
        return match alma.job_instances(id, since).await {
            Ok(runs) => Check::passed(
                JOB,
                format!(
                    "the jobs API knows job {id} ({} runs since {since}); AlmaLoaderJobId overrides profile {profile}'s job",
                    runs.len()
                ),
            ),
            Err(e) => failed_with(JOB, &e.into()),
        };
    }
    match alma.find_scheduled_job(profile).await {
        Ok(Some(job)) => Check::passed(
            JOB,
            format!("profile {profile} has the scheduled job {}", job.id),
        ),
        Ok(None) => Check::failed(
            JOB,
            format!("Alma has no scheduled job for the integration profile {profile}"),
            format!("Check AlmaLoaderProfileId is the course loader's profile ({PROFILE_ID_WHERE}) and that the profile is scheduled (its Actions tab), redeploy, then run `leganto doctor` again."),
        ),
        Err(e) => failed_with(JOB, &e.into()),
    }
}

/// SES's mailbox simulator: accepts a message and delivers it to nobody, without counting
/// against the account's quota or reputation.
pub const SES_SIMULATOR: &str = "success@simulator.amazonses.com";

/// EmailReport's peer: SES sends as the configured sender (verified, the account able to
/// send, the role allowed to), tried with a message to [`SES_SIMULATOR`], never to the
/// report's recipients.
async fn ses_sender(ctx: &StepContext) -> Vec<Check> {
    const SENDER: &str = "SES sender";
    let sender = ctx.config.email.from.as_str();
    let raw = format!(
        "From: {sender}\r\nTo: {SES_SIMULATOR}\r\nSubject: leganto preflight\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         A preflight check of the sender; SES's mailbox simulator discards it.\r\n"
    );
    let sent = crate::email::send_raw(
        &ctx.ses,
        sender,
        &[SES_SIMULATOR.to_string()],
        raw.into_bytes(),
    )
    .await;
    let check = match sent {
        Ok(_) => Check::passed(
            SENDER,
            format!("SES sent as {sender} to its mailbox simulator"),
        ),
        Err(e) => Check::failed(
            SENDER,
            format!(
                "SES did not send as {sender} to its mailbox simulator: {}",
                std::error::Error::source(&e).map_or_else(|| e.to_string(), crate::error::error_chain)
            ),
            format!(
                "Verify {sender} (or its domain) in SES in this stack's region, and ask AWS to move the account out of the SES sandbox, then run `leganto doctor` again."
            ),
        ),
    };
    vec![check]
}

/// NotifySlack's peer: the webhook live (an empty post, which Slack refuses unposted).
async fn slack_webhook(ctx: &StepContext) -> Vec<Check> {
    const SECRET: &str = "Slack webhook secret";
    const WEBHOOK: &str = "Slack webhook";
    let slack = match ctx.slack().await {
        Ok(slack) => slack,
        Err(e) => return vec![failed_with(SECRET, &e), Check::not_tried(WEBHOOK, SECRET)],
    };
    let check = match slack.probe().await {
        Ok(()) => Check::passed(WEBHOOK, "the webhook answers (nothing was posted)"),
        Err(e) => Check::failed(WEBHOOK, e.to_string(), advice("SlackFailed")),
    };
    vec![
        Check::passed(SECRET, "the webhook URL is present and filled in"),
        check,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_true_preflight_field_asks_for_the_checks() {
        assert!(asked(&serde_json::json!({"preflight": true})));
        assert!(!asked(&serde_json::json!({"preflight": "true"})));
        assert!(!asked(
            &serde_json::json!({"run": {"run_date": "2026-11-28"}})
        ));
    }

    #[test]
    fn the_advice_ends_in_another_preflight_instead_of_a_rerun() {
        assert_eq!(
            advice("HostKeyMismatch"),
            "The SFTP server's host key is not the one pinned in its secret: confirm the new \
             key with the server's administrators, add its SHA-256 fingerprint to \
             host_key_sha256, then run `leganto doctor` again."
        );
        assert_eq!(
            advice("States.Timeout"),
            "Open the execution in the Step Functions console, read the failed state's error, \
             then run `leganto doctor` again."
        );
    }

    #[test]
    fn the_checklist_reads_each_functions_checks_and_names_a_function_that_failed() {
        let output = serde_json::json!({"preflight": [
            {"step": "pull", "checks": [
                {"check": "CEM SFTP server", "ok": true, "detail": "listed", "what_to_do": ""}]},
            {"step": "push", "error": "SecretsUnavailable", "cause": "denied"},
        ]});
        let checks = checklist(&output);
        assert_eq!(checks.len(), 2);
        assert!(checks[0].ok);
        assert_eq!(checks[1].check, "the push function");
        assert!(!checks[1].ok);
        assert_eq!(
            checks[1].detail,
            "it failed with SecretsUnavailable: denied"
        );
        assert!(checks[1]
            .what_to_do
            .starts_with("Secrets Manager could not be read"));
    }
}
