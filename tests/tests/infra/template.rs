//! The SAM template: functions on the naming ladder, the state machine's substitutions and
//! policies, storage hardening, the schedule, and settings the functions' config accepts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use leganto_shared::page::metrics::{emf_line, METRICS, NAMESPACE, STACK_DIMENSION};
use leganto_shared::run::report::DayReport;
use leganto_shared::secrets::SecretPurpose;
use serde_yaml_ng::Value as Yaml;

use super::support::*;

fn function_resources(template: &Yaml) -> BTreeMap<String, Yaml> {
    resources(template)
        .into_iter()
        .filter(|(_, r)| resource_type(r) == "AWS::Serverless::Function")
        .collect()
}

fn number(value: Option<&Yaml>) -> Option<u64> {
    value.and_then(scalar).and_then(|s| s.parse().ok())
}

/// The template's one state machine resource.
fn state_machine(template: &Yaml) -> Yaml {
    resources(template)
        .into_iter()
        .find(|(_, r)| resource_type(r) == "AWS::Serverless::StateMachine")
        .map(|(_, r)| r)
        .expect("one state machine")
}

#[test]
fn one_function_per_step_on_the_naming_ladder_built_by_cargo_lambda_for_arm64() {
    let template = template();
    let functions = function_resources(&template);
    let names: BTreeSet<String> = functions.keys().cloned().collect();
    let expected: BTreeSet<String> = STEPS.iter().map(|s| format!("{s}Function")).collect();
    assert_eq!(names, expected);

    let globals = get(&template, &["Globals", "Function"]).expect("Globals.Function");
    assert_eq!(
        scalar(&globals["Runtime"]).as_deref(),
        Some("provided.al2023")
    );
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    assert_eq!(scalar(&globals["Handler"]).as_deref(), Some("bootstrap"));
    // Each function names its own LogGroup; SAM merges it into these.
    assert_eq!(
        scalar(&globals["LoggingConfig"]["LogFormat"]).as_deref(),
        Some("JSON")
    );

    let all = resources(&template);
    for step in STEPS {
        let function = &functions[&format!("{step}Function")];
        assert_eq!(
            scalar(&function["Metadata"]["BuildMethod"]).as_deref(),
            Some("rust-cargolambda")
        );
        assert_eq!(
            scalar(&function["Metadata"]["BuildProperties"]["Binary"]),
            Some(binary_name(step)),
            "{step}: binary on the naming ladder"
        );
        let props = &function["Properties"];
        assert_eq!(
            scalar(&props["CodeUri"]).as_deref(),
            Some("."),
            "cargo-lambda builds at the workspace root"
        );
        let (tag, group) = untag(&props["LoggingConfig"]["LogGroup"]);
        assert_eq!(
            tag.as_deref(),
            Some("!Ref"),
            "{step}: logs go to a log group of the stack"
        );
        let group = &all[group.as_str().expect("log group name")];
        assert_eq!(resource_type(group), "AWS::Logs::LogGroup");
        assert!(
            get(group, &["Properties", "RetentionInDays"]).is_some(),
            "{step}: log retention"
        );
        for arch in ["Runtime", "Architectures", "Handler"] {
            assert!(
                props.get(arch).is_none(),
                "{step}: {arch} comes from Globals only"
            );
        }
    }
    assert_eq!(
        number(get(
            &functions["TransformFunction"],
            &["Properties", "MemorySize"]
        )),
        // A 1,000,000-row delta day peaks at about 510 MB; 1,024 MB leaves room.
        Some(1024)
    );
    assert_eq!(
        number(get(
            &functions["TransformFunction"],
            &["Properties", "Timeout"]
        )),
        Some(300)
    );
}

#[test]
fn each_task_waits_longer_than_its_function_may_run() {
    let template = template();
    let functions = function_resources(&template);
    let global_timeout =
        number(get(&template, &["Globals", "Function", "Timeout"])).expect("global timeout");
    for state in all_states(&definition()) {
        let Some(step) = task_step(&state.state) else {
            continue;
        };
        let function = &functions[&format!("{step}Function")];
        let lambda_timeout =
            number(get(function, &["Properties", "Timeout"])).unwrap_or(global_timeout);
        let task_timeout = state.state["TimeoutSeconds"]
            .as_u64()
            .expect("TimeoutSeconds");
        assert!(
            task_timeout > lambda_timeout,
            "{:?}: Task timeout {task_timeout}s must exceed the function's {lambda_timeout}s",
            state.name
        );
        assert!(lambda_timeout <= 900, "{step}: Lambda's limit is 900 s");
    }
}

#[test]
fn every_placeholder_in_the_definition_is_a_substitution_of_its_functions_arn() {
    let template = template();
    let machine = state_machine(&template);
    let props = &machine["Properties"];
    assert_eq!(
        scalar(&props["DefinitionUri"]).as_deref(),
        Some("infra/statemachine.asl.json")
    );
    assert!(
        props.get("Definition").is_none(),
        "the definition lives in its own file"
    );

    let substitutions: BTreeMap<String, String> = props["DefinitionSubstitutions"]
        .as_mapping()
        .expect("DefinitionSubstitutions")
        .iter()
        .map(|(k, v)| {
            let (tag, target) = untag(v);
            assert_eq!(tag.as_deref(), Some("!GetAtt"), "{k:?} is a function's ARN");
            (
                k.as_str().expect("key").to_string(),
                target.as_str().expect("target").to_string(),
            )
        })
        .collect();
    for (key, target) in &substitutions {
        let function = key.strip_suffix("Arn").expect("<Step>FunctionArn");
        assert_eq!(target, &format!("{function}.Arn"));
    }

    let text = definition_text();
    let mut used = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').expect("closed placeholder");
        used.insert(after[..end].to_string());
        rest = &after[end..];
    }
    let defined: BTreeSet<String> = substitutions.keys().cloned().collect();
    assert_eq!(used, defined, "placeholders used == substitutions defined");
}

#[test]
fn the_state_machine_may_invoke_exactly_the_step_functions() {
    let template = template();
    let machine = state_machine(&template);
    let mut invoked = BTreeSet::new();
    for policy in machine["Properties"]["Policies"]
        .as_sequence()
        .expect("Policies")
    {
        if let Some(invoke) = policy.get("LambdaInvokePolicy") {
            let (tag, name) = untag(&invoke["FunctionName"]);
            assert_eq!(tag.as_deref(), Some("!Ref"));
            invoked.insert(name.as_str().expect("name").to_string());
        }
    }
    let expected: BTreeSet<String> = STEPS.iter().map(|s| format!("{s}Function")).collect();
    assert_eq!(invoked, expected);
}

/// Every IAM statement with its resource name, from functions, the state machine and policies.
fn statements(template: &Yaml) -> Vec<(String, Yaml)> {
    let mut out = Vec::new();
    for (name, resource) in resources(template) {
        let props = &resource["Properties"];
        for policy in props
            .get("Policies")
            .and_then(Yaml::as_sequence)
            .into_iter()
            .flatten()
        {
            for statement in policy
                .get("Statement")
                .and_then(Yaml::as_sequence)
                .into_iter()
                .flatten()
            {
                out.push((name.clone(), statement.clone()));
            }
        }
        if let Some(document) = props.get("PolicyDocument") {
            for statement in document
                .get("Statement")
                .and_then(Yaml::as_sequence)
                .into_iter()
                .flatten()
            {
                out.push((name.clone(), statement.clone()));
            }
        }
    }
    out
}

