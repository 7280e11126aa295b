//! Small helpers the harnesses, the integration tests and the tools share: where the
//! workspace and the sample day live, the sample day's run date, and a free loopback port.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

/// The workspace root (parent of the `tests` crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The sample day's run date: `cem.csv` is that day's export.
pub const RUN_DATE: &str = "2026-11-28";

/// `tests/fixtures/sample`: the sample day (run date [`RUN_DATE`]).
pub fn sample_dir() -> PathBuf {
    repo_root().join("tests/fixtures/sample")
}

/// `tests/fixtures`: the sample day and the second institution's day.
pub fn fixtures_dir() -> PathBuf {
    repo_root().join("tests/fixtures")
}

/// The processing departments a rules file names (`department = "..."` and
/// `unknown_campus = "..."`): what that institution defines in Alma, for the simulator.
pub fn departments_in_rules(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .split(['\n', '{', ','])
        .filter_map(|part| {
            let (key, value) = part.split_once('=')?;
            matches!(key.trim(), "department" | "unknown_campus").then_some(value)
        })
        .filter_map(|value| {
            value
                .trim()
                .trim_end_matches('}')
                .trim()
                .strip_prefix('"')?
                .split('"')
                .next()
        })
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// One file of the sample day, e.g. `sample("cem.csv")`.
pub fn sample(name: &str) -> PathBuf {
    sample_dir().join(name)
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_name_exactly_the_departments_the_simulator_defines_for_asu() {
        let mut asu: Vec<String> = crate::alma_sim::DEFAULT_PROCESSING_DEPARTMENTS
            .iter()
            .map(|d| d.to_string())
            .collect();
        asu.sort();
        assert_eq!(
            departments_in_rules(leganto_shared::domain::rules::ASU_RULES_TOML),
            asu
        );
    }
}
