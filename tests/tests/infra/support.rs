//! Loading the definition and the template, and walking their states and resources.

use std::collections::BTreeMap;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;

pub use leganto_tests::support::repo_root;

/// The stages an execution may start at (`start_at`), in run order.
pub const STAGES: [&str; 5] = [
    "pull",
    "transform",
    "push",
    "wait_for_alma",
    "rollover_report",
];

/// The steps, by their `<Step>` name in the naming ladder.
pub const STEPS: [&str; 11] = [
    "Plan",
    "Pull",
    "Transform",
    "Push",
    "CheckHold",
    "CheckJob",
    "CacheCourses",
    "RolloverReport",
    "EmailReport",
    "NotifySlack",
    "Release",
];

/// The state every failure reports through.
pub const NOTIFY_FAILURE: &str = "Notify Slack of the failure";

/// The AWS-recommended retry set for Lambda service errors.
pub const LAMBDA_SERVICE_ERRORS: [&str; 4] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

pub fn definition_text() -> String {
    std::fs::read_to_string(repo_root().join("infra/statemachine.asl.json"))
        .expect("infra/statemachine.asl.json is readable")
}

pub fn definition() -> Value {
    serde_json::from_str(&definition_text()).expect("the definition is JSON")
}

pub fn template() -> Yaml {
    let text = std::fs::read_to_string(repo_root().join("template.yaml"))
        .expect("template.yaml is readable");
    serde_yaml_ng::from_str(&text).expect("template.yaml is YAML")
}

/// `PlanFunction` → `leganto-plan` (the package and binary name).
pub fn binary_name(step: &str) -> String {
    let mut kebab = String::new();
    for (i, c) in step.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            kebab.push('-');
        }
        kebab.push(c.to_ascii_lowercase());
    }
    format!("leganto-{kebab}")
}

/// The definition as moto (or AWS) sees it: each `${<Step>FunctionArn}` replaced by the ARN
/// of a function named like the binary.
pub fn substituted_definition(region: &str) -> String {
    let mut text = definition_text();
    for step in STEPS {
        text = text.replace(
            &format!("${{{step}FunctionArn}}"),
            &format!(
                "arn:aws:lambda:{region}:123456789012:function:{}",
                binary_name(step)
            ),
        );
    }
    assert!(
        !text.contains("${"),
        "a placeholder is left after substitution"
    );
    text
}

/// One state, wherever it sits.
#[derive(Debug, Clone)]
pub struct StateAt {
    pub name: String,
    pub state: Value,
    /// The top-level state that contains it (itself at top level).
    pub top_level: String,
    /// Names of the enclosing Parallel/Map states, outermost first.
    pub enclosing: Vec<String>,
}

/// Every state of the definition, including those inside Parallel branches and Map processors.
pub fn all_states(definition: &Value) -> Vec<StateAt> {
    let mut out = Vec::new();
    walk(definition, &[], None, &mut out);
    out
}

fn walk(machine: &Value, enclosing: &[String], top: Option<&str>, out: &mut Vec<StateAt>) {
    let Some(states) = machine.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        let top_level = top.unwrap_or(name).to_string();
        out.push(StateAt {
            name: name.clone(),
            state: state.clone(),
            top_level: top_level.clone(),
            enclosing: enclosing.to_vec(),
        });
        let mut inner = enclosing.to_vec();
        inner.push(name.clone());
        for branch in state
            .get("Branches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(branch, &inner, Some(&top_level), out);
        }
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(processor) = state.get(key) {
                walk(processor, &inner, Some(&top_level), out);
            }
        }
    }
}

/// The `States` object of the machine or branch that directly holds `name`.
pub fn scope_of<'a>(
    definition: &'a Value,
    name: &str,
) -> Option<&'a serde_json::Map<String, Value>> {
    fn find<'a>(machine: &'a Value, name: &str) -> Option<&'a serde_json::Map<String, Value>> {
        let states = machine.get("States")?.as_object()?;
        if states.contains_key(name) {
            return Some(states);
        }
        for state in states.values() {
            for branch in state
                .get("Branches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(found) = find(branch, name) {
                    return Some(found);
                }
            }
            for key in ["ItemProcessor", "Iterator"] {
                if let Some(found) = state.get(key).and_then(|p| find(p, name)) {
                    return Some(found);
                }
            }
        }
        None
    }
    find(definition, name)
}

