//! The definition's contract, read statically: every Task retries and is caught, failures
//! reach Slack, reruns can start at every stage, dry runs skip the push and the e-mail.

use std::collections::{BTreeMap, BTreeSet};

use leganto_shared::error::{ErrorName as _, TRANSIENT_ERRORS};
use serde_json::Value;

use super::support::*;

fn error_names(rule: &Value) -> Vec<String> {
    rule.get("ErrorEquals")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect()
}

fn catches_all(state: &Value) -> Option<(String, String)> {
    state
        .get("Catch")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| error_names(c) == ["States.ALL"])
        .map(|c| {
            (
                c.get("Next")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                c.get("ResultPath")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            )
        })
}

fn top_state<'a>(definition: &'a Value, name: &str) -> &'a Value {
    definition
        .get("States")
        .and_then(|s| s.get(name))
        .unwrap_or_else(|| panic!("no top-level state {name:?}"))
}

#[test]
fn no_object_in_the_definition_repeats_a_key_and_state_names_are_unique_everywhere() {
    let raw: RawJson = serde_json::from_str(&definition_text()).expect("the definition is JSON");
    let mut duplicates = Vec::new();
    duplicate_keys(&raw, "", &mut duplicates);
    assert!(duplicates.is_empty(), "repeated keys: {duplicates:?}");

    let mut seen = BTreeMap::new();
    for state in all_states(&definition()) {
        *seen.entry(state.name).or_insert(0) += 1;
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "state names used more than once: {repeated:?}"
    );
    assert!(seen.len() > 20, "suspiciously few states: {}", seen.len());
    for name in seen.keys() {
        assert!(
            name.len() <= 80,
            "state name longer than AWS allows: {name:?}"
        );
        assert!(
            name.chars().next().is_some_and(char::is_uppercase),
            "state names read like sentences: {name:?}"
        );
    }
}

#[test]
fn every_task_calls_one_step_function_directly_with_a_timeout() {
    let mut steps_called = BTreeSet::new();
    for state in all_states(&definition())
        .into_iter()
        .filter(|s| s.state["Type"] == "Task")
    {
        let step = task_step(&state.state)
            .unwrap_or_else(|| panic!("{:?}: Resource must be ${{<Step>FunctionArn}}", state.name));
        assert!(
            STEPS.contains(&step.as_str()),
            "{:?} calls unknown step {step}",
            state.name
        );
        assert!(
            state
                .state
                .get("TimeoutSeconds")
                .and_then(Value::as_u64)
                .is_some(),
            "{:?} has no TimeoutSeconds",
            state.name
        );
        steps_called.insert(step);
    }
    let all: BTreeSet<String> = STEPS.iter().map(|s| s.to_string()).collect();
    assert_eq!(steps_called, all, "every step is called by some Task");
}

#[test]
fn every_task_retries_lambda_service_errors_with_backoff_and_never_retries_a_permanent_error() {
    let permanent = [
        "States.ALL",
        "States.TaskFailed",
        "SourceFileMissing",
        "SourceFileIncomplete",
        "SftpFileTooLarge",
        "HostKeyMismatch",
        "InvalidInput",
        "InvalidConfig",
        "ArtefactMissing",
        "AlmaQuotaExhausted",
    ];
    for state in all_states(&definition())
        .into_iter()
        .filter(|s| s.state["Type"] == "Task")
    {
        let retriers = state
            .state
            .get("Retry")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let lambda = retriers
            .iter()
            .find(|r| error_names(r).iter().any(|e| e.starts_with("Lambda.")))
            .unwrap_or_else(|| panic!("{:?} does not retry Lambda service errors", state.name));
        let names: BTreeSet<String> = error_names(lambda).into_iter().collect();
        let expected: BTreeSet<String> = LAMBDA_SERVICE_ERRORS
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            names, expected,
            "{:?}: the AWS-recommended Lambda retry set",
            state.name
        );
        for retrier in &retriers {
            let backoff = retrier
                .get("BackoffRate")
                .and_then(Value::as_f64)
                .unwrap_or(2.0);
            let attempts = retrier
                .get("MaxAttempts")
                .and_then(Value::as_u64)
                .unwrap_or(3);
            assert!(backoff > 1.0, "{:?} retries without backoff", state.name);
            assert!(
                (2..=5).contains(&attempts),
                "{:?} retries {attempts} times",
                state.name
            );
            for name in error_names(retrier) {
                assert!(
                    !permanent.contains(&name.as_str()),
                    "{:?} retries permanent error {name}",
                    state.name
                );
            }
        }
    }
}

