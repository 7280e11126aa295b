//! `leganto schedule on|off|show` against moto's Step Functions, EventBridge Scheduler and
//! CloudFormation: `on` is refused until a preflight passed every check within the hour;
//! `off` always works; `show` says what a later deploy does to a schedule turned on here.

use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target};

use super::*;

const STACK: &str = "leganto-prod";
const SCHEDULE: &str = "leganto-prod-daily";
const SCHEDULER_ROLE: &str = "arn:aws:iam::123456789012:role/leganto-prod-StateMachineDailyRole";

/// A state machine that answers `{"preflight": true}` with `checks` as one function's list.
fn preflight_machine(checks: &str) -> String {
    format!(
        r#"{{
  "StartAt": "Preflight or the day?",
  "States": {{
    "Preflight or the day?": {{
      "Type": "Choice",
      "Choices": [{{"Variable": "$.preflight", "BooleanEquals": true, "Next": "Report the preflight checks"}}],
      "Default": "Not a preflight"
    }},
    "Report the preflight checks": {{
      "Type": "Pass",
      "Result": {{"preflight": [{{"step": "check-job", "checks": {checks}}}]}},
      "End": true
    }},
    "Not a preflight": {{"Type": "Fail", "Error": "NotAPreflight"}}
  }}
}}"#
    )
}

const FAILING_CHECKS: &str = r#"[
    {"check": "Alma API key secret", "ok": true, "detail": "filled in", "what_to_do": ""},
    {"check": "Alma course loader job", "ok": false, "detail": "AlmaLoaderProfileId is not set",
     "what_to_do": "Set AlmaLoaderProfileId, then run `leganto doctor` again."}]"#;
const PASSING_CHECKS: &str = r#"[
    {"check": "Alma API key secret", "ok": true, "detail": "filled in", "what_to_do": ""},
    {"check": "Alma course loader job", "ok": true, "detail": "profile 72 has the scheduled job S71", "what_to_do": ""}]"#;

