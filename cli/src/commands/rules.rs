//! `leganto rules`: the stack's institution rules, kept as `config/rules.toml` in its
//! bucket (versioned). `check` validates a file and, with `--input`, shows what it would
//! change of an export against the rules in force; `push` makes a valid file the rules in
//! force (a new version); `show` prints the version in force and its text.

use std::path::{Path, PathBuf};

use leganto_shared::domain::Rules;
use leganto_shared::ops::rules::{self, Moves, Pushed, RulesDiff, RulesText, RULES_KEY};
use leganto_shared::run::rules::RulesOrigin;

use crate::common::{self, local_time, Deployment, Fatal};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(clap::Subcommand)]
enum RulesCommand {
    /// Validate a rules file; with --input, show what it would change of that export
    /// against the stack's rules in force.
    Check(CheckArgs),
    /// Validate a rules file and make it the stack's rules: the next run follows it.
    Push(PushArgs),
    /// The stack's rules in force: version, time, sha256 and text.
    Show(ShowArgs),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The rules file (TOML).
    file: PathBuf,
    /// A CEM export: compare what the file and the rules in force make of it (offline).
    #[arg(long, value_name = "EXPORT")]
    input: Option<PathBuf>,
    #[command(flatten)]
    deployment: Deployment,
}

#[derive(clap::Args)]
struct PushArgs {
    /// The rules file (TOML).
    file: PathBuf,
    #[command(flatten)]
    deployment: Deployment,
}

#[derive(clap::Args)]
struct ShowArgs {
    /// Only the text, byte for byte, to save and edit (`> rules.toml`).
    #[arg(long)]
    text: bool,
    #[command(flatten)]
    deployment: Deployment,
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    match args.command {
        RulesCommand::Check(args) => check(args).await,
        RulesCommand::Push(args) => push(args).await,
        RulesCommand::Show(args) => show(args).await,
    }
}

/// The file's text and the rules it says; either failing is a settings error naming it,
/// ending with what to do (`then`).
fn read_rules(path: &Path, then: &str) -> Result<(RulesText, Rules), Fatal> {
    let invalid = |e: leganto_shared::domain::RulesError| Fatal::Settings(format!("{e}: {then}"));
    let text = RulesText::read_file(path).map_err(invalid)?;
    let rules = text.compile().map_err(invalid)?;
    Ok((text, rules))
}

async fn check(args: CheckArgs) -> Result<(), Fatal> {
    let (text, rules) = read_rules(&args.file, "fix the file")?;
    println!(
        "{}: valid rules (sha256 {})",
        args.file.display(),
        text.version.sha256
    );
    let Some(input) = &args.input else {
        return Ok(());
    };
    let bucket = args.deployment.resolve_bucket().await?;
    let store = &bucket.store;
    let current = rules::current(store).await.map_err(|e| bucket.fatal(e))?;
    let in_force = current.compile().map_err(|e| {
        Fatal::Settings(format!(
            "the rules in force cannot be compared with: {e}; push a valid file"
        ))
    })?;
    let mut export = common::open_input(input)?;
    let diff = rules::compare(&mut export, &in_force, &rules)?;
    println!(
        "against the rules in force, {}, over {}:",
        current.version,
        input.display()
    );
    print!("{}", render_diff(&diff));
    Ok(())
}

async fn push(args: PushArgs) -> Result<(), Fatal> {
    let (text, _) = read_rules(&args.file, "fix the file; nothing was pushed")?;
    let bucket = args.deployment.resolve_bucket().await?;
    let store = &bucket.store;
    let origin = args.file.display().to_string();
    match rules::push(store, &text.text, &origin)
        .await
        .map_err(|e| bucket.fatal(e))?
    {
        Pushed::New { version, replaced } => {
            println!("pushed {origin} as {version}");
            println!("replaced {replaced}");
            println!(
                "The next run follows it (its summary and day page name this version). \
                 To go back, push the earlier text again."
            );
        }
        Pushed::Unchanged(version) => {
            println!("{origin} is already the rules in force, {version}: nothing pushed");
        }
    }
    Ok(())
}

