//! The linters CI runs on what gets deployed: cfn-lint, `sam validate --lint` and
//! asl-validator, via infra/lint.sh.

use std::process::Command;

use super::support::repo_root;

fn lint(what: &str) {
    let output = Command::new("bash")
        .arg(repo_root().join("infra/lint.sh"))
        .arg(what)
        .current_dir(repo_root())
        .output()
        .expect("bash runs infra/lint.sh");
    assert!(
        output.status.success(),
        "infra/lint.sh {what} failed ({}); run `make setup` if a tool is missing\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn cfn_lint_finds_nothing_in_the_template() {
    lint("template");
}

#[test]
fn the_sam_cli_validates_and_lints_the_template_as_a_deploy_would_transform_it() {
    lint("sam");
}

#[test]
fn asl_validator_accepts_the_definition_as_written_and_as_deployed() {
    lint("asl");
}

#[test]
fn the_template_lints_clean_with_fixed_egress_set_too() {
    lint("vpc");
}
