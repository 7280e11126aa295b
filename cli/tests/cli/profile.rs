//! A second institution (course-loading.md §9): a Banner-style export — tab-separated, its
//! own column names and status words, US dates, terms keyed by other codes with an ending
//! of `""` — loaded through `leganto transform --rules FILE` with no code of its own:
//! `tests/fixtures/second-institution/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use leganto_tests::alma_sim::{AlmaSim, SimOptions};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/second-institution")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn leganto(args: Vec<String>, key: Option<String>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leganto"));
    cmd.args(&args)
        .env_remove("ALMA_API_KEY")
        .env_remove("RUST_LOG")
        .env_remove("TIME_ZONE");
    if let Some(k) = key {
        cmd.env("ALMA_API_KEY", k);
    }
    let out = cmd.output().unwrap();
    super::show(&args, &out);
    out
}

/// `leganto COMMAND` on the fixture's export with its rules, writing into `dir`.
fn args(command: &str, dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        command.to_string(),
        "--rules".into(),
        s(&fixture("rules.toml")).into(),
        "--input".into(),
        s(&fixture("export.tsv")).into(),
        "--output".into(),
        s(&dir.join(format!("{command}.txt"))).into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_institutions_export_loads_with_its_own_rules_file() {
    let sim = AlmaSim::start(SimOptions::with_fixture(fixture("alma_courses.json")).unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.csv");
    let alma = ["--alma-url", sim.base_url(), "--alma-rate", "20"];
    let mut extra = vec!["--run-date", "2026-12-10", "--rejects", s(&rejects)];
    extra.extend(alma);
    let key = Some(sim.api_key().to_string());
    let o = tokio::task::spawn_blocking({
        let (args, key) = (args("transform", dir.path(), &extra), key.clone());
        move || leganto(args, key)
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = std::fs::read(dir.path().join("transform.txt")).unwrap();
    let want = std::fs::read(fixture("expected_alma.txt")).unwrap();
    assert!(got == want, "{}", String::from_utf8_lossy(&got));
    assert!(
        stdout.contains("rows read 41, skipped (by status) 1, rejected 2"),
        "{stdout}"
    );
    // Spring 2027 starts in 40 days and the export has none of it: said, never fatal.
    assert!(
        stdout.contains(
            "warning: the export holds no course of term SP 2027, which starts 2027-01-19 \
             (in 40 days)"
        ),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&rejects).unwrap(),
        "line,course_code,reason\n\
         37,2026FA-COMM1311-40275,term: empty term\n\
         38,2026FA-THEA1310-40279,\"start_date: unparseable date \"\"TBA\"\" (want MM/DD/YYYY ...)\"\n"
    );

    let o = tokio::task::spawn_blocking({
        let args = args("rollover-report", dir.path(), &alma);
        move || leganto(args, key)
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = std::fs::read(dir.path().join("rollover-report.txt")).unwrap();
    let want = std::fs::read(fixture("expected_rollover.txt")).unwrap();
    assert!(got == want, "{}", String::from_utf8_lossy(&got));
}

#[test]
fn a_term_far_off_or_present_is_no_warning() {
    let dir = tempfile::tempdir().unwrap();
    // Spring 2027 is 110 days off; fall 2026 is in the export.
    let o = leganto(
        args("transform", dir.path(), &["--run-date", "2026-10-01"]),
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(!stdout.contains("warning:"), "{stdout}");
    // Offline, the deletes are held back: the rest is the expected file without them.
    let got = std::fs::read_to_string(dir.path().join("transform.txt")).unwrap();
    let want = std::fs::read_to_string(fixture("expected_alma.txt")).unwrap();
    let active: Vec<&str> = want.lines().filter(|l| !l.contains("\tDELETE\t")).collect();
    assert_eq!(got.lines().collect::<Vec<_>>(), active);
}

#[test]
fn an_export_without_a_column_of_the_profile_stops_naming_its_header_and_role() {
    let dir = tempfile::tempdir().unwrap();
    let export = std::fs::read_to_string(fixture("export.tsv")).unwrap();
    let input = dir.path().join("export.tsv");
    std::fs::write(&input, export.replacen("TERM_CODE", "TERM", 1)).unwrap();
    let mut args = args("transform", dir.path(), &[]);
    args[4] = s(&input).into();
    let o = leganto(args, None);
    assert_eq!(o.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("no column TERM_CODE (term)"), "{stderr}");
    assert!(!dir.path().join("transform.txt").exists());
}
