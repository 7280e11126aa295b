//! `leganto delete-empty-courses`: plan the deletion of one year and term's courses that
//! have no reading lists; with `--execute --plan FILE`, delete what that reviewed plan
//! lists, each course re-checked right before its delete. Courses with reading lists are
//! never deleted.

use std::path::{Path, PathBuf};

use leganto_shared::error::error_chain;
use leganto_shared::error::ErrorName as _;
use leganto_shared::ops::delete_empty::{self, Action, DeleteReport, PlanRow};

use crate::common::{self, Fatal};

#[derive(clap::Args)]
pub struct Args {
    /// The courses' year, e.g. 2026 (planning only).
    #[arg(
        long,
        value_parser = clap::value_parser!(u16).range(1000..=9999),
        required_unless_present = "execute",
        conflicts_with = "execute"
    )]
    year: Option<u16>,
    /// The courses' term as Alma codes it (the course's `term` value), e.g. SPRING (planning
    /// only).
    #[arg(long, required_unless_present = "execute", conflicts_with = "execute")]
    term: Option<String>,
    /// Delete the courses the reviewed plan (--plan) marks `delete`, re-checking each one
    /// right before deleting it; without it nothing is deleted.
    #[arg(long, requires = "plan")]
    execute: bool,
    /// Alma API base URL (key: ALMA_API_KEY).
    #[arg(long)]
    alma_url: String,
    /// Alma calls per second at most.
    #[arg(long, default_value_t = leganto_shared::config::DEFAULT_ALMA_RATE, value_parser = clap::value_parser!(u32).range(1..))]
    alma_rate: u32,
    /// Planning: where to write the plan (CSV; `delete-empty-courses-YEAR-TERM.csv`
    /// otherwise). With --execute: the plan you reviewed, read and never written.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// No progress bars, even on a terminal: one line on stderr as each Alma phase ends.
    #[arg(long, short)]
    quiet: bool,
}

fn default_plan_path(year: u16, term: &str) -> PathBuf {
    let term: String = term
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    PathBuf::from(format!("delete-empty-courses-{year}-{term}.csv"))
}

fn table(rows: &[PlanRow]) -> String {
    let w = |f: fn(&PlanRow) -> usize, min: usize| rows.iter().map(f).max().unwrap_or(0).max(min);
    let (wi, wc, ws) = (
        w(|r| r.id.len(), 2),
        w(|r| r.code.len(), 4),
        w(|r| r.section.len(), 7),
    );
    let mut out = format!(
        "{:<wi$}  {:<wc$}  {:<ws$}  reading_lists  action\n",
        "id", "code", "section"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<wi$}  {:<wc$}  {:<ws$}  {:>13}  {}\n",
            r.id,
            r.code,
            r.section,
            r.reading_lists,
            r.action.as_str()
        ));
    }
    out
}

fn alma(e: leganto_shared::alma::AlmaError) -> Fatal {
    Fatal::Alma(error_chain(&e))
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    match (args.execute, args.plan.as_deref(), args.year, &args.term) {
        (true, Some(plan), _, _) => execute(&args, plan).await,
        (false, plan, Some(year), Some(term)) => {
            let path = plan.map_or_else(|| default_plan_path(year, term), Path::to_path_buf);
            make_plan(&args, year, term, &path).await
        }
        // clap requires --plan with --execute, and --year and --term without it.
        _ => Err(Fatal::Settings(
            "give --year and --term to plan, or --execute --plan FILE to delete what a \
             reviewed plan lists"
                .into(),
        )),
    }
}

async fn make_plan(args: &Args, year: u16, term: &str, path: &Path) -> Result<(), Fatal> {
    let client = common::alma_client(&args.alma_url, args.alma_rate, args.quiet)?;
    let year = year.to_string();
    let courses = delete_empty::courses_of_year_and_term(&client, &year, term)
        .await
        .map_err(alma)?;
    let rows = delete_empty::plan(&client, &courses).await.map_err(alma)?;
    let to_delete = rows.iter().filter(|r| r.deletable()).count();
    let kept = rows.iter().filter(|r| r.action == Action::Keep).count();

    let mut csv = Vec::new();
    delete_empty::write_plan_csv(&rows, &mut csv)
        .map_err(|e| Fatal::Output(format!("cannot write the plan: {e}")))?;
    common::write_atomic(path, &csv)?;

    print!("{}", table(&rows));
    println!(
        "{year} {term}: {} courses, {to_delete} without reading lists (delete), {kept} with reading lists (keep)",
        rows.len()
    );
    println!("Plan written to {}", path.display());
    println!(
        "Nothing deleted. Review the plan (remove rows, or change delete to keep), then run \
         delete-empty-courses --execute --plan {} to delete the courses it marks delete \
         ({to_delete} now).",
        path.display()
    );
    println!("Alma API calls: {}", client.calls_made());
    Ok(())
}

async fn execute(args: &Args, path: &Path) -> Result<(), Fatal> {
    let file = std::fs::File::open(path).map_err(|e| {
        Fatal::Input(format!(
            "cannot open the plan {}: {e}: give --plan the CSV you reviewed",
            path.display()
        ))
    })?;
    let rows = delete_empty::read_plan_csv(std::io::BufReader::new(file))
        .map_err(|e| Fatal::Input(format!("{}: {}", path.display(), error_chain(&e))))?;
    let to_delete = rows.iter().filter(|r| r.deletable()).count();
    let client = common::alma_client(&args.alma_url, args.alma_rate, args.quiet)?;

    println!(
        "Plan {}: {} courses, {to_delete} to delete; each is re-checked in Alma right before \
         its delete",
        path.display(),
        rows.len()
    );
    let report = delete_empty::execute(&client, &rows).await;
    print_report(&report);
    println!(
        "Deleted {} of {to_delete}; {} skipped; {} failed{}. Alma API calls: {}",
        report.deleted.len(),
        report.skipped.len(),
        report.failed.len(),
        match report.not_reached.len() {
            0 => String::new(),
            n => format!("; {n} not reached"),
        },
        client.calls_made()
    );
    if let Some(stop) = &report.stopped {
        return Err(Fatal::Alma(format!(
            "stopped at course {} ({}): its re-check failed ({}): {}; it and the {} courses \
             after it were not deleted. Once Alma answers normally, run the same command \
             again: courses already deleted are skipped",
            stop.row.id,
            stop.row.code,
            stop.error.error_name(),
            error_chain(&stop.error),
            report.not_reached.len()
        )));
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Fatal::Alma(format!(
            "{} of {to_delete} deletions failed (listed above); the plan is {}",
            report.failed.len(),
            path.display()
        )))
    }
}

fn print_report(report: &DeleteReport) {
    for r in &report.deleted {
        println!("deleted  {}  {}  {}", r.id, r.code, r.section);
    }
    for (r, why) in &report.skipped {
        println!("skipped  {}  {}  {}: {why}", r.id, r.code, r.section);
    }
    for (r, e) in &report.failed {
        println!(
            "FAILED   {}  {}  {}: {}",
            r.id,
            r.code,
            r.section,
            error_chain(e)
        );
    }
    if let Some(stop) = &report.stopped {
        println!(
            "STOPPED  {}  {}  {}: {}",
            stop.row.id,
            stop.row.code,
            stop.row.section,
            error_chain(&stop.error)
        );
    }
}
