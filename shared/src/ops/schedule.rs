//! `leganto schedule on|off|show`: the daily schedule (the template's EventBridge Scheduler
//! schedule).
//!
//! Turning the schedule on is refused unless a preflight (`leganto doctor`) passed every
//! check within the last hour: the first morning runs with secrets, peers and Alma ids
//! that were just seen to work. Turning it off always works.

use aws_sdk_scheduler::types::ScheduleState;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::rerun::Outcome;
use super::{preflight, sdk_detail, OpsError};
use crate::run::preflight::Check;

/// How recent a passing preflight must be for `schedule on`.
pub const PREFLIGHT_FRESH_FOR: Duration = Duration::hours(1);

/// The schedule as EventBridge Scheduler holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub name: String,
    pub enabled: bool,
    /// `cron(20 9 * * ? *)`
    pub expression: String,
    /// The zone the expression is read in (`America/Phoenix`).
    pub time_zone: String,
}

impl Schedule {
    /// The daily time of a `cron(M H * * ? *)` expression; `None` for any other form.
    pub fn daily_time(&self) -> Option<NaiveTime> {
        let fields = self
            .expression
            .strip_prefix("cron(")?
            .strip_suffix(')')?
            .split_whitespace()
            .collect::<Vec<_>>();
        match fields.as_slice() {
            [minute, hour, "*", "*", "?", "*"] => {
                NaiveTime::from_hms_opt(hour.parse().ok()?, minute.parse().ok()?, 0)
            }
            _ => None,
        }
    }

    /// The next start after `now`, in `tz`; `None` when off or not a daily time.
    pub fn next_start(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Tz>> {
        if !self.enabled {
            return None;
        }
        let zone: Tz = self.time_zone.parse().ok()?;
        let time = self.daily_time()?;
        let today = now.with_timezone(&zone).date_naive();
        (0..=2)
            .filter_map(|days| today.checked_add_signed(Duration::days(days)))
            .filter_map(|day| {
                let local = day.and_time(time);
                // A time the clocks skip (spring forward) is taken an hour later.
                zone.from_local_datetime(&local).earliest().or_else(|| {
                    zone.from_local_datetime(&(local + Duration::hours(1)))
                        .earliest()
                })
            })
            .map(|start| start.with_timezone(&Utc))
            .find(|start| *start > now)
            .map(|start| start.with_timezone(&tz))
    }
}

/// A preflight execution as listed: its name and when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightRun {
    pub name: String,
    pub execution_arn: String,
    pub started: DateTime<Utc>,
}

/// The newest preflight execution started within [`PREFLIGHT_FRESH_FOR`] of `now`. One
/// that AWS's clock puts a little after `now` counts: the local clock may be behind.
pub fn latest_recent_preflight(runs: &[PreflightRun], now: DateTime<Utc>) -> Option<&PreflightRun> {
    runs.iter()
        .filter(|r| r.name.starts_with("preflight-"))
        .filter(|r| now - r.started <= PREFLIGHT_FRESH_FOR)
        .max_by_key(|r| r.started)
}

/// Why `schedule on` was refused, as one sentence with what to do.
pub fn refusal(latest: Option<(&PreflightRun, &Outcome)>, now: DateTime<Utc>) -> Option<String> {
    let Some((run, outcome)) = latest else {
        return Some(
            "no preflight ran in the last hour: run `leganto doctor`, and once every check \
             passes, `leganto schedule on` again"
                .to_string(),
        );
    };
    let minutes = (now - run.started).num_minutes().max(0);
    if outcome.status == "RUNNING" {
        return Some(format!(
            "the preflight {} (started {minutes} minutes ago) is still running: wait for \
             `leganto doctor` to finish, then run `leganto schedule on` again",
            run.name
        ));
    }
    let failed: Vec<Check> = preflight::checklist(outcome)
        .into_iter()
        .filter(|c| !c.ok)
        .collect();
    if failed.is_empty() {
        return None;
    }
    let names = failed
        .iter()
        .map(|c| format!("\"{}\" ({})", c.check, c.detail))
        .collect::<Vec<_>>()
        .join(", ");
    let (checks, them) = if failed.len() == 1 {
        ("a check", "it")
    } else {
        ("checks", "each")
    };
    Some(format!(
        "the latest preflight, {} ({minutes} minutes ago), failed {checks}: {names}; fix \
         {them} as `leganto doctor` says, run it again, then `leganto schedule on`",
        run.name
    ))
}

