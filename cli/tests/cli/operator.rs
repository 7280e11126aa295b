//! The operators' policy: `leganto` run in the local stack as a user holding only the
//! template's `OperatorPolicy`, every call judged by the Lambda host as IAM would. Each
//! command the policy is for runs (rerun, status, approve, rules, full-load, rollovers,
//! doctor; `schedule`'s calls: `infra::template`, as moto cannot check EventBridge
//! Scheduler's signatures while it enforces IAM); a stack or a state machine it does not name is refused.

use leganto_shared::domain::rules::ASU_RULES_TOML;
use leganto_tests::stack::{Stack, StackOptions, BUCKET};
use leganto_tests::support::RUN_DATE;

use super::*;

/// A day other than [`RUN_DATE`] whose brake tripped and that waits for a decision.
const HELD_DAY: &str = "2026-11-27";

async fn start_stack() -> Stack {
    // Rollovers on, so that approving them is among the commands run.
    let options = StackOptions {
        parameters: vec![("RolloversEnabled".into(), "true".into())],
        ..StackOptions::default()
    };
    match Stack::start(options).await {
        Ok(stack) => stack,
        Err(e) => panic!(
            "the local stack did not start: {}",
            leganto_shared::error::error_chain(&e)
        ),
    }
}

/// `leganto ARGS` signed by the operator, through the host that judges its calls, in an
/// empty directory (no samconfig.toml): only `AWS_*` and `LEGANTO_STACK` say where.
async fn as_operator(stack: &Stack, args: &[&str]) -> Output {
    let operator = stack
        .operator
        .clone()
        .expect("the template has an OperatorPolicy");
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = base_command();
    cmd.current_dir(dir.path())
        .args(args)
        .env("AWS_ENDPOINT_URL", stack.host.endpoint())
        .env("AWS_ACCESS_KEY_ID", operator.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", operator.secret_access_key())
        .env("AWS_REGION", leganto_tests::moto::REGION)
        .env("LEGANTO_STACK", &stack.rendered.stack_name);
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = cmd.output().unwrap();
        show(&args, &out);
        drop(dir);
        out
    })
    .await
    .unwrap()
}

/// The loaded day's summary, put back under [`HELD_DAY`] with its brake tripped: the state
/// a held day is in while it waits for a person.
async fn hold_a_day(stack: &Stack) {
    let store = Store::from_sdk_config(&stack.sdk, BUCKET);
    let day = |date: &str| date.replace('-', "/");
    let mut summary: serde_json::Value = store
        .get_json(&format!("reports/{}/run-summary.json", day(RUN_DATE)))
        .await
        .unwrap();
    summary["brake"]["tripped"] = serde_json::json!(true);
    summary["brake"]["reasons"] = serde_json::json!(["the export has 1 row"]);
    store
        .put_json(
            &format!("reports/{}/run-summary.json", day(HELD_DAY)),
            &summary,
        )
        .await
        .unwrap();
}

fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{}{}", stdout(o), stderr(o));
    assert!(!stderr(o).contains("AccessDenied"), "{}", stderr(o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_holding_only_the_operator_policy_runs_every_command_and_nothing_else() {
    let stack = start_stack().await;
    stack
        .record_in_cloudformation(&stack.rendered.stack_name)
        .await
        .unwrap();
    stack.put_sample_export(RUN_DATE.parse().unwrap()).unwrap();

    // rerun: the day from its start, followed to its end.
    let o = as_operator(
        &stack,
        &["rerun", "--run-date", RUN_DATE, "--from", "pull", "--wait"],
    )
    .await;
    assert_ok(&o);
    assert_eq!(stack.alma_files().unwrap().len(), 1, "the day was pushed");

    let o = as_operator(&stack, &["status", "--run-date", RUN_DATE]).await;
    assert_ok(&o);
    assert!(stdout(&o).contains("SUCCEEDED"), "{}", stdout(&o));

    hold_a_day(&stack).await;
    let o = as_operator(&stack, &["approve", "--run-date", HELD_DAY]).await;
    assert_ok(&o);
    // The command it gives runs as written: it names the stack.
    assert!(
        stdout(&o).contains(&format!(
            "leganto rerun --stack {} --run-date {HELD_DAY} --from push",
            stack.rendered.stack_name
        )),
        "{}",
        stdout(&o)
    );
    let decision = format!("reports/{}/decision.json", HELD_DAY.replace('-', "/"));
    let written: serde_json::Value = Store::from_sdk_config(&stack.sdk, BUCKET)
        .get_json(&decision)
        .await
        .unwrap();
    // Who decided is the caller's identity, which IAM never refuses to tell.
    assert!(
        written["by"]
            .as_str()
            .unwrap()
            .ends_with(":user/leganto-local-operator"),
        "{written}"
    );

    // A refusal's command names the stack too.
    let o = as_operator(&stack, &["approve", "--run-date", "2026-11-26"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "leganto status --stack {} --run-date 2026-11-26",
            stack.rendered.stack_name
        )),
        "{}",
        stderr(&o)
    );

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, ASU_RULES_TOML).unwrap();
    let rules = rules.to_str().unwrap();
    for args in [
        &["rules", "push", rules][..],
        &["rules", "show"],
        &["rules", "check", rules],
    ] {
        assert_ok(&as_operator(&stack, args).await);
    }

    for args in [
        &["full-load", "next"][..],
        &["full-load", "show"],
        &["full-load", "cancel"],
    ] {
        assert_ok(&as_operator(&stack, args).await);
    }

    // The day's rollover report reviewed: every row approved once, then listed.
    let o = as_operator(
        &stack,
        &["rollovers", "approve", "--run-date", RUN_DATE, "--all"],
    )
    .await;
    assert_ok(&o);
    let o = as_operator(&stack, &["rollovers", "list", "--run-date", RUN_DATE]).await;
    assert_ok(&o);
    assert!(stdout(&o).contains("approved"), "{}", stdout(&o));

    let o = as_operator(&stack, &["doctor", "--poll-seconds", "1"]).await;
    assert_ok(&o);

    // Another stack in the account: its outputs are not the operator's to read.
    stack
        .record_in_cloudformation("leganto-other")
        .await
        .unwrap();
    let o = as_operator(&stack, &["status", "--stack", "leganto-other"]).await;
    assert!(!o.status.success());
    assert!(stderr(&o).contains("AccessDenied"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cloudformation:DescribeStacks"),
        "{}",
        stderr(&o)
    );

    // Another state machine: not the operator's to start.
    let other = stack
        .sfn()
        .create_state_machine()
        .name("someone-elses")
        .definition(PASSING)
        .role_arn("arn:aws:iam::123456789012:role/someone-elses")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string();
    let o = as_operator(
        &stack,
        &[
            "rerun",
            "--run-date",
            RUN_DATE,
            "--from",
            "pull",
            "--state-machine",
            &other,
        ],
    )
    .await;
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("states:StartExecution"),
        "{}",
        stderr(&o)
    );
}

/// `leganto schedule`'s calls as the operator makes them: GetSchedule, and UpdateSchedule
/// sending the schedule's own role back (which IAM judges as `iam:PassRole` too). Moto
/// cannot check EventBridge Scheduler's signatures while it enforces IAM, so these are judged
/// by the host's IAM model alone, on the policy and the schedule as the template renders them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operator_policy_lets_schedule_read_and_switch_this_stacks_schedule_only() {
    use leganto_tests::iam::{classify, passed_role, Decision, Policies, Request, Scope};
    let stack = start_stack().await;
    let rendered = &stack.rendered;
    let policies = Policies {
        documents: vec![rendered.managed_policies["OperatorPolicy"].clone()],
    };
    let schedule = rendered
        .schedules
        .values()
        .next()
        .expect("the daily schedule");
    let name = schedule["Name"].as_str().expect("its name");
    assert_eq!(name, format!("{}-daily", rendered.stack_name));
    let role = schedule["Target"]["RoleArn"].as_str().expect("its role");
    let scope = Scope {
        region: leganto_tests::moto::REGION.into(),
        account: "123456789012".into(),
        secrets: Vec::new(),
    };
    let decide = |method: &str, schedule: &str, role: &str| {
        let path = format!("/schedules/{schedule}");
        let body = serde_json::json!({"State": "DISABLED", "Target": {"RoleArn": role}});
        let body = if method == "PUT" {
            body.to_string()
        } else {
            String::new()
        };
        let request = Request {
            method,
            path: &path,
            query: "",
            target: None,
            service: "scheduler",
            body: body.as_bytes(),
        };
        let call = policies.decide(&classify(&request, &scope).expect("a Scheduler call"));
        let pass = passed_role(&request).map(|r| policies.decide(&r));
        (call, pass)
    };
    use Decision::{Allowed, NotAllowed};
    assert_eq!(decide("GET", name, role), (Allowed, None));
    assert_eq!(decide("PUT", name, role), (Allowed, Some(Allowed)));
    assert_eq!(decide("GET", "leganto-other-daily", role).0, NotAllowed);
    let other_role = "arn:aws:iam::123456789012:role/admin";
    assert_eq!(decide("PUT", name, other_role).1, Some(NotAllowed));
}