/// What a step talks to, each with its own transient errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// S3: `ctx.store`.
    Store,
    /// Secrets Manager: the SFTP, Alma and Slack clients need the secret.
    Secrets,
    Sftp,
    Alma,
}

/// The peers each step's code talks to (shared/src/steps/<step>.rs).
const PEERS: [(&str, &[Peer]); 11] = [
    ("Plan", &[Peer::Store]),
    ("Pull", &[Peer::Store, Peer::Secrets, Peer::Sftp]),
    ("Transform", &[Peer::Store, Peer::Secrets, Peer::Alma]),
    (
        "Push",
        &[Peer::Store, Peer::Secrets, Peer::Sftp, Peer::Alma],
    ),
    ("CheckHold", &[Peer::Store]),
    ("CheckJob", &[Peer::Secrets, Peer::Alma]),
    ("CacheCourses", &[Peer::Store, Peer::Secrets, Peer::Alma]),
    ("RolloverReport", &[Peer::Store, Peer::Secrets, Peer::Alma]),
    // The hold notice reads nothing; the report reads S3.
    ("EmailReport", &[Peer::Store]),
    ("NotifySlack", &[Peer::Secrets]),
    ("Release", &[Peer::Store]),
];

/// The peer whose failure a transient error name reports.
fn raised_by(name: &str) -> Peer {
    [
        ("Store", Peer::Store),
        ("Secrets", Peer::Secrets),
        ("Sftp", Peer::Sftp),
        ("Alma", Peer::Alma),
    ]
    .into_iter()
    .find(|(prefix, _)| name.starts_with(prefix))
    .map(|(_, peer)| peer)
    .unwrap_or_else(|| panic!("say which peer raises the transient error {name}"))
}

/// The code's transient names a step can raise.
fn transient_errors_of(step: &str) -> BTreeSet<String> {
    let peers = PEERS
        .iter()
        .find(|(s, _)| *s == step)
        .map(|(_, peers)| *peers)
        .unwrap_or_else(|| panic!("PEERS lacks {step}"));
    TRANSIENT_ERRORS
        .iter()
        .filter(|name| peers.contains(&raised_by(name)))
        .map(|name| name.to_string())
        .collect()
}

#[test]
fn every_task_retries_exactly_the_transient_errors_its_step_can_raise() {
    assert_eq!(PEERS.len(), STEPS.len());
    for state in all_states(&definition())
        .into_iter()
        .filter(|s| s.state["Type"] == "Task")
    {
        let step = task_step(&state.state).expect("a step");
        let expected = transient_errors_of(&step);
        let retriers: Vec<Value> = state.state["Retry"].as_array().cloned().unwrap_or_default();
        let retried: BTreeSet<String> = retriers
            .iter()
            .flat_map(error_names)
            .filter(|name| !name.starts_with("Lambda."))
            .collect();
        assert_eq!(
            retried, expected,
            "{:?} ({step}) must retry the transient errors of what it talks to, and only those",
            state.name
        );
        // Retried as the other peers' outages are: long enough for a peer to come back.
        for retrier in retriers
            .iter()
            .filter(|r| error_names(r).iter().any(|n| expected.contains(n)))
        {
            assert_eq!(retrier["IntervalSeconds"], 30, "{:?}", state.name);
            assert_eq!(retrier["MaxAttempts"], 3, "{:?}", state.name);
            assert_eq!(retrier["BackoffRate"], 2, "{:?}", state.name);
            assert_eq!(retrier["MaxDelaySeconds"], 120, "{:?}", state.name);
            assert_eq!(retrier["JitterStrategy"], "FULL", "{:?}", state.name);
        }
    }
}

