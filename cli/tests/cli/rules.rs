//! `leganto rules check|push|show` against moto's versioned bucket: a file checked (and
//! compared with the rules in force over the sample export), pushed as a new version,
//! shown; an invalid file refused with nothing written.

use std::path::{Path, PathBuf};

use leganto_shared::domain::rules::ASU_RULES_TOML;
use leganto_shared::ops::rules::RULES_KEY;

use super::*;

fn sample_export() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sample/cem.csv")
}

/// The shipped rules with Noble's courses sent to another department.
fn nursing_rules() -> String {
    let text = ASU_RULES_TOML.replacen(
        "department = \"NOBLE\"",
        "department = \"NURSING_LIBRARY\"",
        1,
    );
    assert_ne!(text, ASU_RULES_TOML);
    text
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// moto with the run's bucket versioned, as the template makes it.
async fn versioned() -> Aws {
    let aws = Aws::start().await;
    leganto_tests::stack::enable_versioning(&aws.sdk, BUCKET)
        .await
        .unwrap();
    aws
}

#[tokio::test(flavor = "multi_thread")]
async fn check_says_a_valid_file_is_valid_and_an_invalid_one_exits_5_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.toml", &nursing_rules());
    // Checking a file alone needs no stack.
    let o = leganto_at("http://127.0.0.1:9", &["rules", "check", &good]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with(&format!("{good}: valid rules (sha256 ")),
        "{}",
        stdout(&o)
    );

    let bad = write(
        dir.path(),
        "bad.toml",
        &ASU_RULES_TOML.replacen("[terms.1]", "[terms.1]\ng = \"\"\n#", 1),
    );
    let o = leganto_at("http://127.0.0.1:9", &["rules", "check", &bad]).await;
    assert_eq!(o.status.code(), Some(5), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.starts_with("leganto: rules file "), "{err}");
    assert!(err.contains("bad.toml"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_with_an_export_shows_what_the_file_changes_against_the_rules_in_force() {
    let aws = versioned().await;
    let dir = tempfile::tempdir().unwrap();
    let nursing = write(dir.path(), "nursing.toml", &nursing_rules());
    let export = sample_export();
    let args = |file: &str| {
        [
            "rules",
            "check",
            file,
            "--input",
            export.to_str().unwrap(),
            "--bucket",
            BUCKET,
        ]
        .map(String::from)
    };
    let run = |file: String| {
        let aws = &aws;
        async move {
            let args = args(&file);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            aws.leganto(&args).await
        }
    };

    // No rules in the bucket: the shipped ones are in force.
    let o = run(nursing.clone()).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("against the rules in force, shipped rules (sha256 "),
        "{out}"
    );
    let moved = field(&out, "departments").unwrap();
    assert!(moved.ends_with("rows of both moved:"), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("NOBLE -> NURSING_LIBRARY"))
        .unwrap_or_else(|| panic!("no move to NURSING_LIBRARY in:\n{out}"));
    let rows: u64 = line.split_whitespace().next().unwrap().parse().unwrap();
    assert!(rows > 0, "{out}");
    let courses = field(&out, "course rows").unwrap();
    assert!(
        courses.ends_with(&format!("0 added, 0 removed, {rows} changed")),
        "{out}"
    );
    assert!(
        out.contains("  terms                0 rows of both moved\n"),
        "{out}"
    );

    // Once pushed, the same file changes nothing; the shipped text would undo it.
    aws.store()
        .put(RULES_KEY, nursing_rules(), "application/toml")
        .await
        .unwrap();
    let o = run(nursing).await;
    assert!(stdout(&o).contains("against the rules in force, config/rules.toml version "));
    assert!(
        stdout(&o).contains("  no change: the same "),
        "{}",
        stdout(&o)
    );
    let shipped = write(dir.path(), "asu.toml", ASU_RULES_TOML);
    let o = run(shipped).await;
    assert!(
        stdout(&o).contains(&format!("{rows:>6} rows   NURSING_LIBRARY -> NOBLE")),
        "{}",
        stdout(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn push_writes_a_new_version_show_prints_it_and_an_invalid_file_is_refused() {
    let aws = versioned().await;
    let dir = tempfile::tempdir().unwrap();
    let bucket = ["--bucket", BUCKET];

    let o = aws
        .leganto(&[&["rules", "show"][..], &bucket].concat())
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!(
            "no config/rules.toml in s3://{BUCKET}: the shipped rules are in force\n"
        )),
        "{out}"
    );
    assert!(out.ends_with(ASU_RULES_TOML), "the shipped text is printed");

    // An invalid file: refused, nothing written.
    let bad = write(dir.path(), "bad.toml", "date_format = \"%d-%m-%Y\"\n");
    let o = aws
        .leganto(&[&["rules", "push", &bad][..], &bucket].concat())
        .await;
    assert_eq!(o.status.code(), Some(5), "{}", stdout(&o));
    assert!(stderr(&o).contains("bad.toml"), "{}", stderr(&o));
    assert!(!aws.store().exists(RULES_KEY).await.unwrap());

    let good = write(dir.path(), "nursing.toml", &nursing_rules());
    let o = aws
        .leganto(&[&["rules", "push", &good][..], &bucket].concat())
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let pushed = field(
        &out,
        &format!("pushed {good} as config/rules.toml version "),
    )
    .unwrap();
    let version = pushed.split_whitespace().next().unwrap().to_string();
    assert!(out.contains("replaced shipped rules (sha256 "), "{out}");
    let stored = aws
        .store()
        .get_with_version(RULES_KEY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version_id.as_deref(), Some(version.as_str()));
    assert_eq!(stored.bytes, nursing_rules().as_bytes());

    let o = aws
        .leganto(&[&["rules", "show"][..], &bucket].concat())
        .await;
    let out = stdout(&o);
    assert_eq!(
        field(&out, "version").as_deref(),
        Some(version.as_str()),
        "{out}"
    );
    let sha = leganto_shared::run::receipt::sha256_hex(nursing_rules().as_bytes());
    assert_eq!(
        field(&out, "sha256").as_deref(),
        Some(sha.as_str()),
        "{out}"
    );
    assert!(field(&out, "pushed").is_some(), "{out}");
    assert!(out.ends_with(&nursing_rules()), "{out}");
    let o = aws
        .leganto(&[&["rules", "show", "--text"][..], &bucket].concat())
        .await;
    assert_eq!(stdout(&o), nursing_rules(), "the text alone, byte for byte");

    // The same text again: no new version. Another: a new one, replacing the first.
    let o = aws
        .leganto(&[&["rules", "push", &good][..], &bucket].concat())
        .await;
    assert!(
        stdout(&o).contains("is already the rules in force"),
        "{}",
        stdout(&o)
    );
    let asu = write(dir.path(), "asu.toml", ASU_RULES_TOML);
    let o = aws
        .leganto(&[&["rules", "push", &asu][..], &bucket].concat())
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("replaced config/rules.toml version {version} ")),
        "{}",
        stdout(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_of_another_export_shape_says_the_rules_in_force_cannot_read_it_and_what_the_file_makes(
) {
    let aws = versioned().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/second-institution");
    let rules = dir.join("rules.toml");
    let export = dir.join("export.tsv");
    let o = aws
        .leganto(&[
            "rules",
            "check",
            rules.to_str().unwrap(),
            "--input",
            export.to_str().unwrap(),
            "--bucket",
            BUCKET,
        ])
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("the rules in force cannot read this export ("),
        "{out}"
    );
    assert!(
        out.contains("(course_code)"),
        "names the role it lacks: {out}"
    );
    let rows: u64 = field(&out, "course rows").unwrap().parse().unwrap();
    assert!(rows > 20, "{out}");
}