fn actions(statement: &Yaml) -> Vec<String> {
    match untag(&statement["Action"]).1 {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Sequence(list) => list
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn no_grant_uses_a_wildcard_action_and_secrets_and_mail_are_granted_narrowly() {
    let template = template();
    let all = statements(&template);
    assert!(all.len() > 10, "statements found: {}", all.len());
    for (resource, statement) in &all {
        let effect = scalar(&statement["Effect"]).unwrap_or_default();
        for action in actions(statement) {
            if effect == "Allow" {
                assert!(
                    !action.contains('*'),
                    "{resource} grants wildcard action {action}"
                );
            }
        }
        if actions(statement)
            .iter()
            .any(|a| a.starts_with("secretsmanager:"))
        {
            assert_eq!(
                actions(statement),
                ["secretsmanager:GetSecretValue"],
                "{resource}"
            );
            assert!(
                secret_of(&statement["Resource"]).is_some(),
                "{resource}: only one of the run's secrets"
            );
        }
        if actions(statement).iter().any(|a| a.starts_with("ses:")) {
            assert_eq!(
                resource, "EmailReportFunction",
                "only the e-mail step sends mail"
            );
            assert!(
                statement.get("Condition").is_some(),
                "mail only from the configured sender"
            );
        }
        if actions(statement).iter().any(|a| a.starts_with("s3:")) && effect == "Allow" {
            let text = serde_yaml_ng::to_string(&statement["Resource"]).expect("yaml");
            assert!(
                text.contains("Bucket"),
                "{resource}: S3 access only to the bucket ({text})"
            );
        }
    }
    for quiet in ["PlanFunction", "EmailReportFunction"] {
        assert!(
            !all.iter()
                .any(|(r, s)| r == quiet
                    && actions(s).iter().any(|a| a.starts_with("secretsmanager:"))),
            "{quiet} must not read a secret"
        );
    }
}

/// The secret resource behind `!If [Create<X>, !Ref <X>, !Ref Existing<X>Arn]`.
fn secret_of(value: &Yaml) -> Option<String> {
    let (tag, inner) = untag(value);
    if tag.as_deref() != Some("!If") {
        return None;
    }
    let condition = inner[0].as_str()?;
    let (created_tag, created) = untag(&inner[1]);
    let (existing_tag, existing) = untag(&inner[2]);
    let created = created.as_str()?;
    let well_formed = created_tag.as_deref() == Some("!Ref")
        && existing_tag.as_deref() == Some("!Ref")
        && condition == format!("Create{created}")
        && existing.as_str() == Some(format!("Existing{created}Arn").as_str());
    well_formed.then(|| created.to_string())
}

/// Each secret resource and the setting that names it.
const SECRETS: [(&str, SecretPurpose); 4] = [
    ("AlmaApiKeySecret", SecretPurpose::AlmaApiKey),
    ("CemSftpSecret", SecretPurpose::CemSftp),
    ("AlmaSftpSecret", SecretPurpose::AlmaSftp),
    ("SlackWebhookSecret", SecretPurpose::SlackWebhook),
];

/// Which secrets each step's code reads (shared/src/steps: `ctx.alma()`,
/// `ctx.course_cache()`, `ctx.cem_sftp()`, `ctx.alma_sftp()`, `ctx.slack()`).
fn secrets_read_by(step: &str) -> BTreeSet<String> {
    let names: &[&str] = match step {
        "Pull" => &["CemSftpSecret"],
        "Push" => &["AlmaSftpSecret", "AlmaApiKeySecret"],
        "Transform" | "CheckJob" | "CacheCourses" | "RolloverReport" => &["AlmaApiKeySecret"],
        "NotifySlack" => &["SlackWebhookSecret"],
        _ => &[],
    };
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn each_function_is_given_and_may_read_exactly_the_secrets_its_step_uses() {
    let template = template();
    let functions = function_resources(&template);
    let all = statements(&template);
    for step in STEPS {
        let name = format!("{step}Function");
        let function = &functions[&name];
        let granted: BTreeSet<String> = all
            .iter()
            .filter(|(r, s)| {
                r == &name && actions(s).iter().any(|a| a.starts_with("secretsmanager:"))
            })
            .map(|(_, s)| secret_of(&s["Resource"]).expect("one secret per grant"))
            .collect();
        let mut given = BTreeSet::new();
        for (variable, value) in get(function, &["Properties", "Environment", "Variables"])
            .and_then(Yaml::as_mapping)
            .into_iter()
            .flatten()
        {
            let variable = variable.as_str().expect("name");
            let secret =
                secret_of(value).unwrap_or_else(|| panic!("{name}: {variable} is not a secret id"));
            let (_, purpose) = SECRETS
                .iter()
                .find(|(resource, _)| *resource == secret)
                .unwrap_or_else(|| panic!("{name}: unknown secret {secret}"));
            assert_eq!(variable, purpose.setting(), "{name}: names {secret}");
            given.insert(secret);
        }
        let expected = secrets_read_by(step);
        assert_eq!(granted, expected, "{name}: secrets it may read");
        assert_eq!(given, expected, "{name}: secrets it is told of");
    }
}

#[test]
fn the_bucket_is_encrypted_private_tls_only_and_expires_files_after_the_retention_days() {
    let template = template();
    let all = resources(&template);
    let bucket = &all["Bucket"]["Properties"];
    assert!(
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]
            .get("SSEAlgorithm")
            .is_some()
    );
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            bucket["PublicAccessBlockConfiguration"][flag].as_bool(),
            Some(true),
            "{flag}"
        );
    }
    // Every day's prefix expires after RetentionDays; state/ (the baseline) and config/
    // (the rules) never do. The bucket is versioned (the rules' versions): every old copy
    // goes a day after it stops being current, but the 100 newest of the rules.
    assert_eq!(
        scalar(&bucket["VersioningConfiguration"]["Status"]).as_deref(),
        Some("Enabled")
    );
    let Yaml::Sequence(rules) = &bucket["LifecycleConfiguration"]["Rules"] else {
        panic!("lifecycle rules");
    };
    let mut prefixes = BTreeSet::new();
    let mut old_copies_go = BTreeSet::new();
    for rule in rules {
        assert_eq!(scalar(&rule["Status"]).as_deref(), Some("Enabled"));
        let prefix = scalar(&rule["Prefix"]).expect("each rule names its prefix");
        if let Some(days) = rule.get("ExpirationInDays") {
            let (tag, parameter) = untag(days);
            assert_eq!(
                (tag.as_deref(), parameter.as_str()),
                (Some("!Ref"), Some("RetentionDays"))
            );
            prefixes.insert(prefix.clone());
        }
        if let Some(noncurrent) = rule.get("NoncurrentVersionExpiration") {
            assert_eq!(
                number(noncurrent.get("NoncurrentDays")),
                Some(1),
                "{prefix}"
            );
            let kept = number(noncurrent.get("NewerNoncurrentVersions"));
            assert_eq!(kept, (prefix == "config/").then_some(100), "{prefix}");
            old_copies_go.insert(prefix.clone());
        }
        if prefix.is_empty() {
            assert_eq!(rule["ExpiredObjectDeleteMarker"].as_bool(), Some(true));
        }
    }
    let days = ["alma/", "cache/", "cem/", "dry-run/", "locks/", "reports/"];
    assert_eq!(prefixes, days.map(String::from).into());
    let mut every_prefix: BTreeSet<String> = days.map(String::from).into();
    every_prefix.extend(["state/".to_string(), "config/".to_string()]);
    assert_eq!(old_copies_go, every_prefix, "old copies of every prefix go");
    assert_eq!(
        number(get(&template, &["Parameters", "RetentionDays", "Default"])),
        Some(42)
    );

    let policy = all
        .values()
        .find(|r| resource_type(r) == "AWS::S3::BucketPolicy")
        .expect("a bucket policy");
    let statement = &policy["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(scalar(&statement["Effect"]).as_deref(), Some("Deny"));
    assert_eq!(
        scalar(&statement["Condition"]["Bool"]["aws:SecureTransport"]).as_deref(),
        Some("false")
    );
}

/// A CloudFormation value as deployed with `parameters`: the short forms the schedule uses
/// (`!Ref`, `!Sub` with its map, `!Select`, `!Split`) and plain strings.
fn evaluate(value: &Yaml, parameters: &BTreeMap<&str, &str>) -> Yaml {
    let (tag, inner) = untag(value);
    let list = |v: &Yaml| v.as_sequence().cloned().unwrap_or_default();
    match tag.as_deref() {
        None => inner.clone(),
        Some("!Ref") => {
            let name = inner.as_str().expect("!Ref names a parameter");
            Yaml::String(parameters[name].to_string())
        }
        Some("!Split") => {
            let args = list(inner);
            let separator = scalar(&args[0]).expect("separator");
            let text = scalar(&evaluate(&args[1], parameters)).expect("text");
            Yaml::Sequence(
                text.split(separator.as_str())
                    .map(|p| Yaml::String(p.to_string()))
                    .collect(),
            )
        }
        Some("!Select") => {
            let args = list(inner);
            let index: usize = scalar(&args[0]).expect("index").parse().expect("a number");
            list(&evaluate(&args[1], parameters))[index].clone()
        }
        Some("!Sub") => {
            let args = list(inner);
            let mut text = scalar(&args[0]).expect("template string");
            for (name, v) in args[1].as_mapping().expect("variables") {
                let name = name.as_str().expect("name");
                let v = scalar(&evaluate(v, parameters)).expect("value");
                text = text.replace(&format!("${{{name}}}"), &v);
            }
            Yaml::String(text)
        }
        Some(other) => panic!("{other} is not evaluated here"),
    }
}

#[test]
fn the_daily_schedule_starts_the_run_at_the_schedule_time_in_the_time_zone_asking_it_to_wait() {
    let template = template();
    let machine = state_machine(&template);
    let events = machine["Properties"]["Events"]
        .as_mapping()
        .expect("Events");
    assert_eq!(events.len(), 1);
    let event = events.values().next().expect("one event");
    assert_eq!(scalar(&event["Type"]).as_deref(), Some("ScheduleV2"));
    let props = &event["Properties"];
    let default = |name: &str| {
        scalar(get(&template, &["Parameters", name, "Default"]).expect("parameter"))
            .expect("a default")
    };
    assert_eq!(default("ScheduleTime"), "09:20");
    for (time, cron) in [
        ("09:20", "cron(20 09 * * ? *)"),
        ("23:05", "cron(05 23 * * ? *)"),
        ("00:00", "cron(00 00 * * ? *)"),
    ] {
        let parameters = BTreeMap::from([("ScheduleTime", time)]);
        let expression = evaluate(&props["ScheduleExpression"], &parameters);
        assert_eq!(scalar(&expression).as_deref(), Some(cron), "{time}");
    }
    // HH:MM in 24 h only: two digits each, as the cron's fields.
    assert_eq!(
        get(&template, &["Parameters", "ScheduleTime", "AllowedPattern"]).and_then(scalar),
        Some("^([01][0-9]|2[0-3]):[0-5][0-9]$".to_string())
    );
    let (_, zone) = untag(&props["ScheduleExpressionTimezone"]);
    let zone = zone.as_str().expect("zone");
    let zone = scalar(get(&template, &["Parameters", zone, "Default"]).expect("parameter"))
        .unwrap_or(zone.to_string());
    assert_eq!(zone, "America/Phoenix");
    // The schedule's run waits for a late export; its run date is the start's day.
    let input = scalar(&props["Input"]).expect("Input");
    let input = leganto_shared::run::ExecutionInput::from_value(
        &serde_json::from_str(&input).expect("JSON"),
    )
    .expect("the plan reads it");
    assert!(input.wait_for_export);
    assert!(
        input.is_scheduled(),
        "the schedule's input is a scheduled run"
    );
    assert_eq!(input.run_date, None);
    assert_eq!(input.first_stage(), leganto_shared::run::Stage::Pull);
    assert_eq!(default("ExportWaitMinutes"), "120");
}

#[test]
fn each_secret_is_created_with_placeholders_unless_an_existing_one_is_named() {
    let template = template();
    let all = resources(&template);
    for (name, purpose) in SECRETS {
        let parameter = format!("Existing{name}Arn");
        assert_eq!(
            get(&template, &["Parameters", &parameter, "Default"]).and_then(scalar),
            Some(String::new()),
            "{parameter}: empty creates the secret"
        );
        let secret = &all[name];
        assert_eq!(resource_type(secret), "AWS::SecretsManager::Secret");
        assert_eq!(
            scalar(&secret["Condition"]),
            Some(format!("Create{name}")),
            "{name}"
        );
        assert_eq!(scalar(&secret["DeletionPolicy"]).as_deref(), Some("Retain"));
        let text = scalar(&secret["Properties"]["SecretString"]).expect("placeholder");
        let shape: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert!(text.contains("REPLACE_ME"), "{name}: {text}");
        let fields: &[&str] = match purpose {
            SecretPurpose::AlmaApiKey => &["api_key"],
            SecretPurpose::SlackWebhook => &["webhook_url"],
            SecretPurpose::CemSftp | SecretPurpose::AlmaSftp => {
                &["host", "user", "password", "host_key_sha256", "directory"]
            }
        };
        for field in fields {
            assert!(shape.get(field).is_some(), "{name} has {field}");
        }
        let output = get(&template, &["Outputs", &format!("{name}Arn"), "Value"])
            .unwrap_or_else(|| panic!("an output names {name}"));
        assert_eq!(secret_of(output).as_deref(), Some(name));
    }
    let secrets = all
        .values()
        .filter(|r| resource_type(r) == "AWS::SecretsManager::Secret")
        .count();
    assert_eq!(secrets, SECRETS.len(), "one secret per purpose");
}

/// Resolves a template value to the text a function would see, using parameter defaults
/// (or a sample for parameters without one) and a placeholder for resources.
fn resolve(template: &Yaml, value: &Yaml) -> String {
    let (tag, inner) = untag(value);
    match tag.as_deref() {
        Some("!Ref") => {
            let name = inner.as_str().expect("Ref name");
            match get(template, &["Parameters", name]) {
                Some(parameter) => match parameter.get("Default").and_then(scalar) {
                    Some(default) => default,
                    None if name.contains("Recipients") => "a@example.edu, b@example.edu".into(),
                    None if name.contains("Sender") => "library@example.edu".into(),
                    None => format!("sample-{name}"),
                },
                None => format!("resource-{name}"),
            }
        }
        Some("!If") => resolve(template, &inner[1]),
        Some(other) => panic!("unexpected tag {other} in a setting"),
        None => scalar(inner).unwrap_or_default(),
    }
}

#[test]
fn the_functions_settings_are_exactly_what_the_config_reads_and_it_accepts_them() {
    let template = template();
    let variables = get(
        &template,
        &["Globals", "Function", "Environment", "Variables"],
    )
    .and_then(Yaml::as_mapping)
    .expect("Globals environment");
    let mut env: BTreeMap<String, String> = variables
        .iter()
        .map(|(k, v)| (k.as_str().expect("name").to_string(), resolve(&template, v)))
        .collect();
    assert!(
        !env.keys().any(|k| k.ends_with("_SECRET_ID")),
        "secret ids are per function, never global"
    );
    // Every function's own settings (its secret ids) on top: together, all a config reads.
    for (name, function) in function_resources(&template) {
        for (variable, value) in get(&function, &["Properties", "Environment", "Variables"])
            .and_then(Yaml::as_mapping)
            .into_iter()
            .flatten()
        {
            let variable = variable.as_str().expect("name");
            assert!(
                variable.ends_with("_SECRET_ID"),
                "{name}: {variable} belongs in Globals"
            );
            env.insert(variable.to_string(), resolve(&template, value));
        }
    }
    let read = Mutex::new(BTreeSet::new());
    let config = leganto_shared::config::Config::from_lookup(|name| {
        read.lock().expect("lock").insert(name.to_string());
        env.get(name).cloned()
    });
    let config = config.unwrap_or_else(|e| panic!("the template's settings are rejected: {e}"));
    assert_eq!(config.time_zone.name(), "America/Phoenix");
    assert_eq!(config.email.to.len(), 2);
    for purpose in SecretPurpose::ALL {
        assert!(config.secret_id(purpose).is_ok(), "{}", purpose.setting());
    }
    let read = read.into_inner().expect("lock");
    let unread: Vec<_> = env.keys().filter(|k| !read.contains(*k)).collect();
    assert!(
        unread.is_empty(),
        "the template sets settings nothing reads: {unread:?}"
    );
}

#[test]
fn each_functions_folder_builds_the_binary_its_template_entry_names() {
    for step in STEPS {
        let binary = binary_name(step);
        let folder = binary.trim_start_matches("leganto-");
        let manifest = repo_root()
            .join("functions")
            .join(folder)
            .join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|e| panic!("{step}Function needs {}: {e}", manifest.display()));
        assert!(
            text.contains(&format!("name = \"{binary}\"")),
            "{} must name the package (and binary) {binary}",
            manifest.display()
        );
    }
}

