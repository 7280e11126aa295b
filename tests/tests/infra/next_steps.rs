//! Every stable error name the code can raise has one sentence on what an operator does
//! next, and infra/CONTRACT.md shows the same table.

use std::collections::BTreeSet;
use std::path::Path;

use leganto_shared::next_step::NEXT_STEPS;
use leganto_tests::support::repo_root;

/// The string literals returned by every `fn error_name` in the shared crate.
fn names_in_code() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut files = vec![repo_root().join("shared/src")];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            names.extend(error_names_in(&path));
        }
    }
    names
}

fn error_names_in(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut found = Vec::new();
    for (start, _) in text.match_indices("fn error_name(&self)") {
        // The body: from the first `{` to its matching `}`.
        let body_start = start + text[start..].find('{').unwrap();
        let mut depth = 0;
        let mut end = body_start;
        for (i, c) in text[body_start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = body_start + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let body = &text[body_start..end];
        found.extend(
            body.split('"')
                .skip(1)
                .step_by(2)
                .filter(|s| s.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
                .map(str::to_string),
        );
    }
    found
}

#[test]
fn every_error_name_in_the_code_says_what_to_do_next() {
    let names = names_in_code();
    assert!(names.contains("HostKeyMismatch") && names.contains("AlmaQuotaExhausted"));
    let table: BTreeSet<String> = NEXT_STEPS.iter().map(|(n, _)| n.to_string()).collect();
    let missing: Vec<_> = names.difference(&table).collect();
    assert!(missing.is_empty(), "no next step for {missing:?}");
    let unknown: Vec<_> = table.difference(&names).collect();
    assert!(
        unknown.is_empty(),
        "next steps for names the code never raises: {unknown:?}"
    );
}

#[test]
fn the_contract_shows_the_same_next_steps() {
    let contract = std::fs::read_to_string(repo_root().join("infra/CONTRACT.md")).unwrap();
    for (name, sentence) in NEXT_STEPS {
        let row = format!("| `{name}` | {sentence} |");
        assert!(contract.contains(&row), "CONTRACT.md lacks the row {row}");
    }
}
