//! The SAM template: functions on the naming ladder, the state machine's substitutions and
//! policies, storage hardening, the schedule, and settings the functions' config accepts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

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
        Some(512)
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
        "Push" => &["AlmaSftpSecret"],
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
    let rule = &bucket["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(scalar(&rule["Status"]).as_deref(), Some("Enabled"));
    let (tag, parameter) = untag(&rule["ExpirationInDays"]);
    assert_eq!(
        (tag.as_deref(), parameter.as_str()),
        (Some("!Ref"), Some("RetentionDays"))
    );
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

#[test]
fn the_daily_schedule_starts_the_run_at_nine_twenty_in_phoenix_with_empty_input() {
    let template = template();
    let machine = state_machine(&template);
    let events = machine["Properties"]["Events"]
        .as_mapping()
        .expect("Events");
    assert_eq!(events.len(), 1);
    let event = events.values().next().expect("one event");
    assert_eq!(scalar(&event["Type"]).as_deref(), Some("ScheduleV2"));
    let props = &event["Properties"];
    assert_eq!(
        scalar(&props["ScheduleExpression"]).as_deref(),
        Some("cron(20 9 * * ? *)")
    );
    let (_, zone) = untag(&props["ScheduleExpressionTimezone"]);
    let zone = zone.as_str().expect("zone");
    let zone = scalar(get(&template, &["Parameters", zone, "Default"]).expect("parameter"))
        .unwrap_or(zone.to_string());
    assert_eq!(zone, "America/Phoenix");
    assert_eq!(scalar(&props["Input"]).as_deref(), Some("{}"));
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
    assert_eq!(config.email_to.len(), 2);
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