// ------------------------------------------------------------------ S3 by key prefix

/// What each function may do in the bucket, by key pattern (`docs/deploy.md` has the table);
/// a ListBucket entry is an `s3:prefix` it may list.
const S3_GRANTS: [(&str, &[(&str, &str)]); 11] = [
    (
        "Plan",
        &[
            ("s3:GetObject", "reports/*/run-summary.json"),
            ("s3:GetObject", "alma/*/pushed.json"),
            ("s3:GetObject", "dry-run/*/reports/run-summary.json"),
            ("s3:GetObject", "locks/*/run.json"),
            ("s3:GetObject", "dry-run/*/locks/run.json"),
            ("s3:PutObject", "locks/*/run.json"),
            ("s3:PutObject", "dry-run/*/locks/run.json"),
            ("s3:ListBucket", "alma/*"),
            ("s3:ListBucket", "reports/*"),
            ("s3:ListBucket", "locks/*"),
            ("s3:ListBucket", "dry-run/*"),
        ],
    ),
    (
        "Pull",
        &[
            ("s3:PutObject", "cem/*"),
            ("s3:PutObject", "dry-run/*/cem/*"),
            // The export is copied in parts; an interrupted copy is aborted.
            ("s3:AbortMultipartUpload", "cem/*"),
            ("s3:AbortMultipartUpload", "dry-run/*/cem/*"),
        ],
    ),
    (
        "Transform",
        &[
            ("s3:GetObject", "cem/*"),
            ("s3:GetObject", "dry-run/*/cem/*"),
            ("s3:ListBucket", "cem/*"),
            ("s3:ListBucket", "dry-run/*"),
            ("s3:PutObject", "alma/*"),
            ("s3:PutObject", "reports/*/rejects.csv"),
            ("s3:PutObject", "reports/*/run-summary.json"),
            ("s3:PutObject", "dry-run/*/alma/*"),
            ("s3:PutObject", "dry-run/*/reports/rejects.csv"),
            ("s3:PutObject", "dry-run/*/reports/run-summary.json"),
            // The safety brake: the last loaded day's receipt and summary.
            ("s3:GetObject", "alma/*/pushed.json"),
            ("s3:GetObject", "reports/*/run-summary.json"),
            ("s3:ListBucket", "alma/*"),
            ("s3:ListBucket", "reports/*"),
            // Delta loads: the baseline, and the day's course rows beside the day.
            ("s3:GetObject", "state/baseline.json"),
            ("s3:GetObject", "state/baseline-course-rows.tsv.gz"),
            ("s3:ListBucket", "state/*"),
            // A full load asked for the next scheduled day.
            ("s3:GetObject", "state/full-load-request.json"),
            ("s3:PutObject", "reports/*/course-rows.tsv.gz"),
            ("s3:PutObject", "dry-run/*/reports/course-rows.tsv.gz"),
            // Saved Alma answers.
            ("s3:ListBucket", "cache/*"),
            ("s3:GetObject", "cache/*/answers/*"),
            ("s3:PutObject", "cache/*/answers/*"),
            ("s3:GetObject", "dry-run/*/cache/answers/*"),
            ("s3:PutObject", "dry-run/*/cache/answers/*"),
            // The institution rules in force.
            ("s3:GetObject", "config/rules.toml"),
            ("s3:ListBucket", "config/*"),
        ],
    ),
    (
        "Push",
        &[
            ("s3:GetObject", "alma/*"),
            ("s3:PutObject", "alma/*"),
            // The fresh guard's copy is written in parts; an interrupted copy is aborted.
            ("s3:AbortMultipartUpload", "alma/*"),
            ("s3:GetObject", "reports/*/run-summary.json"),
            ("s3:ListBucket", "alma/*"),
            ("s3:ListBucket", "reports/*"),
            // The full load request the file followed, once pushed.
            ("s3:DeleteObject", "state/full-load-request.json"),
            // Approved rollovers: the ledger, and today's course rows to make their rows.
            ("s3:GetObject", "state/rollovers/*"),
            ("s3:PutObject", "state/rollovers/*"),
            ("s3:ListBucket", "state/rollovers/*"),
            ("s3:GetObject", "reports/*/course-rows.tsv.gz"),
        ],
    ),
    (
        "CheckHold",
        &[
            ("s3:GetObject", "reports/*/decision.json"),
            ("s3:ListBucket", "reports/*"),
        ],
    ),
    (
        "CheckJob",
        &[
            ("s3:GetObject", "reports/*/course-rows.tsv.gz"),
            // Whose rows: the run summary's file and the receipt's.
            ("s3:GetObject", "reports/*/run-summary.json"),
            ("s3:GetObject", "alma/*/pushed.json"),
            ("s3:GetObject", "state/baseline.json"),
            ("s3:PutObject", "state/baseline.json"),
            ("s3:PutObject", "state/baseline-course-rows.tsv.gz"),
            ("s3:ListBucket", "alma/*"),
            ("s3:ListBucket", "reports/*"),
            ("s3:ListBucket", "state/*"),
        ],
    ),
    (
        "CacheCourses",
        &[
            ("s3:GetObject", "cache/*"),
            ("s3:PutObject", "cache/*"),
            ("s3:GetObject", "dry-run/*/cache/*"),
            ("s3:PutObject", "dry-run/*/cache/*"),
            ("s3:ListBucket", "cache/*"),
            ("s3:ListBucket", "dry-run/*"),
        ],
    ),
    (
        "RolloverReport",
        &[
            ("s3:GetObject", "cem/*"),
            ("s3:GetObject", "cache/*"),
            ("s3:GetObject", "dry-run/*/cem/*"),
            ("s3:GetObject", "dry-run/*/cache/*"),
            ("s3:GetObject", "reports/*/course-rows.tsv.gz"),
            ("s3:GetObject", "dry-run/*/reports/course-rows.tsv.gz"),
            ("s3:ListBucket", "cem/*"),
            ("s3:ListBucket", "cache/*"),
            ("s3:ListBucket", "dry-run/*"),
            ("s3:ListBucket", "reports/*"),
            ("s3:PutObject", "reports/*/rollover_*"),
            ("s3:PutObject", "dry-run/*/reports/rollover_*"),
            ("s3:PutObject", "reports/*/rollover-marks.tsv"),
            ("s3:PutObject", "dry-run/*/reports/rollover-marks.tsv"),
            ("s3:PutObject", "cache/*/answers/*"),
            ("s3:PutObject", "dry-run/*/cache/answers/*"),
            // The institution rules in force (rollover exclusions).
            ("s3:GetObject", "config/rules.toml"),
            ("s3:ListBucket", "config/*"),
            // Sent rollovers confirmed or failed, naming the file from the push receipt.
            ("s3:GetObject", "state/rollovers/*"),
            ("s3:PutObject", "state/rollovers/*"),
            ("s3:ListBucket", "state/rollovers/*"),
            ("s3:GetObject", "alma/*/pushed.json"),
            ("s3:ListBucket", "alma/*"),
        ],
    ),
    (
        "EmailReport",
        &[
            ("s3:GetObject", "reports/*/rollover_*"),
            ("s3:ListBucket", "reports/*"),
        ],
    ),
    ("NotifySlack", &[]),
    (
        "Release",
        &[
            ("s3:GetObject", "locks/*/run.json"),
            ("s3:GetObject", "dry-run/*/locks/run.json"),
            ("s3:DeleteObject", "locks/*/run.json"),
            ("s3:DeleteObject", "dry-run/*/locks/run.json"),
            ("s3:ListBucket", "locks/*"),
            ("s3:ListBucket", "dry-run/*"),
            // The day page.
            ("s3:GetObject", "reports/*/run-summary.json"),
            ("s3:GetObject", "reports/*/figures.json"),
            ("s3:GetObject", "reports/*/rollover_*"),
            ("s3:GetObject", "dry-run/*/reports/run-summary.json"),
            ("s3:GetObject", "dry-run/*/reports/rollover_*"),
            ("s3:PutObject", "reports/*/index.html"),
            ("s3:PutObject", "reports/*/figures.json"),
            ("s3:PutObject", "dry-run/*/reports/index.html"),
            ("s3:PutObject", "dry-run/*/reports/figures.json"),
            ("s3:ListBucket", "reports/*"),
            ("s3:ListBucket", "cem/*"),
            ("s3:ListBucket", "alma/*"),
            ("s3:ListBucket", "cache/*"),
        ],
    ),
];

