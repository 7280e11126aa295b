//! `bench-alma`: the Alma-bound phases (rollover report, transform with the delete guard)
//! against the in-process simulator at Alma's latency and rate limit.
//!
//! Prints, per phase: Alma calls (retries included), 200 answers, the minimum (pages of
//! each year needed + distinct reading-list checks, worked out from the fixtures, not with
//! the product's code), 429s the simulator answered, the API phase's wall time, calls ÷
//! rate, and the ratio of the two. A measurement, not a test: nothing is asserted.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use clap::Parser;
use leganto_shared::alma::{AlmaClient, AlmaClientConfig, CourseCache};
use leganto_shared::domain::{Rules, RunSummary};
use leganto_shared::error::BoxError;
use leganto_shared::pipeline::{rollover_report, transform_with_alma};
use leganto_tests::alma_sim::{AlmaSim, FixtureCourse, SimOptions};
use leganto_tests::minimum;
use leganto_tests::support::{repo_root, sample};

#[derive(Debug, Parser)]
#[command(
    name = "bench-alma",
    about = "Alma calls and API-phase wall time against the simulator"
)]
struct Args {
    /// Generate a day of N rows with tests/fixtures/gen-cem instead of the sample day.
    #[arg(long)]
    rows: Option<u64>,
    /// Seed for gen-cem.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The client's calls per second (`--alma-rate`).
    #[arg(long, default_value_t = 25)]
    rate: u32,
    /// The simulator's per-second limit.
    #[arg(long, default_value_t = 25)]
    limit: u32,
    /// Latency the simulator adds to every call, in milliseconds.
    #[arg(long, default_value_t = 150)]
    latency_ms: u64,
}

/// A day's export and Alma's courses for it; a generated day lives in a temp dir that is
/// removed on drop.
struct Day {
    cem: PathBuf,
    courses: PathBuf,
    temp: Option<PathBuf>,
}

impl Drop for Day {
    fn drop(&mut self) {
        if let Some(t) = &self.temp {
            let _ = std::fs::remove_dir_all(t);
        }
    }
}

fn day(args: &Args) -> Result<Day, BoxError> {
    let Some(rows) = args.rows else {
        return Ok(Day {
            cem: sample("cem.csv"),
            courses: sample("alma_courses.json"),
            temp: None,
        });
    };
    let dir = std::env::temp_dir().join(format!("leganto-bench-alma-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let day = Day {
        cem: dir.join("cem.csv"),
        courses: dir.join("alma_courses.json"),
        temp: Some(dir.clone()),
    };
    let status = Command::new("python3")
        .arg(repo_root().join("tests/fixtures/gen-cem"))
        .args([
            "--rows",
            &rows.to_string(),
            "--seed",
            &args.seed.to_string(),
        ])
        .args(["--year", "2026", "--out"])
        .arg(&dir)
        .status()?;
    if !status.success() {
        return Err(format!("gen-cem failed: {status}").into());
    }
    Ok(day)
}

// ---- The measurement. ----

#[derive(Clone, Copy)]
enum Phase {
    Rollover,
    Transform,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Rollover => "rollover report",
            Phase::Transform => "transform with Alma",
        }
    }
}

struct Measured {
    calls: u64,
    ok: u64,
    too_many: u64,
    api: Duration,
    total: Duration,
}

async fn measure(args: &Args, day: &Day, phase: Phase) -> Result<Measured, BoxError> {
    let mut opts = SimOptions::with_fixture(&day.courses)?;
    opts.latency = Duration::from_millis(args.latency_ms);
    opts.per_second_limit = (args.limit > 0).then_some(args.limit);
    let sim = AlmaSim::start(opts).await?;
    let mut cfg = AlmaClientConfig::new(
        sim.base_url(),
        secrecy::SecretString::from(sim.api_key().to_string()),
    );
    cfg.rate_per_second = args.rate;
    let cache = CourseCache::new(AlmaClient::new(cfg)?);
    let rules = Rules::asu()?;
    let mut input = BufReader::new(File::open(&day.cem)?);
    let out = std::io::sink();
    let summary: RunSummary = match phase {
        Phase::Rollover => rollover_report(&mut input, &rules, &cache, out).await?,
        Phase::Transform => transform_with_alma(&mut input, &rules, &cache, out).await?,
    };
    let log = sim.calls();
    let count = |f: fn(u16) -> bool| log.iter().filter(|c| f(c.status)).count() as u64;
    Ok(Measured {
        calls: summary.alma_calls,
        ok: count(|s| s == 200),
        too_many: count(|s| s == 429),
        api: Duration::from_millis(summary.durations_ms.alma_ms),
        total: Duration::from_millis(summary.durations_ms.total_ms),
    })
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let day = day(&args)?;
    let courses: Vec<FixtureCourse> = serde_json::from_slice(&std::fs::read(&day.courses)?)?;
    // The day is a CEM export, read by ASU's rules.
    let rows = minimum::rows(&std::fs::read(&day.cem)?, Rules::asu()?.export())?;
    println!(
        "day: {} ({} rows, {} Alma courses); simulator {} ms latency, limit {}/s; client rate {}/s",
        day.cem.display(),
        rows.len(),
        courses.len(),
        args.latency_ms,
        args.limit,
        args.rate
    );
    println!(
        "{:<20} {:>6} {:>6} {:>8} {:>6} {:>10} {:>12} {:>7} {:>10}",
        "phase",
        "calls",
        "200s",
        "minimum",
        "429s",
        "api wall s",
        "calls/rate s",
        "ratio",
        "total s"
    );
    for phase in [Phase::Rollover, Phase::Transform] {
        let minimum = match phase {
            Phase::Rollover => minimum::rollover_minimum_of(&courses, &rows),
            Phase::Transform => minimum::transform_minimum_of(&courses, &rows),
        };
        let m = measure(&args, &day, phase).await?;
        let ideal = m.calls as f64 / f64::from(args.rate);
        let wall = m.api.as_secs_f64();
        let ratio = if ideal > 0.0 { wall / ideal } else { f64::NAN };
        println!(
            "{:<20} {:>6} {:>6} {:>8} {:>6} {:>10.3} {:>12.3} {:>7.3} {:>10.3}",
            phase.name(),
            m.calls,
            m.ok,
            minimum,
            m.too_many,
            wall,
            ideal,
            ratio,
            m.total.as_secs_f64()
        );
    }
    Ok(())
}