#[test]
fn every_transient_error_is_retried_somewhere_and_the_adapters_still_use_the_names() {
    let states = all_states(&definition());
    let retried: BTreeSet<String> = states
        .iter()
        .filter_map(|s| s.state.get("Retry").and_then(Value::as_array))
        .flatten()
        .flat_map(error_names)
        .collect();
    for name in TRANSIENT_ERRORS {
        assert!(retried.contains(name), "{name} is never retried");
        raised_by(name);
    }
    let store = leganto_shared::store::StoreError::Unavailable {
        operation: "get",
        bucket: "b".into(),
        key: "k".into(),
        source: Box::new(std::io::Error::other("down")),
    };
    assert!(store.is_transient(), "{}", store.error_name());
    let size = leganto_shared::sftp::SftpError::SizeMismatch {
        path: "/x".into(),
        expected: 2,
        actual: 1,
    };
    assert!(size.is_transient(), "{}", size.error_name());
}

#[test]
fn every_failure_outside_delivery_reaches_slack_then_fails_the_run_naming_the_state() {
    let definition = definition();
    let notify = top_state(&definition, NOTIFY_FAILURE);
    assert_eq!(task_step(notify).as_deref(), Some("NotifySlack"));
    assert_eq!(notify["Parameters"]["kind"], "failure");
    let release_name = notify["Next"].as_str().expect("notify has Next");
    let (after_slack_error, _) = catches_all(notify).expect("a Slack outage still reaches Fail");
    assert_eq!(
        after_slack_error, release_name,
        "a Slack outage must not hide the failure"
    );
    // The day's lease is given back on the way to the Fail, whatever happens there.
    let release = top_state(&definition, release_name);
    assert_eq!(task_step(release).as_deref(), Some("Release"));
    assert_eq!(release["ResultPath"], Value::Null, "$.error survives");
    let fail_name = release["Next"].as_str().expect("release has Next");
    let (after_release_error, result_path) =
        catches_all(release).expect("a failed release still reaches Fail");
    assert_eq!(after_release_error, fail_name);
    assert_ne!(result_path, "$.error", "the original error is kept");
    let fail = top_state(&definition, fail_name);
    assert_eq!(fail["Type"], "Fail");
    assert_eq!(
        fail["ErrorPath"], "$.error.Error",
        "the execution fails with the original error"
    );
    assert_eq!(fail["CausePath"], "$.error.Cause");

    let delivery = "Deliver the report";
    // Its Catch goes on waiting: the notice never ends the wait (see the late export's test).
    let late_notice = "Tell Slack the export is late";
    for state in all_states(&definition) {
        let is_task_or_group = matches!(
            state.state["Type"].as_str(),
            Some("Task" | "Parallel" | "Map")
        );
        if !is_task_or_group
            || state.name == NOTIFY_FAILURE
            || task_step(&state.state).as_deref() == Some("Release")
            || state.name == late_notice
            || state.top_level == delivery && state.name != delivery
        {
            continue;
        }
        // Inside a branch the enclosing top-level Parallel catches on its behalf.
        let catcher = if state.enclosing.is_empty() {
            state.name.clone()
        } else {
            state.top_level.clone()
        };
        let catcher_state = top_state(&definition, &catcher);
        let (next, result_path) = catches_all(catcher_state)
            .unwrap_or_else(|| panic!("{catcher:?} does not catch States.ALL"));
        assert_eq!(
            result_path, "$.error",
            "{catcher:?} keeps the input and adds $.error"
        );
        let note = top_state(&definition, &next);
        assert_eq!(
            note["Type"], "Pass",
            "{catcher:?} catches to a Pass that names the state"
        );
        assert_eq!(note["ResultPath"], "$.failed_state");
        assert_eq!(
            note["Result"],
            Value::String(catcher.clone()),
            "{next:?} names {catcher:?}"
        );
        assert_eq!(note["Next"], NOTIFY_FAILURE);
    }
}