/// IAM's wildcard match, as the local stack applies it.
fn iam_match(pattern: &str, text: &str) -> bool {
    leganto_tests::iam::wildcard_match(pattern, text)
}

fn strings(value: &Yaml) -> Vec<String> {
    match untag(value).1 {
        Yaml::Sequence(list) => list.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    }
}

/// A function's S3 grants as (action, key pattern): object ARNs `${Bucket.Arn}/<pattern>`,
/// and for ListBucket on the bucket each `s3:prefix` it is limited to ("" when unlimited).
fn s3_grants(template: &Yaml, function: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (resource, statement) in statements(template) {
        if resource != function || scalar(&statement["Effect"]).as_deref() != Some("Allow") {
            continue;
        }
        let s3: Vec<String> = actions(&statement)
            .into_iter()
            .filter(|a| a.starts_with("s3:"))
            .collect();
        if s3.is_empty() {
            continue;
        }
        let targets: Vec<&Yaml> = match untag(&statement["Resource"]).1 {
            Yaml::Sequence(list) => list.iter().collect(),
            _ => vec![&statement["Resource"]],
        };
        for target in targets {
            let (tag, inner) = untag(target);
            let patterns = match (tag.as_deref(), scalar(inner)) {
                (Some("!GetAtt"), Some(arn)) if arn == "Bucket.Arn" => {
                    let prefixes = statement
                        .get("Condition")
                        .and_then(|c| c.get("StringLike"))
                        .and_then(|c| c.get("s3:prefix"))
                        .map(strings)
                        .unwrap_or_default();
                    if prefixes.is_empty() {
                        vec![String::new()]
                    } else {
                        prefixes
                    }
                }
                (Some("!Sub"), Some(text)) => vec![text
                    .strip_prefix("${Bucket.Arn}/")
                    .unwrap_or_else(|| panic!("{function}: S3 outside the bucket: {text}"))
                    .to_string()],
                other => panic!("{function}: unexpected S3 resource {other:?}"),
            };
            for action in &s3 {
                for pattern in &patterns {
                    out.insert((action.clone(), pattern.clone()));
                }
            }
        }
    }
    out
}

