//! What a person sees while Alma work goes on: each long command under a pseudo-terminal
//! (util-linux `script`), its stdout sent to a file as a script would read it; and the same
//! commands piped, as CI and cron run them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use leganto_tests::alma_sim::{AlmaSim, SimOptions};

use super::*;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/sample")
        .join(name)
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// `'…'` for sh.
fn quoted(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// What ran under a pseudo-terminal: everything the terminal showed (stderr: bars and
/// lines, escape codes and all), and stdout as a file received it.
struct OnTerminal {
    screen: String,
    stdout: String,
    success: bool,
}

/// `leganto ARGS` with `env` under a pseudo-terminal 100 columns wide, stdout to a file.
async fn on_a_terminal(args: Vec<String>, env: Vec<(&'static str, String)>) -> OnTerminal {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let stdout_file = dir.path().join("stdout");
        let status_file = dir.path().join("status");
        let command = std::iter::once(env!("CARGO_BIN_EXE_leganto").to_string())
            .chain(args.iter().cloned())
            .map(|a| quoted(&a))
            .collect::<Vec<_>>()
            .join(" ");
        let line = format!(
            "stty cols 100 rows 40; {command} > {}; echo $? > {}",
            quoted(&s(&stdout_file)),
            quoted(&s(&status_file))
        );
        // The same clean environment as every other run of the command.
        let base = base_command();
        let mut cmd = Command::new("script");
        for (k, v) in base.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd
            .args(["-q", "-e", "-c", &line, "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .expect("util-linux script runs the command under a pseudo-terminal");
        let screen = String::from_utf8_lossy(&out.stdout).into_owned();
        let stdout = std::fs::read_to_string(&stdout_file).unwrap_or_default();
        println!("$ leganto {} (on a terminal)\n{screen}", args.join(" "));
        let status = std::fs::read_to_string(&status_file).unwrap_or_default();
        OnTerminal {
            screen,
            stdout,
            success: status.trim() == "0",
        }
    })
    .await
    .unwrap()
}

/// `leganto ARGS` with `env`, stdout and stderr piped.
async fn piped(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let out = base_command()
            .args(&args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        show(&args, &out);
        out
    })
    .await
    .unwrap()
}

/// A bar of `label` as the terminal drew it: `label [=>  ] N of M · …/s · … elapsed · ETA …`.
fn shows_a_bar(screen: &str, label: &str) -> bool {
    text_of(screen).lines().any(|l| {
        l.split_once(&format!("{label} ["))
            .and_then(|(_, rest)| rest.split_once("] "))
            .is_some_and(|(_, rest)| {
                let words: Vec<&str> = rest.split_whitespace().collect();
                words.len() > 3
                    && words[0].parse::<u64>().is_ok()
                    && words[1] == "of"
                    && words[2].parse::<u64>().is_ok()
                    && rest.contains("/s · ")
                    && rest.contains(" elapsed · ETA ")
            })
    })
}

/// The text a terminal's lines hold: escape sequences dropped, `\r` as a line break.
fn text_of(screen: &str) -> String {
    let mut out = String::new();
    let mut chars = screen.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // Parameters, then one final byte in @..=~.
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            '\r' => out.push('\n'),
            c => out.push(c),
        }
    }
    out
}

/// The phase lines (`label: N of N in …`) of stderr or a screen, in order, as `label N`.
fn phase_lines(stderr: &str) -> Vec<String> {
    text_of(stderr)
        .lines()
        .filter_map(|l| {
            let (label, rest) = l.split_once(": ")?;
            let words: Vec<&str> = rest.split_whitespace().collect();
            (words.len() >= 4 && words[1] == "of" && words[0] == words[2] && words[3] == "in")
                .then(|| format!("{label} {}", words[0]))
        })
        .collect()
}