/// The stack as template.yaml deploys it with `ScheduleState=DISABLED`, as far as `leganto
/// schedule` reads it: its outputs and parameters (no 26-hour alarm while DISABLED) and
/// the schedule.
async fn deploy(aws: &Aws, machine: &str) {
    let template = serde_json::json!({
        "Parameters": {"TimeZone": {"Type": "String"}, "ScheduleState": {"Type": "String"}},
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": STACK}}},
        "Outputs": {
            "StateMachineArn": {"Value": machine},
            "BucketName": {"Value": BUCKET},
            "ScheduleName": {"Value": SCHEDULE}
        }
    });
    let parameter = |key: &str, value: &str| {
        aws_sdk_cloudformation::types::Parameter::builder()
            .parameter_key(key)
            .parameter_value(value)
            .build()
    };
    aws_sdk_cloudformation::Client::new(&aws.sdk)
        .create_stack()
        .stack_name(STACK)
        .template_body(template.to_string())
        .parameters(parameter("TimeZone", "America/Phoenix"))
        .parameters(parameter("ScheduleState", "DISABLED"))
        .send()
        .await
        .unwrap();
    aws_sdk_scheduler::Client::new(&aws.sdk)
        .create_schedule()
        .name(SCHEDULE)
        .description("The daily course load.")
        .schedule_expression("cron(20 9 * * ? *)")
        .schedule_expression_timezone("America/Phoenix")
        .state(ScheduleState::Disabled)
        .flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .unwrap(),
        )
        .target(
            Target::builder()
                .arn(machine)
                .role_arn(SCHEDULER_ROLE)
                .input("{}")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

async fn schedule(aws: &Aws, action: &str) -> Output {
    aws.leganto(&["schedule", action, "--stack", STACK]).await
}

/// The schedule's state and target as EventBridge Scheduler holds them.
async fn scheduler_state(aws: &Aws) -> (String, String, String) {
    let got = aws_sdk_scheduler::Client::new(&aws.sdk)
        .get_schedule()
        .name(SCHEDULE)
        .send()
        .await
        .unwrap();
    let target = got.target().unwrap();
    (
        got.state().unwrap().as_str().to_string(),
        target.role_arn().to_string(),
        got.schedule_expression_timezone().unwrap().to_string(),
    )
}

/// The date of the next 09:20 in Phoenix (no daylight saving time there).
fn next_morning() -> chrono::NaiveDate {
    let now = chrono::Utc::now().with_timezone(&chrono_tz::America::Phoenix);
    let nine_twenty = chrono::NaiveTime::from_hms_opt(9, 20, 0).unwrap();
    if now.time() < nine_twenty {
        now.date_naive()
    } else {
        now.date_naive().succ_opt().unwrap()
    }
}

async fn doctor(aws: &Aws) -> Output {
    aws.leganto(&["doctor", "--poll-seconds", "1", "--stack", STACK])
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn schedule_on_waits_for_a_passing_preflight_and_off_and_show_always_work() {
    let aws = Aws::start().await;
    let machine = aws
        .machine("leganto-prod", &preflight_machine(FAILING_CHECKS))
        .await;
    deploy(&aws, &machine).await;

    let o = schedule(&aws, "show").await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!("Schedule {SCHEDULE}: off\n")),
        "{out}"
    );
    assert!(
        out.contains("  time        09:20 every day, America/Phoenix (cron(20 9 * * ? *))"),
        "{out}"
    );
    assert!(out.contains("  next start  none while it is off"), "{out}");
    assert!(
        out.contains("  alarm       none: the 26-hour alarm comes with ScheduleState=ENABLED"),
        "{out}"
    );
    assert!(
        !out.contains("note"),
        "off agrees with ScheduleState=DISABLED: {out}"
    );

    // No preflight yet.
    let o = schedule(&aws, "on").await;
    assert_eq!(o.status.code(), Some(5), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "the schedule stays off: no preflight ran in the last hour: run `leganto doctor`"
        ),
        "{err}"
    );
    assert_eq!(scheduler_state(&aws).await.0, "DISABLED");

    // A preflight with a failed check: refused, naming it.
    assert_eq!(doctor(&aws).await.status.code(), Some(5));
    let o = schedule(&aws, "on").await;
    assert_eq!(o.status.code(), Some(5));
    let err = stderr(&o);
    assert!(
        err.contains("failed a check: \"Alma course loader job\" (AlmaLoaderProfileId is not set)"),
        "{err}"
    );
    assert!(!err.contains("Alma API key secret"), "{err}");
    assert_eq!(scheduler_state(&aws).await.0, "DISABLED");

    // Fixed; the doctor passes: on, with everything else about the schedule kept.
    aws.sfn()
        .update_state_machine()
        .state_machine_arn(&machine)
        .definition(preflight_machine(PASSING_CHECKS))
        .send()
        .await
        .unwrap();
    assert!(doctor(&aws).await.status.success());
    let o = schedule(&aws, "on").await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("Preflight preflight-"), "{out}");
    assert!(
        out.contains("Turned the daily schedule on\nSchedule leganto-prod-daily: on\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("  next start  {} 09:20:00 MST\n", next_morning())),
        "{out}"
    );
    assert!(out.contains("the stack's ScheduleState is DISABLED: a sam deploy that changes the schedule sets it back to DISABLED"), "{out}");
    assert_eq!(
        scheduler_state(&aws).await,
        (
            "ENABLED".to_string(),
            SCHEDULER_ROLE.to_string(),
            "America/Phoenix".to_string()
        )
    );

    let o = schedule(&aws, "show").await;
    assert!(
        stdout(&o).contains(&format!("Schedule {SCHEDULE}: on\n")),
        "{}",
        stdout(&o)
    );

    // Off needs no preflight.
    let o = schedule(&aws, "off").await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Turned the daily schedule off\nSchedule leganto-prod-daily: off\n")
    );
    assert_eq!(scheduler_state(&aws).await.0, "DISABLED");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_without_the_schedule_output_says_to_deploy_this_version() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-old", PASSING).await;
    let parameters = [("TimeZone".to_string(), "America/Phoenix".to_string())];
    leganto_tests::stack::record_stack(&aws.sdk, STACK, &machine, BUCKET, &parameters)
        .await
        .unwrap();
    let o = schedule(&aws, "show").await;
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stderr(&o).contains("has no output ScheduleName: deploy this version"),
        "{}",
        stderr(&o)
    );
}