/// Names a state can go to next: `Next`, `Default`, each choice's `Next`, each catcher's `Next`.
pub fn transitions(state: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |v: Option<&Value>| {
        if let Some(name) = v.and_then(Value::as_str) {
            out.push(name.to_string());
        }
    };
    push(state.get("Next"));
    push(state.get("Default"));
    for choice in state
        .get("Choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        push(choice.get("Next"));
    }
    for catcher in state
        .get("Catch")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        push(catcher.get("Next"));
    }
    out
}

/// The Task state that calls `step` (`Plan`, `Pull`, ...).
pub fn task_calling<'a>(states: &'a [StateAt], step: &str) -> &'a StateAt {
    states
        .iter()
        .filter(|s| !is_preflight(&s.state) && !is_look(&s.state))
        .find(|s| task_step(&s.state).as_deref() == Some(step))
        .unwrap_or_else(|| panic!("no Task calls {step}"))
}

/// A Task of the preflight (`{"preflight": true}`), not of the day.
pub fn is_preflight(state: &Value) -> bool {
    state["Parameters"]["preflight"] == true
}

/// A look for a late export (`{"look": true}`), not the pull.
pub fn is_look(state: &Value) -> bool {
    state["Parameters"]["look"] == true
}

/// `${PlanFunctionArn}` → `Plan`.
pub fn task_step(state: &Value) -> Option<String> {
    let resource = state.get("Resource")?.as_str()?;
    resource
        .strip_prefix("${")?
        .strip_suffix("FunctionArn}")
        .map(str::to_string)
}

/// JSON that keeps every key of every object, duplicates included (serde_json keeps the last).
#[derive(Debug)]
pub enum RawJson {
    Object(Vec<(String, RawJson)>),
    Array(Vec<RawJson>),
    Scalar,
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = RawJson;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawJson, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, RawJson>()? {
                    entries.push((key, value));
                }
                Ok(RawJson::Object(entries))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawJson, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<RawJson>()? {
                    items.push(item);
                }
                Ok(RawJson::Array(items))
            }
            fn visit_bool<E>(self, _: bool) -> Result<RawJson, E> {
                Ok(RawJson::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<RawJson, E> {
                Ok(RawJson::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<RawJson, E> {
                Ok(RawJson::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<RawJson, E> {
                Ok(RawJson::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<RawJson, E> {
                Ok(RawJson::Scalar)
            }
            fn visit_unit<E>(self) -> Result<RawJson, E> {
                Ok(RawJson::Scalar)
            }
        }
        deserializer.deserialize_any(RawVisitor)
    }
}

/// Keys that appear twice in one object, with the path to that object.
pub fn duplicate_keys(raw: &RawJson, path: &str, out: &mut Vec<String>) {
    match raw {
        RawJson::Object(entries) => {
            let mut seen = std::collections::BTreeSet::new();
            for (key, value) in entries {
                if !seen.insert(key.as_str()) {
                    out.push(format!("{path}/{key}"));
                }
                duplicate_keys(value, &format!("{path}/{key}"), out);
            }
        }
        RawJson::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                duplicate_keys(item, &format!("{path}/{i}"), out);
            }
        }
        RawJson::Scalar => {}
    }
}

// ------------------------------------------------------------------ template helpers

/// A YAML value with its CloudFormation short-form tag (`!Ref`, `!GetAtt`, ...), if any.
pub fn untag(value: &Yaml) -> (Option<String>, &Yaml) {
    match value {
        Yaml::Tagged(tagged) => (Some(tagged.tag.to_string()), &tagged.value),
        other => (None, other),
    }
}

pub fn get<'a>(value: &'a Yaml, path: &[&str]) -> Option<&'a Yaml> {
    let mut current = value;
    for key in path {
        current = untag(current).1.get(*key)?;
    }
    Some(current)
}

pub fn resources(template: &Yaml) -> BTreeMap<String, Yaml> {
    get(template, &["Resources"])
        .and_then(Yaml::as_mapping)
        .expect("template has Resources")
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
        .collect()
}

pub fn resource_type(resource: &Yaml) -> &str {
    get(resource, &["Type"])
        .and_then(Yaml::as_str)
        .unwrap_or_default()
}

/// A scalar's text (numbers and booleans as YAML prints them).
pub fn scalar(value: &Yaml) -> Option<String> {
    match untag(value).1 {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