async fn show(args: ShowArgs) -> Result<(), Fatal> {
    let bucket = args.deployment.resolve_bucket().await?;
    let (store, time_zone) = (&bucket.store, bucket.time_zone);
    let current = rules::current(store).await.map_err(|e| bucket.fatal(e))?;
    if args.text {
        print!("{}", current.text);
        return Ok(());
    }
    let v = &current.version;
    match v.origin {
        RulesOrigin::Shipped => println!(
            "no {RULES_KEY} in s3://{}: the shipped rules are in force",
            store.bucket()
        ),
        _ => println!("s3://{}/{v}", store.bucket()),
    }
    if let Some(id) = &v.version_id {
        println!("version    {id}");
    }
    if let Some(at) = current.last_modified {
        println!("pushed     {}", local_time(at, time_zone));
    }
    println!("sha256     {}", v.sha256);
    println!();
    print!("{}", current.text);
    if !current.text.ends_with('\n') {
        println!();
    }
    Ok(())
}

/// The comparison as printed: what the file would change, one line per kind.
pub fn render_diff(d: &RulesDiff) -> String {
    if let Some(why) = &d.unreadable_before {
        return format!(
            "  the rules in force cannot read this export ({why}); with the new file:\n  \
             course rows          {}\n  rejects              {}\n  warnings             {}\n",
            d.rows_after, d.rejects_after, d.warnings_after
        );
    }
    if d.is_empty() {
        return format!(
            "  no change: the same {} course rows, {} rejects and {} warnings\n",
            d.rows_after, d.rejects_after, d.warnings_after
        );
    }
    let mut out = format!(
        "  course rows          {} -> {}: {} added, {} removed, {} changed\n",
        d.rows_before, d.rows_after, d.added, d.removed, d.changed
    );
    moves(&mut out, "departments", &d.departments);
    moves(&mut out, "terms", &d.terms);
    out.push_str(&format!(
        "  rejects              {} -> {}\n",
        d.rejects_before, d.rejects_after
    ));
    for (reason, (before, after)) in &d.reject_reasons {
        out.push_str(&format!("    {before:>6} -> {after:<6} {reason}\n"));
    }
    out.push_str(&format!(
        "  warnings             {} -> {}\n",
        d.warnings_before, d.warnings_after
    ));
    out
}

/// Rows that moved from one value to another (of rows in both), most first.
fn moves(out: &mut String, label: &str, moves: &Moves) {
    let name = |v: &str| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.to_string()
        }
    };
    let mut list: Vec<_> = moves.iter().collect();
    list.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let total: u64 = moves.values().sum();
    out.push_str(&format!(
        "  {label:<20} {total} rows of both moved{}\n",
        if total == 0 { "" } else { ":" }
    ));
    for ((before, after), rows) in list {
        out.push_str(&format!(
            "    {rows:>6} rows   {} -> {}\n",
            name(before),
            name(after)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_prints_one_line_per_kind_and_each_move() {
        let diff = RulesDiff {
            rows_before: 10,
            rows_after: 11,
            added: 1,
            removed: 0,
            changed: 3,
            departments: Moves::from([
                (("HAYDEN".into(), "NOBLE".into()), 1),
                (("".into(), "MUSIC".into()), 2),
            ]),
            terms: Moves::new(),
            rejects_before: 0,
            rejects_after: 2,
            reject_reasons: [("TERM: empty".to_string(), (0, 2))].into(),
            warnings_before: 4,
            warnings_after: 4,
            unreadable_before: None,
        };
        assert_eq!(
            render_diff(&diff),
            "  course rows          10 -> 11: 1 added, 0 removed, 3 changed
  departments          3 rows of both moved:
         2 rows   (none) -> MUSIC
         1 rows   HAYDEN -> NOBLE
  terms                0 rows of both moved
  rejects              0 -> 2
         0 -> 2      TERM: empty
  warnings             4 -> 4
"
        );
        assert_eq!(
            render_diff(&RulesDiff {
                rows_after: 5,
                ..RulesDiff::default()
            }),
            "  no change: the same 5 course rows, 0 rejects and 0 warnings\n"
        );
        assert_eq!(
            render_diff(&RulesDiff {
                rows_after: 5,
                rejects_after: 1,
                unreadable_before: Some("no column MYASU_COURSE_IDSTRING (course_code)".into()),
                ..RulesDiff::default()
            }),
            "  the rules in force cannot read this export (no column MYASU_COURSE_IDSTRING \
             (course_code)); with the new file:
  course rows          5
  rejects              1
  warnings             0
"
        );
    }
}
