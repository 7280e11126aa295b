//! What the commands share: rules, the Alma client and cache, atomic output files,
//! summaries, and the failures that end a run with one stderr line and an exit code. The
//! deployment the operating commands talk to is found in `crate::deployment`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use leganto_shared::alma::{AlmaClient, AlmaClientConfig, CourseCache};
use leganto_shared::config::DEFAULT_TIME_ZONE;
use leganto_shared::domain::loader::loader_file_name;
use leganto_shared::domain::{RowReject, Rules, RunError, RunSummary};
use leganto_shared::error::error_chain;
use leganto_shared::ops::OpsError;
use leganto_shared::pipeline::PipelineError;
use leganto_shared::store::StoreError;
use serde::Serialize;

pub use crate::deployment::{Deployment, Resolved};
use crate::progress::Bars;

/// The exit codes as `leganto --help` lists them; [`Fatal::exit_code`] gives 3 to 8.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  2  usage: an unknown command, flag or value (clap), or rerun's --full with a stage
     after transform
  3  input: the CEM export or a --plan file cannot be used, S3 lacks the day's files a
     rerun needs, another execution is running the day, the day approve/reject names
     is not held, or another rules push came first
  4  Alma: unreachable, key refused, quota spent, or a deletion failed
  5  settings: rules file, ALMA_API_KEY, no state machine, bucket or stack, a failed
     doctor check, or schedule on without a passing preflight within the hour
  6  output: a file or stdout cannot be written
  7  AWS: an S3, Step Functions, EventBridge Scheduler or CloudFormation call failed
  8  the execution `rerun --wait` followed ended FAILED, TIMED_OUT or ABORTED

The operating commands find the stack as `sam deploy` does: --config-env NAME reads
stack_name and region from ./samconfig.toml (or --config-file PATH); --stack, --region,
--profile and LEGANTO_STACK, AWS_REGION, AWS_PROFILE win over it (flag > environment >
samconfig.toml).";

/// A failure that ends the run: one line for people, an exit code for scripts.
#[derive(Debug)]
pub enum Fatal {
    /// The CEM export, a plan file or the day's files in S3 cannot be used (exit 3).
    Input(String),
    /// Alma unreachable, key refused, quota exhausted (exit 4).
    Alma(String),
    /// Rules file, API key or arguments, or a failed preflight check (exit 5).
    Settings(String),
    /// The output cannot be written (exit 6).
    Output(String),
    /// An AWS service call failed or could not be made (exit 7).
    Aws(String),
    /// The execution `--wait` followed did not succeed (exit 8): the command worked, the
    /// run did not.
    Followed(String),
}

impl Fatal {
    /// The same failure with each `leganto` command it gives naming `stack`, so the
    /// command runs as written ([`leganto_shared::next_step::naming_the_stack`]).
    pub fn naming_the_stack(self, stack: Option<&str>) -> Fatal {
        let Some(stack) = stack else {
            return self;
        };
        let name = |m: String| leganto_shared::next_step::naming_the_stack(&m, stack);
        match self {
            Fatal::Input(m) => Fatal::Input(name(m)),
            Fatal::Alma(m) => Fatal::Alma(name(m)),
            Fatal::Settings(m) => Fatal::Settings(name(m)),
            Fatal::Output(m) => Fatal::Output(name(m)),
            Fatal::Aws(m) => Fatal::Aws(name(m)),
            Fatal::Followed(m) => Fatal::Followed(name(m)),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Fatal::Input(_) => 3,
            Fatal::Alma(_) => 4,
            Fatal::Settings(_) => 5,
            Fatal::Output(_) => 6,
            Fatal::Aws(_) => 7,
            Fatal::Followed(_) => 8,
        }
    }
}

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fatal::Input(m)
            | Fatal::Alma(m)
            | Fatal::Settings(m)
            | Fatal::Output(m)
            | Fatal::Aws(m)
            | Fatal::Followed(m) => {
                // One line, whatever the source said.
                f.write_str(&m.replace(['\r', '\n'], " "))
            }
        }
    }
}

impl From<RunError> for Fatal {
    fn from(e: RunError) -> Fatal {
        match e {
            RunError::Input(e) => Fatal::Input(e.to_string()),
            RunError::Output(e) => Fatal::Output(format!("cannot write the output: {e}")),
        }
    }
}

impl From<PipelineError> for Fatal {
    fn from(e: PipelineError) -> Fatal {
        match e {
            PipelineError::Alma(e) => Fatal::Alma(e.to_string()),
            PipelineError::Run(e) => e.into(),
            // The CLI's cache has no stop time; should one ever stop, it is Alma's doing.
            PipelineError::Stopped => Fatal::Alma(e.to_string()),
        }
    }
}