/// The preflight executions of `state_machine_arn` started since `since`, newest first.
#[tracing::instrument(skip(sfn), err)]
pub async fn preflights_since(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    since: DateTime<Utc>,
) -> Result<Vec<PreflightRun>, OpsError> {
    let mut pages = sfn
        .list_executions()
        .state_machine_arn(state_machine_arn)
        .into_paginator()
        .send();
    let mut runs = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OpsError::sfn("ListExecutions", e))?;
        let mut older = false;
        for item in page.executions() {
            let started = to_utc(item.start_date());
            older |= started < since;
            if started >= since && item.name().starts_with("preflight-") {
                runs.push(PreflightRun {
                    name: item.name().to_string(),
                    execution_arn: item.execution_arn().to_string(),
                    started,
                });
            }
        }
        // Step Functions lists the newest first: a page reaching back past `since` is the last needed.
        if older {
            break;
        }
    }
    runs.sort_by_key(|r| std::cmp::Reverse(r.started));
    Ok(runs)
}

/// How a listed execution ended (or stands), with its output.
pub async fn outcome_of(
    sfn: &aws_sdk_sfn::Client,
    execution_arn: &str,
) -> Result<Outcome, OpsError> {
    let described = sfn
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .map_err(|e| OpsError::sfn("DescribeExecution", e))?;
    Ok(Outcome {
        status: described.status().as_str().to_string(),
        error: described.error().map(str::to_string),
        cause: described.cause().map(str::to_string),
        output: described.output().map(str::to_string),
    })
}

fn to_utc(t: &aws_sdk_sfn::primitives::DateTime) -> DateTime<Utc> {
    Utc.timestamp_opt(t.secs(), t.subsec_nanos())
        .single()
        .unwrap_or_default()
}

fn scheduler_error<E, R>(
    operation: &'static str,
    name: &str,
    e: aws_sdk_scheduler::error::SdkError<E, R>,
) -> OpsError
where
    E: aws_sdk_scheduler::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    OpsError::Aws {
        call: format!("EventBridge Scheduler {operation} of schedule {name:?}"),
        detail: sdk_detail(&e),
        source: e.into(),
    }
}

/// Reads schedule `name` (default group).
#[tracing::instrument(skip(scheduler), err)]
pub async fn read(scheduler: &aws_sdk_scheduler::Client, name: &str) -> Result<Schedule, OpsError> {
    let got = scheduler
        .get_schedule()
        .name(name)
        .send()
        .await
        .map_err(|e| scheduler_error("GetSchedule", name, e))?;
    Ok(Schedule {
        name: name.to_string(),
        enabled: got.state() == Some(&ScheduleState::Enabled),
        expression: got.schedule_expression().unwrap_or_default().to_string(),
        time_zone: got
            .schedule_expression_timezone()
            .unwrap_or("UTC")
            .to_string(),
    })
}

