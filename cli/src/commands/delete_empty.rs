//! `leganto delete-empty-courses`: plan (and with `--execute`, carry out) the deletion of
//! one year and term's courses that have no reading lists. Courses with reading lists are
//! never deleted.

use std::path::PathBuf;

use leganto_shared::ops::delete_empty::{self, Action, PlanRow};
use leganto_shared::ops::error_chain;

use crate::common::{self, Fatal};

#[derive(clap::Args)]
pub struct Args {
    /// The courses' year, e.g. 2026.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1000..=9999))]
    year: u16,
    /// The courses' term as Alma codes it (the course's `term` value), e.g. SPRING.
    #[arg(long)]
    term: String,
    /// Delete the courses the plan marks `delete`; without it nothing is deleted.
    #[arg(long)]
    execute: bool,
    /// Alma API base URL (key: ALMA_API_KEY).
    #[arg(long)]
    alma_url: String,
    /// Alma calls per second at most.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    alma_rate: u32,
    /// Where to write the plan (CSV); `delete-empty-courses-YEAR-TERM.csv` otherwise.
    #[arg(long)]
    plan: Option<PathBuf>,
}

fn plan_path(args: &Args) -> PathBuf {
    args.plan.clone().unwrap_or_else(|| {
        let term: String = args
            .term
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        PathBuf::from(format!("delete-empty-courses-{}-{term}.csv", args.year))
    })
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

pub async fn run(args: Args) -> Result<(), Fatal> {
    let client = common::alma_client(&args.alma_url, args.alma_rate)?;
    let year = args.year.to_string();
    let alma = |e: leganto_shared::alma::AlmaError| Fatal::Alma(error_chain(&e));
    let courses = delete_empty::courses_of_year_and_term(&client, &year, &args.term)
        .await
        .map_err(alma)?;
    let rows = delete_empty::plan(&client, &courses).await.map_err(alma)?;
    let to_delete = rows.iter().filter(|r| r.deletable()).count();
    let kept = rows.iter().filter(|r| r.action == Action::Keep).count();

    let path = plan_path(&args);
    let mut csv = Vec::new();
    delete_empty::write_plan_csv(&rows, &mut csv)
        .map_err(|e| Fatal::Output(format!("cannot write the plan: {e}")))?;
    common::write_atomic(&path, &csv)?;

    print!("{}", table(&rows));
    println!(
        "{year} {}: {} courses, {to_delete} without reading lists (delete), {kept} with reading lists (keep)",
        args.term,
        rows.len()
    );
    println!("Plan written to {}", path.display());
    if !args.execute {
        println!(
            "Nothing deleted. Run again with --execute to delete the {to_delete} courses marked delete."
        );
        println!("Alma API calls: {}", client.calls_made());
        return Ok(());
    }

    println!(
        "Deleting {to_delete} courses of {year} {} without reading lists",
        args.term
    );
    let report = delete_empty::delete(&client, &rows).await;
    for r in &report.deleted {
        println!("deleted  {}  {}  {}", r.id, r.code, r.section);
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
    println!(
        "Deleted {} of {to_delete}; {} failed. Alma API calls: {}",
        report.deleted.len(),
        report.failed.len(),
        client.calls_made()
    );
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Fatal::Alma(format!(
            "{} of {to_delete} deletions failed (listed above); the plan is in {}",
            report.failed.len(),
            path.display()
        )))
    }
}