#[test]
fn iam_wildcards_match_any_run_of_characters_slashes_included() {
    assert!(iam_match("cem/*", "cem/2026/11/28/x.csv"));
    assert!(iam_match(
        "reports/*/rollover_*",
        "reports/2026/11/28/rollover_1.txt"
    ));
    assert!(iam_match("reports/*", "reports/*/run-summary.json"));
    assert!(!iam_match(
        "reports/*/rejects.csv",
        "reports/2026/11/28/run-summary.json"
    ));
    assert!(!iam_match("cem/*", "cache/2026/11/28/courses-2025.json"));
    assert!(!iam_match("alma/*", "alma"));
}

#[test]
fn each_function_may_touch_only_the_key_prefixes_its_step_uses() {
    let template = template();
    for (step, expected) in S3_GRANTS {
        let function = format!("{step}Function");
        let expected: BTreeSet<(String, String)> = expected
            .iter()
            .map(|(a, p)| (a.to_string(), p.to_string()))
            .collect();
        assert_eq!(s3_grants(&template, &function), expected, "{function}");
    }
    assert_eq!(
        S3_GRANTS.map(|(step, _)| step),
        STEPS,
        "every function is in the table"
    );
}

/// The functions that follow the institution rules, and no other, may read them.
const READ_RULES: [&str; 2] = ["Transform", "RolloverReport"];

#[test]
fn only_the_transform_and_the_rollover_report_may_read_or_list_config() {
    let template = template();
    for step in STEPS {
        let function = format!("{step}Function");
        let on_config: BTreeSet<String> = s3_grants(&template, &function)
            .into_iter()
            .filter(|(action, pattern)| match action.as_str() {
                "s3:ListBucket" => iam_match(pattern, "config/rules.toml"),
                _ => iam_match(pattern, "config/rules.toml") || iam_match(pattern, "config/x"),
            })
            .map(|(action, _)| action)
            .collect();
        // Read and listed (S3's 404 when there are none) by the two that follow the rules;
        // written by no function: only a person changes them, with `leganto rules push`.
        let expected: BTreeSet<String> = if READ_RULES.contains(&step) {
            ["s3:GetObject", "s3:ListBucket"].map(String::from).into()
        } else {
            BTreeSet::new()
        };
        assert_eq!(on_config, expected, "{function}: its grants on config/");
    }
}

#[test]
fn no_function_may_touch_the_whole_bucket_or_list_it_unfiltered() {
    let template = template();
    for step in STEPS {
        let function = format!("{step}Function");
        for (action, pattern) in s3_grants(&template, &function) {
            assert!(
                !pattern.is_empty() && !pattern.starts_with('*'),
                "{function}: {action} on the whole bucket"
            );
            assert!(
                pattern
                    .split('/')
                    .next()
                    .is_some_and(|top| !top.contains('*')),
                "{function}: {action} on {pattern} is not under one top-level folder"
            );
        }
    }
}

#[test]
fn a_function_that_reads_keys_may_list_them_so_a_missing_key_is_not_found() {
    // S3 answers GetObject on a missing key with 404 only to a caller that may list that
    // key (ListBucket, with the key as s3:prefix); otherwise 403, and the step would fail
    // with AccessDenied instead of ArtefactMissing (or, for the course cache, a refetch).
    let template = template();
    for step in STEPS {
        let function = format!("{step}Function");
        let grants = s3_grants(&template, &function);
        let listed: Vec<&String> = grants
            .iter()
            .filter(|(a, _)| a == "s3:ListBucket")
            .map(|(_, p)| p)
            .collect();
        for (_, read) in grants.iter().filter(|(a, _)| a == "s3:GetObject") {
            assert!(
                listed.iter().any(|prefix| iam_match(prefix, read)),
                "{function} reads {read} but may not list it"
            );
        }
    }
}