#[test]
fn email_and_slack_failures_during_delivery_never_fail_the_run() {
    let definition = definition();
    for state in all_states(&definition)
        .into_iter()
        .filter(|s| s.top_level == "Deliver the report" && s.state["Type"] == "Task")
    {
        let (next, _) = catches_all(&state.state)
            .unwrap_or_else(|| panic!("{:?} must catch its own failure", state.name));
        let scope = scope_of(&definition, &state.name).expect("scope");
        assert!(
            scope.contains_key(&next),
            "{:?} catches inside its own branch",
            state.name
        );
        // Follow the catch path: it must end the branch without a Fail state.
        let mut current = next;
        for _ in 0..5 {
            let target = &scope[&current];
            assert_ne!(target["Type"], "Fail", "{:?} fails the run", state.name);
            if target.get("End").and_then(Value::as_bool) == Some(true) {
                break;
            }
            current = match target.get("Next").and_then(Value::as_str) {
                Some(n) => n.to_string(),
                None => break,
            };
        }
    }
    let email_failed = all_states(&definition)
        .into_iter()
        .find(|s| {
            s.state.get("Parameters").and_then(|p| p.get("kind"))
                == Some(&Value::from("email_failure"))
        })
        .expect("an e-mail failure is told to Slack");
    assert_eq!(
        task_step(&email_failed.state).as_deref(),
        Some("NotifySlack")
    );
}

