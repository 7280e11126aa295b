//! `alma-sim`: the Alma simulator as a process, for the local sandbox and scripts.
//!
//! Prints its base URL on stdout (one line) once listening; logs go to stderr. The API key
//! is read from the environment variable named by `--api-key-env`, so it never appears in
//! a process listing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use leganto_tests::alma_sim::{AlmaSim, Fault, SimOptions};

#[derive(Debug, Parser)]
#[command(
    name = "alma-sim",
    about = "Alma's course, reading-list and jobs APIs and course loader, on loopback"
)]
struct Args {
    /// Courses fixture (JSON array, alma_courses.json format); empty store when absent.
    #[arg(long)]
    fixture: Option<PathBuf>,
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Name of the environment variable holding the API key (default key: sim-key).
    #[arg(long)]
    api_key_env: Option<String>,
    /// The course loader's SFTP drop directory to watch.
    #[arg(long)]
    drop_dir: Option<PathBuf>,
    /// Calls per second allowed (0 = no limit).
    #[arg(long, default_value_t = 25)]
    rate: u32,
    /// Daily call quota.
    #[arg(long)]
    quota: Option<u64>,
    /// Latency added to every API call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Answer every Nth call with a 500.
    #[arg(long, conflicts_with = "fault_rate")]
    fault_every: Option<u64>,
    /// Answer calls with a 500 at this rate (0.0-1.0).
    #[arg(long)]
    fault_rate: Option<f64>,
    /// Time a loader run takes from submit to completion, in milliseconds.
    #[arg(long, default_value_t = 0)]
    loader_delay_ms: u64,
    /// The loader's time per row of a file, in milliseconds, on top of --loader-delay-ms
    /// (Alma's loader works through every row).
    #[arg(long, default_value_t = leganto_tests::alma_sim::REALISTIC_LOADER_ROW_TIME.as_millis() as u64)]
    loader_row_ms: u64,
    /// Valid processing departments, comma separated.
    #[arg(long, value_delimiter = ',')]
    departments: Option<Vec<String>>,
    /// How often the drop directory is polled for a new file, in milliseconds (without
    /// --loader-every).
    #[arg(long, default_value_t = 200)]
    watch_interval_ms: u64,
    /// Run the course loader every SECONDS, as Alma's integration profile does: each run
    /// takes the files stamped later than the previous run, and a run that finds none is
    /// a COMPLETED_NO_BULKS job instance. Without it, a new file starts a run at once.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    loader_every: Option<u64>,
    /// The library's time zone: loader file stamps are its local time.
    #[arg(long, default_value_t = leganto_shared::config::DEFAULT_TIME_ZONE)]
    time_zone: chrono_tz::Tz,
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot read the fixture")]
    Fixture(#[source] std::io::Error),
    #[error("environment variable {0} (named by --api-key-env) is not set")]
    KeyEnv(String),
    #[error("--fault-rate must be between 0 and 1")]
    FaultRate,
    #[error("cannot start the simulator")]
    Start(#[source] std::io::Error),
    #[error("cannot write the base URL to stdout")]
    Stdout(#[source] std::io::Error),
}

fn options(args: &Args) -> Result<SimOptions, Error> {
    let mut opts = match &args.fixture {
        Some(path) => SimOptions::with_fixture(path).map_err(Error::Fixture)?,
        None => SimOptions::default(),
    };
    if let Some(var) = &args.api_key_env {
        opts.api_key = std::env::var(var).map_err(|_| Error::KeyEnv(var.clone()))?;
    }
    opts.drop_dir = args.drop_dir.clone();
    opts.per_second_limit = (args.rate > 0).then_some(args.rate);
    opts.daily_quota = args.quota;
    opts.latency = Duration::from_millis(args.latency_ms);
    opts.fault = match (args.fault_every, args.fault_rate) {
        (Some(n), _) => Some(Fault::EveryNth(n)),
        (None, Some(p)) if (0.0..=1.0).contains(&p) => Some(Fault::Rate(p)),
        (None, Some(_)) => return Err(Error::FaultRate),
        (None, None) => None,
    };
    opts.loader_delay = Duration::from_millis(args.loader_delay_ms);
    opts.loader_row_time = Duration::from_millis(args.loader_row_ms);
    if let Some(d) = &args.departments {
        opts.processing_departments = d
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    opts.watch_interval = Duration::from_millis(args.watch_interval_ms);
    opts.loader_every = args.loader_every.map(Duration::from_secs);
    opts.time_zone = args.time_zone;
    Ok(opts)
}

async fn run(args: Args) -> Result<(), Error> {
    use std::io::Write;
    let opts = options(&args)?;
    let sim = AlmaSim::start_on(SocketAddr::from(([127, 0, 0, 1], args.port)), opts)
        .await
        .map_err(Error::Start)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", sim.base_url()).map_err(Error::Stdout)?;
    out.flush().map_err(Error::Stdout)?;
    drop(out);
    wait_for_stop().await;
    tracing::info!("alma simulator stopping");
    drop(sim);
    Ok(())
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("alma-sim: {msg}");
            std::process::ExitCode::FAILURE
        }
    }
}