#[test]
fn the_day_keys_the_code_uses_fall_under_the_grants_of_the_steps_that_use_them() {
    use leganto_shared::run::rules::RULES_KEY;
    use leganto_shared::store::{DayKeys, FULL_LOAD_REQUEST};
    // A ledger record, as `run::rollovers` names one.
    const ROLLOVER_RECORD: &str = "state/rollovers/2026SummerA-X-SPA337-38334/38334.json";
    let template = template();
    let day = DayKeys::new(chrono::NaiveDate::from_ymd_opt(2026, 11, 28).expect("date"));
    let dry = DayKeys::dry_run(day.run_date());
    let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 28)
        .and_then(|d| d.and_hms_opt(9, 25, 14))
        .expect("time");
    let may = |step: &str, action: &str, key: &str| {
        s3_grants(&template, &format!("{step}Function"))
            .iter()
            .any(|(a, p)| a == action && iam_match(p, key))
    };
    let export = day.cem_export("leganto_export_20261128.csv");
    let loader = day.alma_loader_file(at);
    let cache = day.course_cache(2025);
    let rollover = day.rollover_report(at);
    let uses = [
        ("Pull", "s3:PutObject", export.clone()),
        ("Transform", "s3:ListBucket", day.cem_prefix()),
        ("Transform", "s3:GetObject", export.clone()),
        ("Transform", "s3:PutObject", loader.clone()),
        ("Transform", "s3:PutObject", day.rejects()),
        ("Transform", "s3:PutObject", day.run_summary()),
        // The rules in force, and S3's 404 when there are none.
        ("Transform", "s3:GetObject", RULES_KEY.to_string()),
        ("Transform", "s3:ListBucket", RULES_KEY.to_string()),
        ("RolloverReport", "s3:GetObject", RULES_KEY.to_string()),
        ("RolloverReport", "s3:ListBucket", RULES_KEY.to_string()),
        ("Plan", "s3:GetObject", day.run_summary()),
        ("Plan", "s3:ListBucket", day.run_summary()),
        ("Plan", "s3:ListBucket", day.alma_prefix()),
        ("Push", "s3:ListBucket", day.alma_prefix()),
        ("Push", "s3:GetObject", loader.clone()),
        ("Push", "s3:GetObject", day.push_receipt()),
        ("Push", "s3:PutObject", day.push_receipt()),
        ("Push", "s3:GetObject", day.run_summary()),
        ("Transform", "s3:GetObject", FULL_LOAD_REQUEST.to_string()),
        ("Transform", "s3:ListBucket", FULL_LOAD_REQUEST.to_string()),
        ("Push", "s3:DeleteObject", FULL_LOAD_REQUEST.to_string()),
        ("Push", "s3:ListBucket", "state/rollovers/".to_string()),
        ("Push", "s3:GetObject", ROLLOVER_RECORD.to_string()),
        ("Push", "s3:PutObject", ROLLOVER_RECORD.to_string()),
        ("Push", "s3:GetObject", day.course_rows()),
        (
            "RolloverReport",
            "s3:ListBucket",
            "state/rollovers/".to_string(),
        ),
        (
            "RolloverReport",
            "s3:GetObject",
            ROLLOVER_RECORD.to_string(),
        ),
        (
            "RolloverReport",
            "s3:PutObject",
            ROLLOVER_RECORD.to_string(),
        ),
        ("RolloverReport", "s3:GetObject", day.push_receipt()),
        ("RolloverReport", "s3:PutObject", day.rollover_marks()),
        ("RolloverReport", "s3:PutObject", dry.rollover_marks()),
        ("Plan", "s3:GetObject", day.push_receipt()),
        ("Plan", "s3:GetObject", day.lease()),
        ("Plan", "s3:PutObject", day.lease()),
        ("Release", "s3:GetObject", day.lease()),
        ("Release", "s3:DeleteObject", day.lease()),
        ("Release", "s3:ListBucket", day.lease()),
        ("Release", "s3:GetObject", day.run_summary()),
        ("Release", "s3:GetObject", day.day_figures()),
        ("Release", "s3:GetObject", rollover.clone()),
        ("Release", "s3:PutObject", day.day_page()),
        ("Release", "s3:PutObject", day.day_figures()),
        ("Release", "s3:PutObject", dry.day_page()),
        ("Release", "s3:PutObject", dry.day_figures()),
        ("Release", "s3:GetObject", dry.run_summary()),
        ("Release", "s3:ListBucket", "reports/2026/11/".to_string()),
        ("Release", "s3:ListBucket", day.cem_prefix()),
        ("Release", "s3:ListBucket", day.alma_prefix()),
        ("Release", "s3:ListBucket", day.cache_prefix()),
        ("Release", "s3:ListBucket", dry.reports_prefix()),
        ("Plan", "s3:GetObject", dry.lease()),
        ("Plan", "s3:PutObject", dry.lease()),
        ("Release", "s3:DeleteObject", dry.lease()),
        (
            "Pull",
            "s3:PutObject",
            dry.cem_export("leganto_export_20261128.csv"),
        ),
        ("Transform", "s3:ListBucket", dry.cem_prefix()),
        (
            "Transform",
            "s3:GetObject",
            dry.cem_export("leganto_export_20261128.csv"),
        ),
        ("Transform", "s3:PutObject", dry.alma_loader_file(at)),
        ("Transform", "s3:PutObject", dry.rejects()),
        ("Transform", "s3:PutObject", dry.run_summary()),
        ("Plan", "s3:GetObject", dry.run_summary()),
        ("CacheCourses", "s3:PutObject", dry.course_cache(2025)),
        ("CacheCourses", "s3:ListBucket", dry.course_cache(2025)),
        ("RolloverReport", "s3:GetObject", dry.course_cache(2025)),
        ("RolloverReport", "s3:PutObject", dry.rollover_report(at)),
        ("CacheCourses", "s3:GetObject", cache.clone()),
        ("CacheCourses", "s3:ListBucket", cache.clone()),
        ("CacheCourses", "s3:PutObject", cache.clone()),
        ("RolloverReport", "s3:ListBucket", day.cem_prefix()),
        ("RolloverReport", "s3:GetObject", export.clone()),
        ("RolloverReport", "s3:ListBucket", day.cache_prefix()),
        ("RolloverReport", "s3:GetObject", cache.clone()),
        ("RolloverReport", "s3:GetObject", day.course_rows()),
        ("RolloverReport", "s3:PutObject", rollover.clone()),
        (
            "Transform",
            "s3:ListBucket",
            day.answers_prefix("before-push"),
        ),
        (
            "Transform",
            "s3:GetObject",
            day.reading_list_answers("before-push"),
        ),
        (
            "Transform",
            "s3:PutObject",
            day.reading_list_answers("before-push"),
        ),
        (
            "Transform",
            "s3:GetObject",
            day.page_answers("after-push", "2025"),
        ),
        (
            "Transform",
            "s3:PutObject",
            dry.page_answers("before-push", "2025"),
        ),
        (
            "Transform",
            "s3:GetObject",
            dry.reading_list_answers("after-push"),
        ),
        (
            "Transform",
            "s3:PutObject",
            dry.reading_list_answers("after-push"),
        ),
        (
            "CacheCourses",
            "s3:GetObject",
            day.page_answers("after-push", "2025"),
        ),
        (
            "CacheCourses",
            "s3:PutObject",
            dry.page_answers("before-push", "2025"),
        ),
        (
            "RolloverReport",
            "s3:ListBucket",
            day.answers_prefix("before-push"),
        ),
        (
            "RolloverReport",
            "s3:GetObject",
            dry.reading_list_answers("after-push"),
        ),
        (
            "RolloverReport",
            "s3:PutObject",
            day.reading_list_answers("before-push"),
        ),
        (
            "RolloverReport",
            "s3:PutObject",
            dry.page_answers("before-push", "2025"),
        ),
        ("EmailReport", "s3:ListBucket", day.rollover_prefix()),
        ("EmailReport", "s3:GetObject", rollover.clone()),
    ];
    for (step, action, key) in &uses {
        assert!(may(step, action, key), "{step} needs {action} on {key}");
    }
    // Only the transform writes the loader file Alma loads, and the push the copy its
    // fresh guard makes without the DELETE rows it dropped (and the receipt beside them).
    for step in STEPS
        .iter()
        .filter(|s| !matches!(**s, "Transform" | "Push"))
    {
        assert!(
            !may(step, "s3:PutObject", &loader),
            "{step} may write {loader}"
        );
    }
    for step in STEPS.iter().filter(|s| **s != "Pull") {
        assert!(
            !may(step, "s3:PutObject", &export),
            "{step} may write {export}"
        );
    }
}

// ------------------------------------------------------------------ alerts

fn alarms(template: &Yaml) -> BTreeMap<String, Yaml> {
    resources(template)
        .into_iter()
        .filter(|(_, r)| resource_type(r) == "AWS::CloudWatch::Alarm")
        .collect()
}

/// The alarm on `metric` of the `AWS/States` namespace.
fn states_alarm(template: &Yaml, metric: &str) -> Yaml {
    alarms(template)
        .into_values()
        .find(|a| {
            let props = &a["Properties"];
            scalar(&props["Namespace"]).as_deref() == Some("AWS/States")
                && scalar(&props["MetricName"]).as_deref() == Some(metric)
        })
        .unwrap_or_else(|| panic!("an alarm on {metric}"))
}

/// CloudWatch: periods of 10, 20, 30 or a multiple of 60 s; at most a day of evaluation for
/// periods under an hour, seven days otherwise.
fn assert_deployable_evaluation(name: &str, props: &Yaml) {
    let period = number(props.get("Period")).expect("Period");
    let periods = number(props.get("EvaluationPeriods")).expect("EvaluationPeriods");
    assert!(period.is_multiple_of(60), "{name}: period {period}");
    let most = if period < 3600 { 86_400 } else { 604_800 };
    assert!(
        period * periods <= most,
        "{name}: evaluates {period}×{periods} s"
    );
}

fn assert_goes_to_the_topic(name: &str, props: &Yaml) {
    let (tag, target) = untag(&props["AlarmActions"][0]);
    assert_eq!(
        (tag.as_deref(), target.as_str()),
        (Some("!Ref"), Some("AlertTopic")),
        "{name}: alarms go to the topic"
    );
}

#[test]
fn failed_timed_out_and_aborted_runs_raise_alarms_on_the_alerts_topic() {
    let template = template();
    let all = resources(&template);
    let topic = &all["AlertTopic"];
    assert_eq!(resource_type(topic), "AWS::SNS::Topic");
    for metric in [
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    ] {
        let alarm = states_alarm(&template, metric);
        let props = &alarm["Properties"];
        let dimension = &props["Dimensions"][0];
        assert_eq!(
            scalar(&dimension["Name"]).as_deref(),
            Some("StateMachineArn")
        );
        let (tag, target) = untag(&dimension["Value"]);
        assert_eq!(
            (tag.as_deref(), target.as_str()),
            (Some("!Ref"), Some("StateMachine")),
            "{metric}: the run's state machine"
        );
        assert_goes_to_the_topic(metric, props);
        assert_deployable_evaluation(metric, props);
        assert_eq!(scalar(&props["Statistic"]).as_deref(), Some("Sum"));
        assert_eq!(number(props.get("Threshold")), Some(1));
        assert_eq!(
            scalar(&props["ComparisonOperator"]).as_deref(),
            Some("GreaterThanOrEqualToThreshold")
        );
        assert_eq!(
            scalar(&props["TreatMissingData"]).as_deref(),
            Some("notBreaching"),
            "{metric}: a quiet day is not a failure"
        );
    }
}

