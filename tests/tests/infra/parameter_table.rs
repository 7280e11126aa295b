//! The one table of the stack's parameters (`docs/deploy.md`, "Parameters") against
//! `template.yaml`: every parameter with its default, no parameter the template lacks, and
//! each function setting it names set from that parameter.

use std::collections::BTreeMap;

use serde_yaml_ng::Value as Yaml;

use super::support::*;

const DOC: &str = "docs/deploy.md";
const SECTION: &str = "## Parameters";

/// One row of the table: the default as written and the function settings it names.
#[derive(Debug)]
struct Row {
    default: String,
    settings: Vec<String>,
}

/// The first table under `## Parameters`, by parameter name.
fn documented() -> BTreeMap<String, Row> {
    let text = std::fs::read_to_string(repo_root().join(DOC)).expect("docs/deploy.md");
    let section = text
        .split_once(&format!("\n{SECTION}\n"))
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("{DOC} has a {SECTION:?} section"));
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut lines = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'));
    let header = cells(lines.next().expect("the table's header"));
    assert_eq!(
        header,
        ["parameter", "default", "meaning", "function setting"],
        "{DOC}: the parameter table's columns"
    );
    let mut rows = BTreeMap::new();
    for line in lines.skip(1) {
        let cells = cells(line);
        assert_eq!(cells.len(), header.len(), "{DOC}: {line}");
        let name = cells[0]
            .strip_prefix('`')
            .and_then(|c| c.strip_suffix('`'))
            .unwrap_or_else(|| panic!("{DOC}: a parameter in backquotes: {line}"))
            .to_string();
        // Each `SETTING` the last column names, in backquotes (the rest is prose).
        let settings = cells[3]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        let row = Row {
            default: cells[1].clone(),
            settings,
        };
        assert!(
            rows.insert(name.clone(), row).is_none(),
            "{DOC}: {name} twice"
        );
    }
    rows
}

fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

/// A template default as the table writes it: `—` for none, `empty` for "", else the value
/// (in backquotes or not).
fn as_documented(default: Option<String>) -> Vec<String> {
    match default {
        None => vec!["—".into()],
        Some(d) if d.is_empty() => vec!["empty".into()],
        Some(d) => vec![format!("`{d}`"), d],
    }
}

/// Every parameter each function's environment variable is set from, over `Globals` and each
/// function (`!Ref P`, or `!If [C, !Ref A, !Ref P]`).
fn settings_from_parameters(template: &Yaml) -> BTreeMap<String, Vec<String>> {
    let all = resources(template);
    let mut environments = vec![get(
        template,
        &["Globals", "Function", "Environment", "Variables"],
    )];
    for resource in all.values() {
        if resource_type(resource) == "AWS::Serverless::Function" {
            environments.push(get(resource, &["Properties", "Environment", "Variables"]));
        }
    }
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for variables in environments.into_iter().flatten() {
        for (name, value) in untag(variables).1.as_mapping().into_iter().flatten() {
            let name = name.as_str().expect("a variable's name").to_string();
            let mut refs = Vec::new();
            refs_in(value, &mut refs);
            for parameter in refs {
                if get(template, &["Parameters", &parameter]).is_some() {
                    let entry = out.entry(parameter).or_default();
                    if !entry.contains(&name) {
                        entry.push(name.clone());
                    }
                }
            }
        }
    }
    out
}

fn refs_in(value: &Yaml, out: &mut Vec<String>) {
    let (tag, inner) = untag(value);
    match (tag.as_deref(), inner) {
        (Some("!Ref"), Yaml::String(name)) => out.push(name.clone()),
        (_, Yaml::Sequence(items)) => items.iter().for_each(|i| refs_in(i, out)),
        (_, Yaml::Mapping(map)) => map.values().for_each(|v| refs_in(v, out)),
        _ => {}
    }
}

#[test]
fn the_parameter_table_names_every_parameter_of_the_template_with_its_default() {
    let template = template();
    let parameters = get(&template, &["Parameters"])
        .and_then(Yaml::as_mapping)
        .expect("template has Parameters");
    let mut table = documented();
    let mut problems = Vec::new();
    for (name, parameter) in parameters {
        let name = name.as_str().expect("a parameter's name");
        let default = parameter.get("Default").and_then(scalar);
        match table.remove(name) {
            None => problems.push(format!("{name} is not in the table")),
            Some(row) if !as_documented(default.clone()).contains(&row.default) => {
                problems.push(format!(
                    "{name}: the table says default {:?}, the template {:?}",
                    row.default,
                    as_documented(default).last().cloned().unwrap_or_default()
                ))
            }
            Some(_) => {}
        }
    }
    for name in table.keys() {
        problems.push(format!("{name} is in the table but not in the template"));
    }
    assert!(
        problems.is_empty(),
        "{DOC} and template.yaml disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn each_function_setting_in_the_parameter_table_is_set_from_its_parameter() {
    let template = template();
    let set = settings_from_parameters(&template);
    let mut problems = Vec::new();
    for (name, row) in documented() {
        let actual = set.get(&name).cloned().unwrap_or_default();
        let mut documented = row.settings.clone();
        documented.sort();
        let mut actual_sorted = actual.clone();
        actual_sorted.sort();
        if documented != actual_sorted {
            problems.push(format!(
                "{name}: the table names {documented:?}, the template sets {actual_sorted:?}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{DOC}'s function settings and template.yaml disagree:\n{}",
        problems.join("\n")
    );
}