/// stdout as the command printed it before bars existed, for the sample day: the counts
/// the spec's expected files give (1,742 courses; 185 rollovers of 485 requests), written
/// out here rather than read back from the run's own summary. Only the last line's time is
/// a measurement; its call count and seconds come from the `--summary` file the run wrote.
fn summary_stdout(command: &str, input: &Path, output: &Path, summary: &Path) -> String {
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(summary).unwrap()).unwrap();
    let n = |v: &serde_json::Value| v.as_u64().unwrap();
    let counts = match command {
        "transform" => {
            "rows read 3000, skipped (by status) 134, rejected 0\n\
             courses written 1742\n\
             deletes sent 54, suppressed (reading lists) 71, not in Alma 123, unverified (offline) 0, superseded 42\n\
             warnings 144\n"
        }
        "rollover-report" => {
            "rows read 3000, skipped (by status) 134, rejected 0\n\
             courses written 185\n\
             deletes sent 0, suppressed (reading lists) 0, not in Alma 0, unverified (offline) 0, superseded 0\n\
             rollovers found 185 of 485 requests: not found 57, ambiguous 0, without reading lists 243, excluded 0\n\
             warnings 144\n"
        }
        other => panic!("no expected output for {other}"),
    };
    let mut text = format!(
        "{command} {} -> {} (run date 2026-11-28)\n{counts}",
        input.display(),
        output.display(),
    );
    text.push_str(&format!(
        "Alma calls {}, time {:.2}s (Alma {:.2}s)\n",
        n(&j["alma_calls"]),
        n(&j["durations_ms"]["total_ms"]) as f64 / 1000.0,
        n(&j["durations_ms"]["alma_ms"]) as f64 / 1000.0,
    ));
    if command == "transform" {
        // Which file was written; these runs give no baseline.
        text.push_str("full load (no --baseline)\n");
    }
    text
}

async fn sample_sim() -> AlmaSim {
    AlmaSim::start(SimOptions::with_fixture(sample("alma_courses.json")).unwrap())
        .await
        .unwrap()
}

/// `COMMAND --input cem.csv --output DIR/out.txt --summary DIR/summary.json --alma-url SIM`
/// and the paths it writes.
fn run_args(
    command: &str,
    sim: &AlmaSim,
    dir: &Path,
    extra: &[&str],
) -> (Vec<String>, PathBuf, PathBuf) {
    let (output, summary) = (dir.join("out.txt"), dir.join("summary.json"));
    let mut args: Vec<String> = vec![
        command.into(),
        "--input".into(),
        s(&sample("cem.csv")),
        "--output".into(),
        s(&output),
        "--summary".into(),
        s(&summary),
        "--run-date".into(),
        "2026-11-28".into(),
        "--alma-url".into(),
        sim.base_url().into(),
        "--alma-rate".into(),
        "20".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    (args, output, summary)
}

/// Runs `command` (transform or rollover-report) on a terminal and piped, and checks what
/// each shows.
async fn check_run_command(command: &str) {
    let sim = sample_sim().await;
    let env = vec![("ALMA_API_KEY", sim.api_key().to_string())];

    let dir = tempfile::tempdir().unwrap();
    let (args, output, summary) = run_args(command, &sim, dir.path(), &[]);
    let t = on_a_terminal(args, env.clone()).await;
    assert!(t.success, "{}", t.screen);
    for label in ["Alma course pages", "reading-list checks"] {
        assert!(
            shows_a_bar(&t.screen, label),
            "no {label} bar:\n{}",
            t.screen
        );
    }
    let done = phase_lines(&t.screen);
    assert!(
        done.iter().any(|l| l.starts_with("Alma course pages ")),
        "{done:?}"
    );
    assert!(
        done.iter().any(|l| l.starts_with("reading-list checks ")),
        "{done:?}"
    );
    assert_eq!(
        t.stdout,
        summary_stdout(command, &sample("cem.csv"), &output, &summary)
    );
    let on_terminal = std::fs::read(&output).unwrap();

    // Piped: no bar, no escape code, the same phase lines, the same stdout and file.
    let sim = sample_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let (args, output, summary) = run_args(command, &sim, dir.path(), &[]);
    let o = piped(args, env_for(&sim)).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains('\x1b') && !err.contains(" ["), "{err}");
    assert_eq!(phase_lines(&err), done);
    assert_eq!(err.lines().count(), done.len(), "{err}");
    assert_eq!(
        stdout(&o),
        summary_stdout(command, &sample("cem.csv"), &output, &summary)
    );
    assert!(std::fs::read(&output).unwrap() == on_terminal);

    // --quiet on a terminal: the lines, no bar.
    let sim = sample_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let (args, _, _) = run_args(command, &sim, dir.path(), &["--quiet"]);
    let t = on_a_terminal(args, env_for(&sim)).await;
    assert!(t.success, "{}", t.screen);
    assert!(!t.screen.contains(" ["), "{}", t.screen);
    assert_eq!(phase_lines(&t.screen), done);
}

fn env_for(sim: &AlmaSim) -> Vec<(&'static str, String)> {
    vec![("ALMA_API_KEY", sim.api_key().to_string())]
}