/// The alarms on `DayLoaded`, the metric each live run's release emits.
fn day_loaded_alarms(template: &Yaml) -> BTreeMap<String, Yaml> {
    // The product emits the metric these alarms watch, in their namespace.
    let report: DayReport = serde_json::from_value(serde_json::json!({
        "run_date": "2026-11-28", "status": "succeeded", "loaded": false
    }))
    .unwrap();
    let line: serde_json::Value =
        serde_json::from_str(&emf_line(&report, "leganto-prod", chrono::Utc::now()).unwrap())
            .unwrap();
    assert_eq!(line["DayLoaded"], 0);
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([[STACK_DIMENSION]])
    );
    let found: BTreeMap<String, Yaml> = alarms(template)
        .into_iter()
        .filter(|(_, a)| {
            let props = &a["Properties"];
            scalar(&props["Namespace"]).as_deref() == Some(NAMESPACE)
                && scalar(&props["MetricName"]).as_deref() == Some("DayLoaded")
        })
        .collect();
    for (name, alarm) in &found {
        assert_reads_this_stack_only(name, &alarm["Properties"]);
    }
    found
}

/// The alarm watches this stack's series: dimension `Stack` = `AWS::StackName`, as the
/// release emits it, so dev and prod in one account do not mix.
fn assert_reads_this_stack_only(name: &str, props: &Yaml) {
    let dimensions = props["Dimensions"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{name}: no Dimensions"));
    assert_eq!(dimensions.len(), 1, "{name}: one dimension");
    assert_eq!(
        scalar(&dimensions[0]["Name"]).as_deref(),
        Some(STACK_DIMENSION)
    );
    let (tag, value) = untag(&dimensions[0]["Value"]);
    assert_eq!(
        (tag.as_deref(), value.as_str()),
        (Some("!Ref"), Some("AWS::StackName")),
        "{name}: this stack's series"
    );
}

#[test]
fn the_dashboard_charts_every_metric_of_this_stack_only() {
    let template = template();
    let dashboard = resources(&template)
        .into_values()
        .find(|r| resource_type(r) == "AWS::CloudWatch::Dashboard")
        .expect("a dashboard");
    let body = scalar(untag(&dashboard["Properties"]["DashboardBody"]).1).expect("a body");
    let body: serde_json::Value = serde_json::from_str(&body).expect("the body is JSON");
    let mut charted = BTreeSet::new();
    for widget in body["widgets"].as_array().expect("widgets") {
        for metric in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let parts: Vec<&str> = metric
                .as_array()
                .expect("a metric")
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect();
            assert_eq!(parts[0], NAMESPACE, "{metric}");
            assert_eq!(
                parts[2..],
                [STACK_DIMENSION, "${AWS::StackName}"],
                "{metric}: this stack's series"
            );
            charted.insert(parts[1].to_string());
        }
    }
    let emitted: BTreeSet<String> = METRICS
        .iter()
        .map(|(name, _)| name.to_string())
        .chain(["RunFailed".to_string()])
        .collect();
    assert_eq!(charted, emitted);
}

#[test]
fn the_operator_policy_names_this_stacks_resources_and_no_secret() {
    let template = template();
    let policy = &resources(&template)["OperatorPolicy"];
    assert_eq!(resource_type(policy), "AWS::IAM::ManagedPolicy");
    let output = get(&template, &["Outputs", "OperatorPolicyArn", "Value"]).expect("output");
    assert_eq!(untag(output).1.as_str(), Some("OperatorPolicy"));
    let statements = policy["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("statements");
    for statement in statements {
        assert_eq!(scalar(&statement["Effect"]).as_deref(), Some("Allow"));
        let text = serde_yaml_ng::to_string(&statement["Resource"]).expect("yaml");
        assert!(
            ["Bucket", "StateMachine", "AWS::StackName"]
                .iter()
                .any(|r| text.contains(r)),
            "{statement:?}: only this stack's resources"
        );
        for action in actions(statement) {
            assert!(!action.contains('*'), "{action}");
            assert!(
                !action.starts_with("secretsmanager:"),
                "operators read no secret"
            );
        }
    }
}

#[test]
fn a_day_alma_did_not_load_raises_an_alarm_at_once() {
    let template = template();
    let alarms = day_loaded_alarms(&template);
    let alarm = &alarms["DayNotLoadedAlarm"];
    let props = &alarm["Properties"];
    assert_goes_to_the_topic("DayNotLoadedAlarm", props);
    assert_deployable_evaluation("DayNotLoadedAlarm", props);
    assert_eq!(number(props.get("EvaluationPeriods")), Some(1));
    assert_eq!(scalar(&props["Statistic"]).as_deref(), Some("Minimum"));
    assert_eq!(number(props.get("Threshold")), Some(1));
    assert_eq!(
        scalar(&props["ComparisonOperator"]).as_deref(),
        Some("LessThanThreshold")
    );
    assert_eq!(
        scalar(&props["TreatMissingData"]).as_deref(),
        Some("notBreaching"),
        "a day without a run is the other alarm's"
    );
    assert!(alarm.get("Condition").is_none(), "whatever the schedule");
}

#[test]
fn a_day_without_a_loaded_day_raises_an_alarm_while_the_schedule_is_on() {
    let template = template();
    let alarms = day_loaded_alarms(&template);
    let alarm = &alarms["NoDayLoadedAlarm"];
    let props = &alarm["Properties"];
    assert_goes_to_the_topic("NoDayLoadedAlarm", props);
    assert_deployable_evaluation("NoDayLoadedAlarm", props);
    let period = number(props.get("Period")).expect("Period");
    let periods = number(props.get("EvaluationPeriods")).expect("EvaluationPeriods");
    assert_eq!(period * periods, 26 * 3600, "26 hours");
    assert_eq!(number(props.get("DatapointsToAlarm")), Some(periods));
    assert_eq!(scalar(&props["Statistic"]).as_deref(), Some("Maximum"));
    assert_eq!(number(props.get("Threshold")), Some(1));
    assert_eq!(
        scalar(&props["ComparisonOperator"]).as_deref(),
        Some("LessThanThreshold")
    );
    assert_eq!(
        scalar(&props["TreatMissingData"]).as_deref(),
        Some("breaching"),
        "no data is no loaded day: silence must alarm"
    );
    let condition = scalar(&alarm["Condition"]).expect("only with the schedule on");
    let text = serde_yaml_ng::to_string(
        get(&template, &["Conditions", &condition]).expect("the condition"),
    )
    .expect("yaml");
    assert!(
        text.contains("ScheduleState") && text.contains("ENABLED"),
        "{text}"
    );
    // `leganto schedule show` says whether the stack has it by this output.
    let output = get(&template, &["Outputs", "NoDayLoadedAlarmName"]).expect("output");
    assert_eq!(scalar(&output["Condition"]), Some(condition));
    assert_eq!(untag(&output["Value"]).1.as_str(), Some("NoDayLoadedAlarm"));
}

/// The `ScheduleState=...` values samconfig.toml deploys with, comments left out.
fn samconfig_schedule_states() -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join("samconfig.toml")).expect("samconfig.toml");
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split("ScheduleState=").nth(1))
        .map(|rest| rest.trim_end_matches([',', '"', ' ']).to_string())
        .collect()
}

#[test]
fn a_fresh_stack_and_both_environments_deploy_with_the_schedule_off_and_no_26_hour_alarm() {
    let template = template();
    let default = get(&template, &["Parameters", "ScheduleState", "Default"]).and_then(scalar);
    assert_eq!(default.as_deref(), Some("DISABLED"));
    assert_eq!(
        samconfig_schedule_states(),
        ["DISABLED", "DISABLED"],
        "dev and prod"
    );
    // `leganto schedule` finds the schedule by this output: one name per stack.
    let machine = state_machine(&template);
    let event = machine["Properties"]["Events"]
        .as_mapping()
        .and_then(|events| events.values().next())
        .expect("the daily event");
    let name = serde_yaml_ng::to_string(&event["Properties"]["Name"]).expect("yaml");
    let output = serde_yaml_ng::to_string(
        get(&template, &["Outputs", "ScheduleName", "Value"]).expect("output ScheduleName"),
    )
    .expect("yaml");
    assert!(name.contains("${AWS::StackName}"), "{name}");
    assert_eq!(name, output);
}