#[test]
fn the_first_choice_starts_at_every_stage_and_nothing_else() {
    let definition = definition();
    let plan_next = top_state(&definition, "Plan the run")["Next"]
        .as_str()
        .expect("plan has Next")
        .to_string();
    let choice = top_state(&definition, &plan_next);
    assert_eq!(choice["Type"], "Choice");
    let mut targets = BTreeMap::new();
    for rule in choice["Choices"].as_array().expect("choices") {
        assert_eq!(rule["Variable"], "$.run.start_at");
        let stage = rule["StringEquals"]
            .as_str()
            .expect("StringEquals")
            .to_string();
        targets.insert(stage, rule["Next"].as_str().expect("Next").to_string());
    }
    let stages: Vec<&str> = targets.keys().map(String::as_str).collect();
    let mut expected = STAGES.to_vec();
    expected.sort();
    assert_eq!(stages, expected);
    assert!(
        choice.get("Default").is_some(),
        "an unknown stage still reaches the failure path"
    );

    // Each stage lands on the state that does that stage's work (or on the guards before
    // it: the dry run's, the safety brake's).
    let lands_on = |stage: &str| -> String {
        let mut target = targets[stage].clone();
        while top_state(&definition, &target)["Type"] == "Choice" {
            target = top_state(&definition, &target)["Default"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
        target
    };
    assert_eq!(
        task_step(top_state(&definition, &lands_on("pull"))).as_deref(),
        Some("Pull")
    );
    assert_eq!(
        task_step(top_state(&definition, &lands_on("transform"))).as_deref(),
        Some("Transform")
    );
    assert_eq!(
        task_step(top_state(&definition, &lands_on("push"))).as_deref(),
        Some("Push")
    );
    assert_eq!(
        top_state(&definition, &lands_on("wait_for_alma"))["Type"],
        "Parallel"
    );
    assert_eq!(
        task_step(top_state(&definition, &lands_on("rollover_report"))).as_deref(),
        Some("RolloverReport")
    );
}

/// The Task sending the report e-mail (the other EmailReport Task sends the hold notice).
fn report_email_task(states: &[StateAt]) -> &StateAt {
    states
        .iter()
        .find(|s| {
            task_step(&s.state).as_deref() == Some("EmailReport")
                && s.state
                    .get("Parameters")
                    .and_then(|p| p.get("notice"))
                    .is_none()
        })
        .expect("a Task e-mails the report")
}

/// The Choice after a look for a decision, and the only way past the hold to Push.
const HOLD_DECIDED: &str = "Has a person decided?";

#[test]
fn the_push_and_the_email_are_only_reached_past_a_dry_run_check() {
    let definition = definition();
    let states = all_states(&definition);
    for task in [task_calling(&states, "Push"), report_email_task(&states)] {
        let mut entries = 0;
        for other in &states {
            if !transitions(&other.state).contains(&task.name) {
                continue;
            }
            entries += 1;
            assert_eq!(
                other.state["Type"], "Choice",
                "{:?} reaches {:?} without a dry-run check",
                other.name, task.name
            );
            if other.name == HOLD_DECIDED {
                // Past the brake's Choice, which guards the dry run (see the hold's test).
                continue;
            }
            assert_eq!(other.state["Default"], Value::String(task.name.clone()));
            let guards_dry_run = other.state["Choices"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| {
                    r["Variable"] == "$.run.dry_run"
                        && r["BooleanEquals"] == true
                        && r["Next"] != Value::String(task.name.clone())
                });
            assert!(
                guards_dry_run,
                "{:?} does not send a dry run elsewhere",
                other.name
            );
        }
        assert!(entries >= 1, "{:?} is unreachable", task.name);
        // A branch must not start at the guarded task either.
        for branch_start in states
            .iter()
            .filter_map(|s| s.state.get("Branches"))
            .flat_map(|b| b.as_array().cloned().unwrap_or_default())
        {
            assert_ne!(branch_start["StartAt"], Value::String(task.name.clone()));
        }
    }
}

#[test]
fn a_scheduled_run_looks_for_a_late_export_until_its_deadline_telling_slack_once() {
    let definition = definition();
    let states = all_states(&definition);
    let pull = task_calling(&states, "Pull");
    let look = states
        .iter()
        .find(|s| is_look(&s.state))
        .expect("a look for the export");
    assert_eq!(task_step(&look.state).as_deref(), Some("Pull"));
    assert_eq!(look.state["Parameters"]["run.$"], "$.run");

    // Only a run whose plan set a deadline looks; any other pulls at once.
    let start = top_state(&definition, "Start at the requested stage");
    let from_pull = start["Choices"]
        .as_array()
        .expect("choices")
        .iter()
        .find(|c| c["StringEquals"] == "pull")
        .expect("a rule for pull");
    let gate = top_state(&definition, from_pull["Next"].as_str().expect("Next"));
    assert_eq!(gate["Type"], "Choice");
    assert_eq!(gate["Choices"][0]["Variable"], "$.run.export_wait_until");
    assert_eq!(gate["Choices"][0]["IsPresent"], true);
    assert_eq!(gate["Choices"][0]["Next"], Value::String(look.name.clone()));
    assert_eq!(gate["Default"], Value::String(pull.name.clone()));

    // There or past the deadline → pull; not yet → Slack once (its mark present) → wait.
    let found = top_state(&definition, look.state["Next"].as_str().expect("Next"));
    let rules = found["Choices"].as_array().expect("choices");
    assert_eq!(rules[0]["Variable"], "$.export_look.look_again");
    assert_eq!(rules[0]["BooleanEquals"], false);
    assert_eq!(rules[0]["Next"], Value::String(pull.name.clone()));
    assert_eq!(rules[1]["Variable"], "$.export_late_notice");
    assert_eq!(rules[1]["IsPresent"], true);
    let wait = top_state(&definition, rules[1]["Next"].as_str().expect("Next"));
    assert_eq!(wait["Type"], "Wait");
    assert_eq!(wait["SecondsPath"], "$.run.export_poll_seconds");
    assert_eq!(wait["Next"], Value::String(look.name.clone()));

    let notice_name = found["Default"].as_str().expect("Default");
    let notice = top_state(&definition, notice_name);
    assert_eq!(task_step(notice).as_deref(), Some("NotifySlack"));
    assert_eq!(notice["Parameters"]["kind"], "export_late");
    assert_eq!(notice["ResultPath"], "$.export_late_notice");
    assert_eq!(notice["Next"], rules[1]["Next"]);
    // A Slack failure marks the notice as given too, and goes on waiting.
    let (after_failure, result_path) = catches_all(notice).expect("a Slack failure is caught");
    assert_eq!(after_failure, notice["Next"].as_str().unwrap_or_default());
    assert_eq!(result_path, "$.export_late_notice");

    // The execution input the schedule sends and the plan reads.
    let input = leganto_shared::run::ExecutionInput::from_value(
        &serde_json::json!({"wait_for_export": true}),
    )
    .expect("the schedule's input reads");
    assert!(input.wait_for_export);
}

#[test]
fn a_tripped_brake_holds_before_push_until_a_person_approves_and_never_in_a_dry_run() {
    let definition = definition();
    let states = all_states(&definition);
    let push = task_calling(&states, "Push");
    let check = task_calling(&states, "CheckHold");
    assert_eq!(check.state["ResultPath"], "$.hold");
    assert_eq!(
        check.enclosing,
        Vec::<String>::new(),
        "the hold is at top level"
    );

    // Only the brake's Choice (after the dry-run guard) and the hold's Wait enter the check.
    let entries: Vec<&StateAt> = states
        .iter()
        .filter(|s| transitions(&s.state).contains(&check.name))
        .collect();
    assert_eq!(
        entries.len(),
        2,
        "{:?}",
        entries.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let brake = entries
        .iter()
        .find(|s| s.state["Type"] == "Choice")
        .expect("a Choice enters the hold");
    let wait = entries
        .iter()
        .find(|s| s.state["Type"] == "Wait")
        .expect("the hold loops through a Wait");
    assert_eq!(wait.state["SecondsPath"], "$.run.hold_poll_seconds");
    assert_eq!(brake.state["Default"], Value::String(push.name.clone()));
    let rules = brake.state["Choices"].as_array().expect("choices");
    assert!(
        rules.iter().any(|r| r["Variable"] == "$.run.dry_run"
            && r["BooleanEquals"] == true
            && r["Next"] != Value::String(check.name.clone())),
        "a dry run never holds"
    );
    let hold_rule = rules
        .iter()
        .find(|r| r["Next"] == Value::String(check.name.clone()))
        .expect("a rule enters the hold");
    // A missing verdict (an older summary) must not fail the Choice: IsPresent first.
    assert_eq!(
        hold_rule["And"],
        serde_json::json!([
            {"Variable": "$.transform.brake.tripped", "IsPresent": true},
            {"Variable": "$.transform.brake.tripped", "BooleanEquals": true}
        ])
    );
    let into_brake: Vec<&str> = states
        .iter()
        .filter(|s| transitions(&s.state).contains(&brake.name))
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(into_brake, ["Push unless this is a dry run"]);

    // After a look: approved → Push; the first look → tell people; else wait.
    assert_eq!(check.state["Next"], HOLD_DECIDED);
    let decided = top_state(&definition, HOLD_DECIDED);
    assert_eq!(decided["Default"], Value::String(wait.name.clone()));
    let rules = decided["Choices"].as_array().expect("choices");
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0]["Variable"], "$.hold.decision");
    assert_eq!(rules[0]["StringEquals"], "approved");
    assert_eq!(rules[0]["Next"], Value::String(push.name.clone()));
    assert_eq!(rules[1]["Variable"], "$.hold.checks");
    assert_eq!(rules[1]["NumericEquals"], 1);

    // Telling people never ends the hold: each notice catches inside its branch.
    let tell = top_state(&definition, rules[1]["Next"].as_str().expect("Next"));
    assert_eq!(tell["Type"], "Parallel");
    assert_eq!(tell["Next"], Value::String(wait.name.clone()));
    assert_eq!(tell["ResultPath"], Value::Null);
    let notices: Vec<&StateAt> = states
        .iter()
        .filter(|s| {
            s.enclosing.first() == Some(&rules[1]["Next"].as_str().unwrap_or_default().to_string())
        })
        .filter(|s| s.state["Type"] == "Task")
        .collect();
    let steps: BTreeSet<String> = notices.iter().filter_map(|s| task_step(&s.state)).collect();
    assert_eq!(
        steps,
        BTreeSet::from(["NotifySlack".to_string(), "EmailReport".to_string()])
    );
    for notice in notices {
        let (next, _) = catches_all(&notice.state)
            .unwrap_or_else(|| panic!("{:?} must catch its own failure", notice.name));
        let scope = scope_of(&definition, &notice.name).expect("scope");
        assert_eq!(scope[&next]["Type"], "Pass", "{:?}", notice.name);
        assert_eq!(scope[&next]["End"], true, "{:?}", notice.name);
        let params = &notice.state["Parameters"];
        assert!(
            params["kind"] == "hold" || params["notice"] == "hold",
            "{:?} sends the hold notice: {params}",
            notice.name
        );
    }
}

#[test]
fn alma_is_polled_in_a_loop_that_ends_when_done_or_out_of_time_while_the_years_are_cached() {
    let definition = definition();
    let states = all_states(&definition);
    let check = task_calling(&states, "CheckJob");
    let wait = states
        .iter()
        .find(|s| s.state["Type"] == "Wait" && s.state["Next"] == Value::String(check.name.clone()))
        .expect("a Wait state before the check of Alma's job");
    assert_eq!(wait.state["SecondsPath"], "$.run.poll_interval_seconds");
    assert_eq!(wait.state["Next"], Value::String(check.name.clone()));
    assert_eq!(check.state["ResultPath"], "$.alma_job");
    let decide = scope_of(&definition, &check.name).expect("scope")
        [check.state["Next"].as_str().expect("Next")]
    .clone();
    assert_eq!(decide["Type"], "Choice");
    assert_eq!(
        decide["Default"],
        Value::String(wait.name.clone()),
        "not done → wait again"
    );
    let variables: BTreeSet<&str> = decide["Choices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["Variable"].as_str())
        .collect();
    assert_eq!(
        variables,
        BTreeSet::from(["$.alma_job.done", "$.alma_job.timed_out"])
    );

    let map = states
        .iter()
        .find(|s| s.state["Type"] == "Map")
        .expect("a Map state");
    assert_eq!(map.state["ItemsPath"], "$.transform.years_needed");
    assert_eq!(map.state["ResultPath"], "$.caches");
    assert_eq!(map.state["ItemSelector"]["year.$"], "$$.Map.Item.Value");
    assert_eq!(map.state["ItemSelector"]["run.$"], "$.run");
    let concurrency = map.state["MaxConcurrency"]
        .as_u64()
        .expect("MaxConcurrency");
    assert!(
        (1..=5).contains(&concurrency),
        "a few years at a time, not {concurrency}"
    );
    assert_eq!(
        wait.top_level, map.top_level,
        "waiting and caching run in the same Parallel"
    );
}

#[test]
fn the_cache_map_runs_as_many_branches_at_once_as_the_alma_rate_split_allows_for() {
    let definition = definition();
    let states = all_states(&definition);
    let maps: Vec<&StateAt> = states.iter().filter(|s| s.state["Type"] == "Map").collect();
    assert_eq!(maps.len(), 1, "one Map: the cache's");
    assert_eq!(
        task_step(&maps[0].state["ItemProcessor"]["States"]["Cache Alma courses for the year"])
            .as_deref(),
        Some("CacheCourses")
    );
    assert_eq!(
        maps[0].state["MaxConcurrency"].as_u64(),
        Some(u64::from(
            leganto_shared::run::alma_rate::CACHE_MAP_CONCURRENCY
        )),
        "each cache branch gets AlmaRate's share for this many at once"
    );
}

#[test]
fn each_stage_puts_its_output_under_its_own_key() {
    let expected = [
        ("Plan", "$"),
        ("Pull", "$.pull"),
        ("Transform", "$.transform"),
        ("Push", "$.push"),
        ("CheckJob", "$.alma_job"),
        ("RolloverReport", "$.report"),
        ("EmailReport", "$.email"),
        ("CheckHold", "$.hold"),
    ];
    let states = all_states(&definition());
    for (step, path) in expected {
        let task = task_calling(&states, step);
        assert_eq!(task.state["ResultPath"], path, "{:?}", task.name);
    }
    let look = states
        .iter()
        .find(|s| is_look(&s.state))
        .expect("a look for the export");
    assert_eq!(look.state["ResultPath"], "$.export_look");
    let plan = task_calling(&states, "Plan");
    assert_eq!(
        plan.state["Parameters"]["execution_arn.$"],
        "$$.Execution.Id"
    );
    assert_eq!(plan.state["Parameters"]["input.$"], "$");
}

#[test]
fn every_state_is_reachable_from_the_start() {
    let definition = definition();
    fn check(machine: &Value, label: &str) {
        let states = machine["States"].as_object().expect("States");
        let mut reached = BTreeSet::new();
        let mut todo = vec![machine["StartAt"].as_str().expect("StartAt").to_string()];
        while let Some(name) = todo.pop() {
            if !reached.insert(name.clone()) {
                continue;
            }
            let state = states
                .get(&name)
                .unwrap_or_else(|| panic!("{label}: unknown state {name:?}"));
            todo.extend(transitions(state));
            for branch in state
                .get("Branches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                check(branch, &name);
            }
            if let Some(processor) = state.get("ItemProcessor") {
                check(processor, &name);
            }
        }
        let orphans: Vec<_> = states.keys().filter(|k| !reached.contains(*k)).collect();
        assert!(
            orphans.is_empty(),
            "{label}: unreachable states {orphans:?}"
        );
    }
    check(&definition, "top level");
}

#[test]
fn a_delivered_run_gives_its_day_back_before_it_succeeds_even_when_that_fails() {
    let definition = definition();
    let delivery = top_state(&definition, "Deliver the report");
    let release_name = delivery["Next"].as_str().expect("delivery has Next");
    let release = top_state(&definition, release_name);
    assert_eq!(task_step(release).as_deref(), Some("Release"));
    assert_eq!(release["ResultPath"], Value::Null);
    assert_eq!(
        release["Parameters"]["execution_arn.$"], "$$.Execution.Id",
        "release compares the lease's holder with this execution"
    );
    let succeed = release["Next"].as_str().expect("release has Next");
    assert_eq!(top_state(&definition, succeed)["Type"], "Succeed");
    let (after_error, _) = catches_all(release).expect("release catches");
    assert_eq!(
        after_error, succeed,
        "the lease runs out by itself: a failed release does not fail a good run"
    );
}

#[test]
fn a_preflight_runs_each_peers_check_in_its_own_function_and_never_plans_a_day() {
    let definition = definition();
    let start = definition["StartAt"].as_str().expect("StartAt");
    let choice = top_state(&definition, start);
    assert_eq!(choice["Type"], "Choice");
    assert_eq!(
        choice["Default"], "Plan the run",
        "every other input runs the day"
    );
    let rules = choice["Choices"].as_array().expect("choices");
    assert_eq!(rules.len(), 1);
    // A missing field must not fail the Choice: IsPresent first.
    assert_eq!(
        rules[0]["And"],
        serde_json::json!([
            {"Variable": "$.preflight", "IsPresent": true},
            {"Variable": "$.preflight", "BooleanEquals": true}
        ])
    );
    let parallel_name = rules[0]["Next"].as_str().expect("Next");
    let parallel = top_state(&definition, parallel_name);
    assert_eq!(parallel["Type"], "Parallel");

    let mut functions = BTreeSet::new();
    for branch in parallel["Branches"].as_array().expect("branches") {
        let task = &branch["States"][branch["StartAt"].as_str().expect("StartAt")];
        let step = task_step(task).expect("a Task calling a function");
        assert_eq!(task["Parameters"], serde_json::json!({"preflight": true}));
        let (caught, result_path) = catches_all(task).expect("each branch catches its own");
        assert_eq!(result_path, "$.error");
        let note = &branch["States"][caught.as_str()];
        assert_eq!(note["Type"], "Pass");
        assert_eq!(note["End"], true, "a failed check ends its branch only");
        assert_eq!(note["Parameters"]["error.$"], "$.error.Error");
        assert_eq!(note["Parameters"]["cause.$"], "$.error.Cause");
        functions.insert(step);
    }
    let expected: BTreeSet<String> = ["Pull", "Push", "CheckJob", "EmailReport", "NotifySlack"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(functions, expected, "every function that reaches a peer");

    // After the checks, the checklist is the output and the execution ends.
    let report = top_state(&definition, parallel["Next"].as_str().expect("Next"));
    assert_eq!(report["Type"], "Pass");
    assert_eq!(report["Parameters"]["preflight.$"], "$");
    assert_eq!(report["End"], true);
}