/// What `transform` and `rollover-report` both take. Each command words `--output` and
/// `--alma-url` for itself; `rollover-report` also makes `--alma-url` required.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The CEM export (CSV; Windows-1252, UTF-8, or UTF-16 with a byte order mark).
    #[arg(long)]
    pub input: PathBuf,
    /// The file to write, or a directory to write YYYYMMDDHHMMSS.txt into.
    #[arg(long)]
    pub output: PathBuf,
    /// Alma API base URL, e.g. https://api-na.hosted.exlibrisgroup.com (key: ALMA_API_KEY).
    #[arg(long)]
    pub alma_url: Option<String>,
    /// Alma calls per second at most.
    #[arg(long, default_value_t = leganto_shared::config::DEFAULT_ALMA_RATE, value_parser = clap::value_parser!(u32).range(1..))]
    pub alma_rate: u32,
    /// Institution rules (TOML); the built-in ASU rules otherwise.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// The day the run is for (YYYY-MM-DD); today in the library's time zone otherwise.
    #[arg(long)]
    pub run_date: Option<NaiveDate>,
    /// The library's time zone: the default run date and the file name's time stamp.
    #[arg(long, env = leganto_shared::config::env::TIME_ZONE, hide_env = true, default_value_t = DEFAULT_TIME_ZONE)]
    pub time_zone: Tz,
    /// Write the run summary here (JSON).
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// No progress bars, even on a terminal: one line on stderr as each Alma phase ends.
    #[arg(long, short)]
    pub quiet: bool,
}

impl RunArgs {
    /// The Alma cache when `--alma-url` is given, showing how its work goes.
    pub fn alma_cache(&self) -> Result<Option<CourseCache>, Fatal> {
        self.alma_url
            .as_deref()
            .map(|url| alma_client(url, self.alma_rate, self.quiet).map(CourseCache::new))
            .transpose()
    }

    /// Prints the summary and writes it to `--summary` when given.
    pub fn report(
        &self,
        command: &'static str,
        run_date: NaiveDate,
        output: &Path,
        summary: &RunSummary,
    ) -> Result<(), Fatal> {
        report(
            &CliSummary {
                command,
                run_date: run_date.to_string(),
                input: self.input.display().to_string(),
                output: output.display().to_string(),
                summary,
            },
            self.summary.as_deref(),
        )
    }
}

/// Logs go to stderr, off unless `RUST_LOG` asks (so a failure stays one line).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn load_rules(path: Option<&Path>) -> Result<Rules, Fatal> {
    match path {
        Some(p) => Rules::load(p),
        None => Rules::asu(),
    }
    .map_err(|e| Fatal::Settings(format!("{e}: fix the rules file or leave out --rules")))
}

/// The Alma client at `rate` calls per second, showing its progress ([`Bars`]); the key
/// comes from `ALMA_API_KEY` only.
pub fn alma_client(url: &str, rate: u32, quiet: bool) -> Result<AlmaClient, Fatal> {
    let key = std::env::var("ALMA_API_KEY").unwrap_or_default();
    if key.trim().is_empty() {
        return Err(Fatal::Settings(
            "ALMA_API_KEY is not set: export the Alma API key in ALMA_API_KEY (it is never a flag)"
                .into(),
        ));
    }
    let mut cfg = AlmaClientConfig::new(url, secrecy::SecretString::from(key));
    cfg.rate_per_second = rate;
    let client = AlmaClient::new(cfg).map_err(|e| Fatal::Settings(error_chain(&e)))?;
    Ok(client.with_progress(Bars::new(rate, quiet)))
}

pub fn open_input(path: &Path) -> Result<File, Fatal> {
    File::open(path).map_err(|e| {
        Fatal::Input(format!(
            "cannot open the CEM export {}: {e}: check the --input path",
            path.display()
        ))
    })
}

/// The day the run is for: `--run-date`, else today in the library's time zone.
pub fn run_date(arg: Option<NaiveDate>, tz: Tz) -> NaiveDate {
    arg.unwrap_or_else(|| chrono::Utc::now().with_timezone(&tz).date_naive())
}

/// `--output` as given, or `DIR/YYYYMMDDHHMMSS.txt` when it names a directory (the run
/// date with the current time of day in the library's time zone).
pub fn output_path(output: &Path, run_date: NaiveDate, tz: Tz) -> PathBuf {
    if !output.is_dir() {
        return output.to_owned();
    }
    let now = chrono::Utc::now().with_timezone(&tz).time();
    let stamp = tz
        .from_local_datetime(&run_date.and_time(now))
        .earliest()
        .map(|t| loader_file_name(&t))
        .unwrap_or_else(|| format!("{}.txt", run_date.format("%Y%m%d000000")));
    output.join(stamp)
}

/// A file that appears under its name only when complete: written to a temporary file in
/// the same directory, renamed on [`AtomicFile::commit`], removed if dropped.
pub struct AtomicFile {
    target: PathBuf,
    tmp: tempfile::NamedTempFile,
}