#[test]
fn an_alert_email_subscribes_to_the_topic_only_when_given_and_the_topic_is_an_output() {
    let template = template();
    let parameter = get(&template, &["Parameters", "AlertEmail"]).expect("AlertEmail");
    assert_eq!(
        parameter.get("Default").and_then(scalar).as_deref(),
        Some("")
    );
    let subscription = resources(&template)
        .into_values()
        .find(|r| resource_type(r) == "AWS::SNS::Subscription")
        .expect("an e-mail subscription");
    let props = &subscription["Properties"];
    assert_eq!(scalar(&props["Protocol"]).as_deref(), Some("email"));
    assert_eq!(untag(&props["Endpoint"]).1.as_str(), Some("AlertEmail"));
    assert_eq!(untag(&props["TopicArn"]).1.as_str(), Some("AlertTopic"));
    let condition = scalar(&subscription["Condition"]).expect("a condition");
    let text = serde_yaml_ng::to_string(
        get(&template, &["Conditions", &condition]).expect("the condition"),
    )
    .expect("yaml");
    assert!(
        text.contains("!Not") && text.contains("AlertEmail"),
        "subscribe only when AlertEmail is not empty: {text}"
    );
    let output = get(&template, &["Outputs", "AlertTopicArn", "Value"]).expect("output");
    assert_eq!(untag(output).1.as_str(), Some("AlertTopic"));
}

// ------------------------------------------------------------------ the history limit

/// Events a state adds to the execution's history when it runs once (Task: entered,
/// scheduled, started, succeeded, exited), with every retry it may make (3 more each) or none.
fn history_events(state: &serde_json::Value, with_retries: bool) -> u64 {
    match state["Type"].as_str() {
        Some("Task") => {
            let retries: u64 = state["Retry"]
                .as_array()
                .into_iter()
                .flatten()
                // Step Functions' default is 3 attempts.
                .map(|r| r["MaxAttempts"].as_u64().unwrap_or(3))
                .sum();
            5 + if with_retries { 3 * retries } else { 0 }
        }
        Some("Parallel") | Some("Map") => 4,
        _ => 2,
    }
}

#[test]
fn the_longest_wait_for_alma_stays_far_under_the_history_limit() {
    use leganto_shared::config::MAX_WAIT_CHECKS;
    let definition = definition();
    let states = all_states(&definition);
    // The loop: the Wait on poll_interval_seconds, then along Next/Default back to it.
    let wait = states
        .iter()
        .find(|s| s.state["SecondsPath"] == "$.run.poll_interval_seconds")
        .expect("the wait for Alma");
    let scope = scope_of(&definition, &wait.name).expect("its branch");
    let mut in_loop = vec![wait.name.clone()];
    let mut current = &wait.state;
    loop {
        let next = current["Next"]
            .as_str()
            .or(current["Default"].as_str())
            .expect("the loop goes on");
        if next == wait.name {
            break;
        }
        assert!(
            in_loop.len() < 10,
            "the wait loop does not close: {in_loop:?}"
        );
        in_loop.push(next.to_string());
        current = &scope[next];
    }
    let per_check = |retries| -> u64 {
        in_loop
            .iter()
            .map(|n| history_events(&scope[n], retries))
            .sum()
    };
    let per_check_plain = per_check(false);
    assert_eq!(per_check_plain, 9, "Wait, Task, Choice: {in_loop:?}");

    // The rest of the run, every state once with all its retries, a Map of 10 years.
    let rest: u64 = states
        .iter()
        .filter(|s| !in_loop.contains(&s.name))
        .map(|s| {
            let times = if s.enclosing.iter().any(|e| {
                states
                    .iter()
                    .any(|m| &m.name == e && m.state["Type"] == "Map")
            }) {
                10
            } else {
                1
            };
            times * history_events(&s.state, true)
        })
        .sum::<u64>()
        + 2;

    let template = template();
    let bound = |name: &str, key: &str| {
        number(get(&template, &["Parameters", name, key])).unwrap_or_else(|| panic!("{name}.{key}"))
    };
    let checks = bound("WaitLimitSeconds", "MaxValue") / bound("PollIntervalSeconds", "MinValue");
    assert!(
        checks <= MAX_WAIT_CHECKS,
        "the template allows {checks} checks, the config refuses more than {MAX_WAIT_CHECKS}"
    );
    // One check more than the ratio: the one that finds the limit passed.
    let events = (MAX_WAIT_CHECKS + 1) * per_check_plain + rest;
    assert!(
        events < 5_000,
        "{events} events at {MAX_WAIT_CHECKS} checks of {per_check_plain} plus {rest}"
    );
    // Even if every check used all its retries, still under Step Functions' 25,000.
    let worst = (MAX_WAIT_CHECKS + 1) * per_check(true) + rest;
    assert!(worst < 25_000, "{worst} events with every retry");

    // And the config accepts the template's extremes.
    let env = |poll: u64, limit: u64| {
        move |name: &str| match name {
            "POLL_INTERVAL_SECONDS" => Some(poll.to_string()),
            "WAIT_LIMIT_SECONDS" => Some(limit.to_string()),
            "BUCKET" | "SECRET_ID" => Some("x".to_string()),
            "ALMA_BASE_URL" => Some("https://api-na.hosted.exlibrisgroup.com".to_string()),
            "EMAIL_FROM" | "EMAIL_TO" => Some("library@example.edu".to_string()),
            _ => None,
        }
    };
    for poll in [
        bound("PollIntervalSeconds", "MinValue"),
        bound("PollIntervalSeconds", "MaxValue"),
    ] {
        for limit in [
            bound("WaitLimitSeconds", "MinValue"),
            bound("WaitLimitSeconds", "MaxValue"),
        ] {
            leganto_shared::config::Config::from_lookup(env(poll, limit)).unwrap_or_else(|e| {
                panic!(
                    "the config refuses PollIntervalSeconds {poll}, WaitLimitSeconds {limit}: {e}"
                )
            });
        }
    }
}

#[test]
fn the_functions_that_reach_sftp_or_alma_run_in_the_given_subnets_only_when_subnets_are_given() {
    let template = template();
    let peers = ["CemSftpSecret", "AlmaSftpSecret", "AlmaApiKeySecret"];
    let mut in_vpc = BTreeSet::new();
    for (name, function) in function_resources(&template) {
        let step = name.strip_suffix("Function").expect("<Step>Function");
        let reaches_peer = secrets_read_by(step)
            .iter()
            .any(|s| peers.contains(&s.as_str()));
        let vpc = get(&function, &["Properties", "VpcConfig"]);
        if !reaches_peer {
            assert!(vpc.is_none(), "{name} reaches no SFTP server nor Alma");
            continue;
        }
        let vpc = vpc.unwrap_or_else(|| panic!("{name} has no VpcConfig"));
        let (tag, branches) = untag(vpc);
        assert_eq!(tag.as_deref(), Some("!If"), "{name}");
        assert_eq!(branches[0].as_str(), Some("InVpc"), "{name}");
        let config = &branches[1];
        for (key, parameter) in [
            ("SubnetIds", "SubnetIds"),
            ("SecurityGroupIds", "SecurityGroupIds"),
        ] {
            let (tag, value) = untag(&config[key]);
            assert_eq!(tag.as_deref(), Some("!Ref"), "{name} {key}");
            assert_eq!(value.as_str(), Some(parameter), "{name} {key}");
        }
        let (tag, value) = untag(&branches[2]);
        assert_eq!(
            (tag.as_deref(), value.as_str()),
            (Some("!Ref"), Some("AWS::NoValue")),
            "{name}: no VPC unless subnets are given"
        );
        in_vpc.insert(step.to_string());
    }
    assert_eq!(in_vpc.len(), 6, "{in_vpc:?}");
    // Empty parameters are the default: today's deployment, no VPC.
    for parameter in ["SubnetIds", "SecurityGroupIds"] {
        let default = get(&template, &["Parameters", parameter, "Default"]).and_then(scalar);
        assert_eq!(default.as_deref(), Some(""), "{parameter}");
    }
    let condition = serde_yaml_ng::to_string(&template["Conditions"]["InVpc"]).expect("yaml");
    assert!(condition.contains("SubnetIds"), "{condition}");
}

#[test]
fn the_stacks_alma_rate_defaults_to_the_one_the_command_and_the_client_use() {
    let template = template();
    assert_eq!(
        number(get(&template, &["Parameters", "AlmaRate", "Default"])),
        Some(u64::from(leganto_shared::config::DEFAULT_ALMA_RATE))
    );
    assert_eq!(leganto_shared::config::DEFAULT_ALMA_RATE, 10);
}
