//! `bench-alma`: the Alma-bound phases (rollover report, transform with the delete guard)
//! against the in-process simulator at Alma's latency and rate limit.
//!
//! Prints, per phase: Alma calls (retries included), 200 answers, the minimum (pages of
//! each year needed + distinct reading-list checks, worked out from the fixtures, not with
//! the product's code), 429s the simulator answered, the API phase's wall time, calls ÷
//! rate, and the ratio of the two. A measurement, not a test: nothing is asserted.

use std::collections::{BTreeSet, HashMap};
use std::error::Error;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clap::Parser;
use leganto_shared::alma::{AlmaClient, AlmaClientConfig, CourseCache};
use leganto_shared::domain::{Rules, RunSummary};
use leganto_shared::pipeline::{rollover_report, transform_with_alma};
use leganto_tests::alma_sim::{AlmaSim, FixtureCourse, SimOptions};

type BoxError = Box<dyn Error + Send + Sync>;

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

fn root() -> PathBuf {
    let tests = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    tests.parent().map(Path::to_path_buf).unwrap_or(tests)
}

fn day(args: &Args) -> Result<Day, BoxError> {
    let Some(rows) = args.rows else {
        let dir = root().join("tests/fixtures/sample");
        return Ok(Day {
            cem: dir.join("cem.csv"),
            courses: dir.join("alma_courses.json"),
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
        .arg(root().join("tests/fixtures/gen-cem"))
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

// ---- The minimum, from the fixtures alone (as tests/tests/core/minimum.rs does). ----

struct Row {
    code: String,
    status: String,
    year: String,
    copy_sln: String,
    copy_year: String,
}

fn rows(cem: &Path) -> Result<Vec<Row>, BoxError> {
    // Latin-1 is enough here: only codes, statuses and numbers matter.
    let text: String = std::fs::read(cem)?.iter().map(|&b| b as char).collect();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let h = r.headers()?.clone();
    let col = |name: &str| {
        h.iter()
            .position(|x| x == name)
            .ok_or_else(|| format!("column {name} missing"))
    };
    let (code, status, year, sln, cyear) = (
        col("MYASU_COURSE_IDSTRING")?,
        col("COURSE_STATUS")?,
        col("YEAR")?,
        col("COPY_COURSE_SLN")?,
        col("COPY_COURSE_SEMESTER_YEAR")?,
    );
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec?;
        let get = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
        let row = Row {
            code: get(code),
            status: get(status),
            year: get(year),
            copy_sln: get(sln).replace(',', ""),
            copy_year: get(cyear),
        };
        if row.status != "REQUESTED" {
            out.push(row);
        }
    }
    Ok(out)
}

fn is_delete(r: &Row) -> bool {
    r.status == "DENIED" || r.status == "SUSPENDED"
}

fn pages(courses: &[FixtureCourse], year: &str) -> u64 {
    let n = courses.iter().filter(|c| c.year == year).count() as u64;
    n.div_ceil(100).max(1)
}

/// Per code in order of first appearance: its first row and its first active row.
fn per_code(rows: &[Row]) -> Vec<(&Row, Option<&Row>)> {
    let mut order: Vec<&str> = Vec::new();
    let mut map: HashMap<&str, (&Row, Option<&Row>)> = HashMap::new();
    for r in rows {
        let e = map.entry(&r.code).or_insert_with(|| {
            order.push(&r.code);
            (r, None)
        });
        if !is_delete(r) && e.1.is_none() {
            e.1 = Some(r);
        }
    }
    order.iter().map(|c| map[c]).collect()
}

/// Courses of a year, by code and by section / searchable ID.
struct Index<'a> {
    by_code: HashMap<String, Vec<&'a FixtureCourse>>,
    by_sln: HashMap<String, Vec<&'a FixtureCourse>>,
}

fn key(year: &str, value: &str) -> String {
    format!("{year}\u{0}{value}")
}

impl<'a> Index<'a> {
    fn new(courses: &'a [FixtureCourse]) -> Self {
        let mut by_code: HashMap<String, Vec<&'a FixtureCourse>> = HashMap::new();
        let mut by_sln: HashMap<String, Vec<&'a FixtureCourse>> = HashMap::new();
        for c in courses {
            by_code.entry(key(&c.year, &c.code)).or_default().push(c);
            let mut slns: BTreeSet<&str> = c.searchable_id.iter().map(String::as_str).collect();
            slns.insert(c.section.as_str());
            for s in slns {
                by_sln.entry(key(&c.year, s)).or_default().push(c);
            }
        }
        Index { by_code, by_sln }
    }

    fn with_code(&self, year: &str, code: &str) -> &[&'a FixtureCourse] {
        self.by_code
            .get(&key(year, code))
            .map_or(&[], Vec::as_slice)
    }

    fn unique_match(&self, year: &str, sln: &str) -> Option<&'a FixtureCourse> {
        match self.by_sln.get(&key(year, sln)).map(Vec::as_slice) {
            Some([one]) => Some(*one),
            _ => None,
        }
    }
}

fn transform_minimum(courses: &[FixtureCourse], rows: &[Row]) -> u64 {
    let index = Index::new(courses);
    let mut years = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (first, _) in per_code(rows) {
        if is_delete(first) {
            years.insert(first.year.clone());
            ids.extend(
                index
                    .with_code(&first.year, &first.code)
                    .iter()
                    .map(|c| c.id.clone()),
            );
        }
    }
    years.iter().map(|y| pages(courses, y)).sum::<u64>() + ids.len() as u64
}

fn rollover_minimum(courses: &[FixtureCourse], rows: &[Row]) -> u64 {
    let index = Index::new(courses);
    let mut years = BTreeSet::new();
    let mut ids = BTreeSet::new();
    let mut found_delete_first = Vec::new();
    for (first, active) in per_code(rows) {
        let Some(a) = active else { continue };
        let candidate = !a.copy_sln.is_empty()
            && a.copy_sln != "0"
            && a.copy_sln.parse::<u64>().is_ok()
            && !a.copy_year.is_empty();
        if !candidate {
            continue;
        }
        years.insert(a.copy_year.clone());
        if let Some(m) = index.unique_match(&a.copy_year, &a.copy_sln) {
            ids.insert(m.id.clone());
            if is_delete(first) && m.reading_lists {
                found_delete_first.push(a);
            }
        }
    }
    for a in found_delete_first {
        years.insert(a.year.clone());
        ids.extend(
            index
                .with_code(&a.year, &a.code)
                .iter()
                .map(|c| c.id.clone()),
        );
    }
    years.iter().map(|y| pages(courses, y)).sum::<u64>() + ids.len() as u64
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
    let rows = rows(&day.cem)?;
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
            Phase::Rollover => rollover_minimum(&courses, &rows),
            Phase::Transform => transform_minimum(&courses, &rows),
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