#[tokio::test(flavor = "multi_thread")]
async fn rollover_report_shows_a_bar_per_phase_on_a_terminal_and_one_line_per_phase_elsewhere() {
    check_run_command("rollover-report").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn transform_with_alma_shows_a_bar_per_phase_on_a_terminal_and_one_line_per_phase_elsewhere()
{
    check_run_command("transform").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_empty_courses_shows_its_paging_checks_and_deletions_without_changing_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let sim = super::delete_empty::sim(dir.path()).await;
    let plan = dir.path().join("plan.csv");
    let mut args: Vec<String> = [
        "delete-empty-courses",
        "--year",
        "2026",
        "--term",
        "SPRING",
        "--plan",
        &s(&plan),
        "--alma-url",
        sim.base_url(),
        "--alma-rate",
        "20",
    ]
    .map(String::from)
    .to_vec();

    let t = on_a_terminal(args.clone(), env_for(&sim)).await;
    assert!(t.success, "{}", t.screen);
    assert!(shows_a_bar(&t.screen, "Alma course pages"), "{}", t.screen);
    assert!(
        shows_a_bar(&t.screen, "reading-list checks"),
        "{}",
        t.screen
    );
    // One search of 2026 (two pages: 119 courses), then each SPRING course checked.
    assert_eq!(
        phase_lines(&t.screen),
        ["Alma course pages 2", "reading-list checks 115"]
    );
    let planned_on_terminal = std::fs::read(&plan).unwrap();

    // Planning changes nothing in Alma: piped, the same plan and the same stdout.
    let o = piped(args.clone(), env_for(&sim)).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), t.stdout);
    assert!(t.stdout.contains("Nothing deleted."), "{}", t.stdout);
    assert_eq!(
        stderr(&o).lines().collect::<Vec<_>>().len(),
        2,
        "{}",
        stderr(&o)
    );
    assert_eq!(
        phase_lines(&stderr(&o)),
        ["Alma course pages 2", "reading-list checks 115"]
    );
    assert!(std::fs::read(&plan).unwrap() == planned_on_terminal);

    // Deleting: one step per planned course (111), each re-checked and deleted.
    args.truncate(1);
    args.extend(
        [
            "--execute",
            "--plan",
            &s(&plan),
            "--alma-url",
            sim.base_url(),
            "--alma-rate",
            "20",
        ]
        .map(String::from),
    );
    let t = on_a_terminal(args, env_for(&sim)).await;
    assert!(t.success, "{}", t.screen);
    assert!(
        shows_a_bar(&t.screen, "re-checks and deletions"),
        "{}",
        t.screen
    );
    assert_eq!(phase_lines(&t.screen), ["re-checks and deletions 111"]);
    assert!(t.stdout.starts_with("Plan "), "{}", t.stdout);
    assert!(
        t.stdout
            .contains("Deleted 111 of 111; 0 skipped; 0 failed."),
        "{}",
        t.stdout
    );
    assert!(!t.stdout.contains('\x1b'), "{}", t.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn rerun_wait_shows_how_long_each_state_has_been_waited_in() {
    let aws = Aws::start().await;
    let machine = aws.machine("leganto-pass", PASSING).await;
    aws.put("dry-run/2026/11/28/reports/run-summary.json", "{}")
        .await;
    aws.put("dry-run/2026/11/28/alma/20261128092514.txt", "loader\r\n")
        .await;
    let args: Vec<String> = [
        "rerun",
        "--run-date",
        RUN_DATE,
        "--from",
        "push",
        "--dry-run",
        "--wait",
        "--poll-seconds",
        "1",
        "--state-machine",
        &machine,
        "--bucket",
        BUCKET,
    ]
    .map(String::from)
    .to_vec();
    let env = vec![
        ("AWS_ENDPOINT_URL", aws.moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_REGION", leganto_tests::moto::REGION.to_string()),
    ];

    let t = on_a_terminal(args.clone(), env.clone()).await;
    assert!(t.success, "{}", t.screen);
    // Each state entered gets a line of its own, refreshed until the state is left; stdout
    // keeps the state-by-state lines only.
    for state in ["Plan the run", "Wait for Alma", "Build the rollover report"] {
        let waiting = format!(" in {state} for ");
        assert!(t.screen.contains(&waiting), "{state}:\n{}", t.screen);
        assert!(!t.stdout.contains(&waiting), "{}", t.stdout);
    }
    let entered = t
        .stdout
        .lines()
        .filter(|l| l.contains("  entered  "))
        .count();
    assert_eq!(entered, 3, "{}", t.stdout);
    assert!(!t.stdout.contains('\x1b'), "{}", t.stdout);

    // Piped: one plain line per state left, on stderr.
    let o = piped(args, env).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let left: Vec<&str> = err
        .lines()
        .filter_map(|l| l.trim_start().split_once("s in ").map(|(_, state)| state))
        .collect();
    assert_eq!(
        left,
        ["Plan the run", "Wait for Alma", "Build the rollover report"],
        "{err}"
    );
    assert!(!err.contains('\x1b'), "{err}");
}