/// Turns schedule `name` on or off. UpdateSchedule replaces the whole schedule, so every
/// other setting is sent back as GetSchedule gave it.
#[tracing::instrument(skip(scheduler), err)]
pub async fn set_enabled(
    scheduler: &aws_sdk_scheduler::Client,
    name: &str,
    enabled: bool,
) -> Result<Schedule, OpsError> {
    let got = scheduler
        .get_schedule()
        .name(name)
        .send()
        .await
        .map_err(|e| scheduler_error("GetSchedule", name, e))?;
    let state = if enabled {
        ScheduleState::Enabled
    } else {
        ScheduleState::Disabled
    };
    scheduler
        .update_schedule()
        .name(name)
        .set_group_name(got.group_name().map(str::to_string))
        .set_schedule_expression(got.schedule_expression().map(str::to_string))
        .set_schedule_expression_timezone(got.schedule_expression_timezone().map(str::to_string))
        .set_start_date(got.start_date().cloned())
        .set_end_date(got.end_date().cloned())
        .set_description(got.description().map(str::to_string))
        .set_kms_key_arn(got.kms_key_arn().map(str::to_string))
        .set_target(got.target().cloned())
        .set_flexible_time_window(got.flexible_time_window().cloned())
        .set_action_after_completion(got.action_after_completion().cloned())
        .state(state)
        .send()
        .await
        .map_err(|e| scheduler_error("UpdateSchedule", name, e))?;
    read(scheduler, name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn schedule(expression: &str, zone: &str, enabled: bool) -> Schedule {
        Schedule {
            name: "leganto-prod-daily".into(),
            enabled,
            expression: expression.into(),
            time_zone: zone.into(),
        }
    }

    fn run(name: &str, started: &str) -> PreflightRun {
        PreflightRun {
            name: name.into(),
            execution_arn: format!("arn:aws:states:us-west-2:1:execution:m:{name}"),
            started: at(started),
        }
    }

    fn outcome(status: &str, output: &str) -> Outcome {
        Outcome {
            status: status.into(),
            error: None,
            cause: None,
            output: Some(output.into()),
        }
    }

    const PASSING: &str = r#"{"preflight": [{"step": "pull", "checks": [
        {"check": "CEM SFTP server", "ok": true, "detail": "listed", "what_to_do": ""}]}]}"#;
    const FAILING: &str = r#"{"preflight": [{"step": "pull", "checks": [
        {"check": "CEM SFTP server", "ok": true, "detail": "listed", "what_to_do": ""},
        {"check": "Alma course loader job", "ok": false, "detail": "AlmaLoaderProfileId is not set", "what_to_do": "Set it."}]}]}"#;

    #[test]
    fn the_next_start_is_today_before_the_time_and_tomorrow_after_it() {
        let phoenix = chrono_tz::America::Phoenix;
        let daily = schedule("cron(20 9 * * ? *)", "America/Phoenix", true);
        // 08:00 in Phoenix (UTC-7): today at 09:20.
        let next = daily
            .next_start(at("2026-12-07T15:00:00Z"), phoenix)
            .unwrap();
        assert_eq!(next.to_rfc3339(), "2026-12-07T09:20:00-07:00");
        // 09:20 exactly has begun: tomorrow.
        let next = daily
            .next_start(at("2026-12-07T16:20:00Z"), phoenix)
            .unwrap();
        assert_eq!(next.to_rfc3339(), "2026-12-08T09:20:00-07:00");
        // Shown in another zone, read in the schedule's own.
        let berlin = daily
            .next_start(at("2026-12-07T15:00:00Z"), chrono_tz::Europe::Berlin)
            .unwrap();
        assert_eq!(berlin.to_rfc3339(), "2026-12-07T17:20:00+01:00");
    }

    #[test]
    fn a_schedule_that_is_off_or_not_daily_has_no_next_start() {
        let now = at("2026-12-07T15:00:00Z");
        let tz = chrono_tz::America::Phoenix;
        assert_eq!(
            schedule("cron(20 9 * * ? *)", "America/Phoenix", false).next_start(now, tz),
            None
        );
        assert_eq!(
            schedule("rate(1 day)", "America/Phoenix", true).next_start(now, tz),
            None
        );
        assert_eq!(
            schedule("cron(20 9 ? * MON-FRI *)", "UTC", true).daily_time(),
            None
        );
    }

    #[test]
    fn a_time_the_clocks_skip_starts_an_hour_later() {
        let ny = chrono_tz::America::New_York;
        let daily = schedule("cron(30 2 * * ? *)", "America/New_York", true);
        // 2027-03-14: 02:00 → 03:00 in New York.
        let next = daily.next_start(at("2027-03-14T05:00:00Z"), ny).unwrap();
        assert_eq!(next.to_rfc3339(), "2027-03-14T03:30:00-04:00");
    }

    #[test]
    fn only_a_preflight_started_within_the_hour_counts_and_the_newest_wins() {
        let now = at("2026-12-07T16:00:00Z");
        let runs = [
            run("preflight-20261207T145900Z", "2026-12-07T14:59:00Z"),
            run("day-2026-12-07", "2026-12-07T15:55:00Z"),
            run("preflight-20261207T151000Z", "2026-12-07T15:10:00Z"),
            run("preflight-20261207T153000Z", "2026-12-07T15:30:00Z"),
        ];
        let latest = latest_recent_preflight(&runs, now).unwrap();
        assert_eq!(latest.name, "preflight-20261207T153000Z");
        let ahead = [run("preflight-20261207T160005Z", "2026-12-07T16:00:05Z")];
        assert!(
            latest_recent_preflight(&ahead, now).is_some(),
            "AWS's clock a little ahead"
        );
        assert_eq!(
            latest_recent_preflight(&runs[..2], now),
            None,
            "61 minutes is too old"
        );
    }

    #[test]
    fn schedule_on_is_refused_without_a_recent_preflight_or_with_a_failed_check() {
        let now = at("2026-12-07T16:00:00Z");
        let recent = run("preflight-20261207T153000Z", "2026-12-07T15:30:00Z");
        let none = refusal(None, now).unwrap();
        assert!(
            none.contains("no preflight ran in the last hour") && none.contains("leganto doctor")
        );

        let failed = refusal(Some((&recent, &outcome("SUCCEEDED", FAILING))), now).unwrap();
        assert!(
            failed.contains("preflight-20261207T153000Z (30 minutes ago)"),
            "{failed}"
        );
        assert!(
            failed.contains("\"Alma course loader job\" (AlmaLoaderProfileId is not set)"),
            "{failed}"
        );
        assert!(!failed.contains("CEM SFTP server"), "{failed}");

        let running = refusal(Some((&recent, &outcome("RUNNING", ""))), now).unwrap();
        assert!(running.contains("still running"), "{running}");

        let broken = refusal(Some((&recent, &outcome("FAILED", ""))), now).unwrap();
        assert!(broken.contains("the preflight execution"), "{broken}");
    }

    #[test]
    fn schedule_on_is_allowed_after_a_recent_preflight_that_passed_every_check() {
        let now = at("2026-12-07T16:00:00Z");
        let recent = run("preflight-20261207T153000Z", "2026-12-07T15:30:00Z");
        assert_eq!(
            refusal(Some((&recent, &outcome("SUCCEEDED", PASSING))), now),
            None
        );
    }
}
