//! `transform` and `rollover-report`: against the Alma simulator, offline, and on bad
//! input (one stderr line, an exit code, no loader file).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use leganto_tests::alma_sim::{AlmaSim, SimOptions};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/sample")
        .join(name)
}

fn leganto(args: &[&str], key: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leganto"));
    cmd.args(args)
        .env_remove("ALMA_API_KEY")
        .env_remove("RUST_LOG");
    if let Some(k) = key {
        cmd.env("ALMA_API_KEY", k);
    }
    cmd.output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn sim() -> AlmaSim {
    AlmaSim::start(SimOptions::with_fixture(sample("alma_courses.json")).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn transform_and_rollover_report_against_the_simulator_write_the_expected_files() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let (out, summary, rejects) = (
        dir.path().join("a.txt"),
        dir.path().join("s.json"),
        dir.path().join("r.csv"),
    );
    let cem = sample("cem.csv");
    let o = tokio::task::spawn_blocking({
        let (url, key) = (sim.base_url().to_string(), sim.api_key().to_string());
        let (cem, out, summary, rejects) =
            (cem.clone(), out.clone(), summary.clone(), rejects.clone());
        move || {
            leganto(
                &[
                    "transform",
                    "--input",
                    s(&cem),
                    "--output",
                    s(&out),
                    "--alma-url",
                    &url,
                    "--alma-rate",
                    "20",
                    "--run-date",
                    "2026-11-28",
                    "--summary",
                    s(&summary),
                    "--rejects",
                    s(&rejects),
                ],
                Some(&key),
            )
        }
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&out).unwrap() == std::fs::read(sample("expected_alma.txt")).unwrap());
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(
        json["alma_calls"].as_u64().unwrap(),
        sim.calls().len() as u64
    );
    assert_eq!(json["rows_read"], 3000);
    assert_eq!(
        std::fs::read_to_string(&rejects).unwrap(),
        "line,course_code,reason\n"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("courses written 1742"), "{stdout}");
    assert!(
        !stdout.contains(sim.api_key())
            && !String::from_utf8_lossy(&o.stderr).contains(sim.api_key())
    );

    let report = dir.path().join("rollover.txt");
    let o = tokio::task::spawn_blocking({
        let (url, key, report) = (
            sim.base_url().to_string(),
            sim.api_key().to_string(),
            report.clone(),
        );
        move || {
            leganto(
                &[
                    "rollover-report",
                    "--input",
                    s(&cem),
                    "--output",
                    s(&report),
                    "--alma-url",
                    &url,
                    "--alma-rate",
                    "20",
                ],
                Some(&key),
            )
        }
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::read(&report).unwrap() == std::fs::read(sample("expected_rollover.txt")).unwrap()
    );
}

#[test]
fn offline_transform_holds_back_deletes_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.txt");
    let o = leganto(
        &[
            "transform",
            "--input",
            s(&sample("cem.csv")),
            "--output",
            s(&out),
        ],
        None,
    );
    assert!(o.status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("\tDELETE\t"));
    assert!(String::from_utf8_lossy(&o.stdout).contains("unverified (offline) 179"));
}

#[test]
fn the_rejects_file_neutralises_a_formula_from_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read(sample("cem.csv")).unwrap();
    let header_end = sample.iter().position(|b| *b == b'\n').unwrap() + 1;
    let mut cem = sample[..header_end].to_vec();
    // Rejected for its empty term; its code is a formula.
    cem.extend_from_slice(
        b"1,\"=HYPERLINK(\"\"http://evil.example/\"\")\",APPROVED,T,1,a,Primary,AS,TEMPE,ENG 101,,\
          2026,2026-08-20 00:00:00.000000000,2026-12-11 00:00:00.000000000,0,,,\r\n",
    );
    let (input, out, rejects) = (
        dir.path().join("cem.csv"),
        dir.path().join("a.txt"),
        dir.path().join("rejects.csv"),
    );
    std::fs::write(&input, cem).unwrap();
    let o = leganto(
        &[
            "transform",
            "--input",
            s(&input),
            "--output",
            s(&out),
            "--rejects",
            s(&rejects),
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(&rejects).unwrap(),
        "line,course_code,reason\n2,\"'=HYPERLINK(\"\"http://evil.example/\"\")\",term: empty term\n"
    );
}

#[test]
fn output_directory_gets_a_time_stamped_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let o = leganto(
        &[
            "transform",
            "--input",
            s(&sample("cem.csv")),
            "--output",
            s(dir.path()),
            "--run-date",
            "2026-11-28",
        ],
        None,
    );
    assert!(o.status.success());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 1);
    assert!(
        names[0].starts_with("20261128") && names[0].ends_with(".txt") && names[0].len() == 18,
        "{names:?}"
    );
}