impl AtomicFile {
    pub fn create(target: &Path) -> Result<AtomicFile, Fatal> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".leganto-")
            .tempfile_in(dir)
            .map_err(|e| Fatal::Output(format!("cannot create {}: {e}", target.display())))?;
        // Temporary files are private (0600); the output is an ordinary file.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = tmp
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644));
        }
        Ok(AtomicFile {
            target: target.to_owned(),
            tmp,
        })
    }

    pub fn writer(&mut self) -> BufWriter<&mut File> {
        BufWriter::with_capacity(256 * 1024, self.tmp.as_file_mut())
    }

    pub fn commit(self) -> Result<(), Fatal> {
        let target = self.target;
        self.tmp
            .persist(&target)
            .map(|_| ())
            .map_err(|e| Fatal::Output(format!("cannot write {}: {}", target.display(), e.error)))
    }
}

/// Writes a small file atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Fatal> {
    let mut f = AtomicFile::create(path)?;
    {
        let mut w = f.writer();
        w.write_all(bytes)
            .and_then(|_| w.flush())
            .map_err(|e| Fatal::Output(format!("cannot write {}: {e}", path.display())))?;
    }
    f.commit()
}

/// The summary as `--summary` writes it and stdout shows it.
#[derive(Serialize)]
pub struct CliSummary<'a> {
    pub command: &'static str,
    pub run_date: String,
    pub input: String,
    pub output: String,
    #[serde(flatten)]
    pub summary: &'a RunSummary,
}

pub fn report(s: &CliSummary<'_>, summary_path: Option<&Path>) -> Result<(), Fatal> {
    if let Some(p) = summary_path {
        let json = serde_json::to_vec_pretty(s)
            .map_err(|e| Fatal::Output(format!("cannot encode the summary: {e}")))?;
        write_atomic(p, &json)?;
    }
    println!(
        "{} {} -> {} (run date {})",
        s.command, s.input, s.output, s.run_date
    );
    println!("{}", s.summary);
    Ok(())
}

/// The rejects file: `line,course_code,reason`, each cell safe to open in a spreadsheet
/// (`leganto_shared::csv_safe`).
pub fn write_rejects(path: &Path, rejects: &[RowReject]) -> Result<(), Fatal> {
    let fail = |e: csv::Error| Fatal::Output(format!("cannot write {}: {e}", path.display()));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["line", "course_code", "reason"])
        .map_err(fail)?;
    for r in rejects {
        let reason = match r.column {
            Some(c) => format!("{c}: {}", r.reason),
            None => r.reason.clone(),
        };
        let line = r.line.to_string();
        let cells = [line.as_str(), &r.course_code, &reason];
        leganto_shared::csv_safe::write_record(&mut w, &cells).map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Fatal::Output(format!("cannot write {}: {e}", path.display())))?;
    write_atomic(path, &bytes)
}

/// What to look at when an AWS call fails.
pub const AWS_HINT: &str = "check the AWS credentials, region and endpoint, and that the \
                        deployment's state machine and bucket exist";

/// An operating failure as the command reports it.
pub fn fatal(e: OpsError) -> Fatal {
    match e {
        OpsError::ArtefactMissing { .. }
        | OpsError::RunInProgress { .. }
        | OpsError::DecisionRefused { .. }
        | OpsError::RolloverRefused(_)
        | OpsError::RulesChanged { .. }
        | OpsError::FullLoadChanged { .. } => Fatal::Input(e.to_string()),
        OpsError::RulesInvalid(_) => Fatal::Settings(e.to_string()),
        OpsError::Alma(_) => Fatal::Alma(e.to_string()),
        // Step Functions' message already carries AWS's code and message.
        OpsError::StepFunctions { .. } | OpsError::Aws { .. } => {
            Fatal::Aws(format!("AWS: {e}: {AWS_HINT}"))
        }
        // The S3 failure says which call and key; its causes say why.
        OpsError::Store(StoreError::Unavailable { .. }) => {
            Fatal::Aws(format!("AWS: {}: {AWS_HINT}", error_chain(&e)))
        }
        // S3 answered, but the object is missing or not what was expected.
        OpsError::Store(_) => Fatal::Input(error_chain(&e)),
    }
}

/// `--by`, else the caller's AWS identity (its ARN), else the login name.
pub async fn who(by: Option<String>, sdk: &aws_config::SdkConfig) -> String {
    if let Some(by) = by.filter(|b| !b.trim().is_empty()) {
        return by.trim().to_string();
    }
    let sts = aws_sdk_sts::Client::new(sdk);
    if let Ok(identity) = sts.get_caller_identity().send().await {
        if let Some(arn) = identity.arn() {
            return arn.to_string();
        }
    }
    ["USER", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// `2026-11-28 09:20:05 MST`
pub fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}