fn fails(args: &[&str], key: Option<&str>, code: i32, says: &str) {
    let o = leganto(args, key);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(says), "{err}");
}

#[test]
fn fatal_input_errors_exit_3_with_one_line_and_no_loader_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.txt");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let cases = [
        (write("empty.csv", b""), "empty"),
        (
            write("header.csv", b"MYASU_COURSE_IDSTRING,COURSE_STATUS\n"),
            "COURSE_NAME",
        ),
        (write("bin.csv", b"\x1f\x8b\x08\x00\x00\x00"), "not text"),
        (
            write(
                "export.zip",
                b"PK\x03\x04\x14\x00\x00\x00\x08\x00leganto_export.csv\x00\x00",
            ),
            "the CEM export is not text (control byte 0x03 in its header line)",
        ),
        (dir.path().join("absent.csv"), "cannot open"),
    ];
    for (input, says) in cases {
        fails(
            &["transform", "--input", s(&input), "--output", s(&out)],
            None,
            3,
            says,
        );
        assert!(!out.exists());
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        4,
        "a temporary file was left behind: {names:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_key_and_unreachable_alma_exit_4_and_missing_key_exits_5() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.txt");
    let cem = sample("cem.csv");
    let url = sim.base_url().to_string();
    let (o1, o2) = (out.clone(), out.clone());
    let (c1, c2) = (cem.clone(), cem.clone());
    tokio::task::spawn_blocking(move || {
        fails(
            &[
                "transform",
                "--input",
                s(&c1),
                "--output",
                s(&o1),
                "--alma-url",
                &url,
            ],
            Some("wrong"),
            4,
            "API key",
        );
        fails(
            &[
                "rollover-report",
                "--input",
                s(&c2),
                "--output",
                s(&o2),
                "--alma-url",
                &url,
            ],
            None,
            5,
            "ALMA_API_KEY",
        );
    })
    .await
    .unwrap();
    assert!(!out.exists());
    // Nothing listens on port 9 of loopback: connection refused, retried, then given up.
    fails(
        &[
            "transform",
            "--input",
            s(&cem),
            "--output",
            s(&out),
            "--alma-url",
            "http://127.0.0.1:9",
        ],
        Some("k"),
        4,
        "unavailable",
    );
    assert!(!out.exists());
}

#[test]
fn a_plain_http_alma_url_off_this_machine_exits_5_and_calls_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.txt");
    let cem = sample("cem.csv");
    fails(
        &[
            "transform",
            "--input",
            s(&cem),
            "--output",
            s(&out),
            "--alma-url",
            "http://api-na.hosted.exlibrisgroup.com",
        ],
        Some("k"),
        5,
        "--alma-url",
    );
    assert!(!out.exists());
}

#[test]
fn malformed_rules_file_exits_5_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "date_format = 3\n").unwrap();
    fails(
        &[
            "transform",
            "--input",
            s(&sample("cem.csv")),
            "--output",
            s(&dir.path().join("a.txt")),
            "--rules",
            s(&rules),
        ],
        None,
        5,
        "rules.toml",
    );
}
