//! `make sandbox`: one whole day of the real state machine on the local stack.
//!
//! Starts the stack (`leganto_tests::stack`: moto executing `infra/statemachine.asl.json`,
//! the Lambda host running the real handlers, sshd, the Alma simulator, a Slack receiver),
//! drops the CEM export (the sample day's, or `--cem`) on the CEM SFTP account, runs the day
//! and prints what happened: each state with its time, the counts, the file Alma loaded and
//! what Alma holds now, the report e-mail, the Slack posts, the S3 keys and the execution's
//! status. `--out DIR` writes it all down; `--keep` leaves the stack up for `leganto` to try
//! against from `DIR` (`DIR/samconfig.toml` names the stack, recorded in moto's
//! CloudFormation, as a deployment's does; `DIR/env.sh` sets AWS's settings and names the
//! CEM account's directory, `CEM_SFTP_DIR`, where the next day's export can be dropped
//! for `leganto rerun --from pull`);
//! `DIR/alma-calls.json` is the Alma simulator's call log. `--alma-loader-every SECONDS`
//! runs Alma's course loader on a schedule, as Alma does, rather than on each new file.
//! Then it stops everything it started. Exit status 0 only when the execution SUCCEEDED.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use clap::Parser;
use leganto_shared::error::error_chain;
use leganto_shared::error::BoxError;
use leganto_tests::moto::{RawMessage, REGION};
use leganto_tests::stack::{format_visits, Execution, Stack, StackOptions, StateVisit};
use leganto_tests::support::{sample_dir, RUN_DATE};
use mail_parser::MimeHeaders as _;
use serde_json::{json, Value};

const EXECUTION_LIMIT: Duration = Duration::from_secs(3600);

/// One day of the daily course load on a local stack.
#[derive(Debug, Parser)]
#[command(
    name = "sandbox",
    about = "One whole day of the real state machine on a local stack"
)]
struct Args {
    /// The CEM export to load [default: the sample day's].
    #[arg(long)]
    cem: Option<PathBuf>,
    /// The institution's rules, pushed to the stack's `config/rules.toml` before the day
    /// (as `leganto rules push` does) [default: none pushed, the shipped ASU rules].
    #[arg(long)]
    rules: Option<PathBuf>,
    /// The courses Alma holds at the start, as tests/fixtures/sample/alma_courses.json
    /// [default: the sample day's].
    #[arg(long)]
    alma_courses: Option<PathBuf>,
    /// The SAM template to deploy, beside its infra/statemachine.asl.json [default: the
    /// repository's].
    #[arg(long)]
    template: Option<PathBuf>,
    /// The day to run (YYYY-MM-DD).
    #[arg(long, default_value = RUN_DATE)]
    run_date: NaiveDate,
    /// The stack's AlmaRate: Alma calls per second.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    alma_rate: u32,
    /// The simulator's latency per Alma call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    alma_latency_ms: u64,
    /// Write what happened here: s3/, alma-sftp/, email/*.eml, slack.json, execution.json,
    /// alma-calls.json.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Leave the stack up after the day (needs --out): records it in moto's CloudFormation,
    /// writes OUT/samconfig.toml naming it and OUT/env.sh, prints `ready:` and stops
    /// everything on Ctrl-C or SIGTERM.
    #[arg(long, requires = "out")]
    keep: bool,
    /// Alma's course loader time per row of a file, in milliseconds.
    #[arg(long, default_value_t = leganto_tests::alma_sim::REALISTIC_LOADER_ROW_TIME.as_millis() as u64)]
    loader_row_ms: u64,
    /// Run Alma's course loader every SECONDS, as its integration profile does, rather
    /// than as soon as a file arrives: each run takes only the files stamped later than
    /// the previous run, an empty one included (a run that finds no file is a
    /// COMPLETED_NO_BULKS job). The state machine waits up to 18 minutes for the run
    /// that takes the day's file.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    alma_loader_every: Option<u64>,
    /// Then run the next day (run date + 1) on the same stack, its export made by editing
    /// this day's: one course code in N changed (50: about 2%), so it loads as a delta.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    next_day_every: Option<u64>,
    /// Deploy the stack with this template parameter set, e.g. RolloversEnabled=true
    /// (repeatable; wins over the sandbox's own settings).
    #[arg(long = "parameter", value_name = "NAME=VALUE", value_parser = name_and_value)]
    parameters: Vec<(String, String)>,
}

/// `NAME=VALUE` of `--parameter`.
fn name_and_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

/// Each `--parameter` names one of the template's parameters (a typo would be ignored).
fn check_parameters(template: &Path, parameters: &[(String, String)]) -> Result<(), String> {
    let text = std::fs::read_to_string(template)
        .map_err(|e| format!("cannot read {}: {e}", template.display()))?;
    let section = text.split("\nParameters:\n").nth(1).unwrap_or_default();
    let section = section.split("\n\n").next().unwrap_or_default();
    let unknown: Vec<&str> = parameters
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| {
            !section.contains(&format!("\n  {name}:\n"))
                && !section.starts_with(&format!("  {name}:\n"))
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} has no parameter {}",
            template.display(),
            unknown.join(", ")
        ))
    }
}

/// What one day took, for comparing two.
struct DayMeasures {
    succeeded: bool,
    seconds: f64,
    alma_calls: usize,
    transform_calls: String,
    loader_rows: u64,
    load: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Quiet unless asked (RUST_LOG=info shows the handlers' logs): the account below is
    // the output, and the execution's history already names any failure.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();

    let started = Instant::now();
    println!(
        "leganto sandbox: the daily course load for {}, run by the real state machine on a local stack",
        args.run_date
    );
    println!("starting moto, the Lambda host, sshd, the Alma simulator and a Slack receiver ...");
    let mut options = StackOptions {
        alma_rate: args.alma_rate,
        alma_latency: Duration::from_millis(args.alma_latency_ms),
        loader_row_time: Duration::from_millis(args.loader_row_ms),
        alma_loader_every: args.alma_loader_every.map(Duration::from_secs),
        // Room for a big file at the loader's pace (360 checks at most).
        poll_interval_seconds: 3,
        wait_limit_seconds: 1080,
        ..StackOptions::default()
    };
    if let Some(courses) = &args.alma_courses {
        options.alma_fixture = courses.clone();
    }
    if let Some(template) = &args.template {
        options.template = template.clone();
    }
    if let Err(e) = check_parameters(&options.template, &args.parameters) {
        eprintln!("sandbox: {e}");
        return ExitCode::from(2);
    }
    options.parameters = args.parameters.clone();
    // Alma checks each row's processing department against the institution's own.
    if let Some(rules) = &args.rules {
        match std::fs::read_to_string(rules) {
            Ok(text) => {
                options.processing_departments =
                    Some(leganto_tests::support::departments_in_rules(&text))
            }
            Err(e) => {
                eprintln!("{}: {e}", rules.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let stack = match Stack::start(options).await {
        Ok(stack) => stack,
        Err(e) => {
            eprintln!("the local stack did not start: {}", error_chain(&e));
            return ExitCode::FAILURE;
        }
    };
    println!("stack up in {:.1} s", started.elapsed().as_secs_f64());
    // Ctrl-C or SIGTERM still drops the stack, so nothing outlives the sandbox.
    let outcome = tokio::select! {
        outcome = days(&stack, &args) => outcome,
        _ = stopped() => Err("interrupted".into()),
    };
    let outcome = match (outcome, &args.out) {
        (Ok(succeeded), Some(out)) if args.keep => keep_up(&stack, out, args.run_date)
            .await
            .map(|()| succeeded),
        (outcome, _) => outcome,
    };
    drop(stack);
    println!("\nstopped moto, the Lambda host, sshd, the Alma simulator and the Slack receiver");
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("sandbox failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// The CloudFormation stack `--keep` records, which `OUT/samconfig.toml` names: the name
/// the local template is rendered with (`infra/local/render_template.py`), so Slack's
/// commands name it too.
const SANDBOX_STACK: &str = "leganto-local";

/// `--keep`: the stack stays up, for `leganto` to try against, until Ctrl-C or SIGTERM.
/// `leganto` finds it as it finds a deployed one: samconfig.toml names the stack, and
/// CloudFormation gives its bucket, state machine and time zone.
async fn keep_up(stack: &Stack, out: &Path, run_date: NaiveDate) -> Result<(), BoxError> {
    stack.record_in_cloudformation(SANDBOX_STACK).await?;
    write_samconfig(out)?;
    write_env(stack, out)?;
    println!(
        "\nready: the stack stays up; `cd {} && source env.sh` and try `leganto status --run-date {run_date}` (Ctrl-C stops it)",
        out.display()
    );
    println!(
        "  another day: drop its export in $CEM_SFTP_DIR, then `leganto rerun --run-date DAY --from pull`"
    );
    stopped().await;
    Ok(())
}

/// `OUT/samconfig.toml`: the sandbox's stack as `sam deploy` would have saved it.
fn write_samconfig(out: &Path) -> Result<(), BoxError> {
    let text = format!(
        "# The sandbox's local stack, as `sam deploy` saves a deployment: leganto reads\n\
         # stack_name and region from here when run in this directory.\n\
         version = 0.1\n\n\
         [default.global.parameters]\nstack_name = \"{SANDBOX_STACK}\"\n\n\
         [default.deploy.parameters]\nregion = \"{REGION}\"\n"
    );
    std::fs::write(out.join("samconfig.toml"), text)?;
    Ok(())
}

/// `OUT/env.sh`: what `leganto`, the AWS CLI and a person need to reach the stack. Only
/// AWS's own settings for `leganto`: it finds the stack through `OUT/samconfig.toml`.
fn write_env(stack: &Stack, out: &Path) -> Result<PathBuf, BoxError> {
    let quote = |v: &str| format!("'{}'", v.replace('\'', r"'\''"));
    let lines = [
        ("AWS_ENDPOINT_URL", stack.moto.endpoint()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_DEFAULT_REGION", REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", stack.admin.access_key_id().to_string()),
        (
            "AWS_SECRET_ACCESS_KEY",
            stack.admin.secret_access_key().to_string(),
        ),
        ("ALMA_URL", stack.alma.base_url().to_string()),
        ("ALMA_API_KEY", stack.alma.api_key().to_string()),
        ("ALMA_SFTP_DIR", stack.alma_dir().display().to_string()),
        // Where a person drops the next day's export for `leganto rerun --from pull`.
        ("CEM_SFTP_DIR", stack.cem_dir().display().to_string()),
    ];
    let mut text =
        String::from("# The sandbox's local stack (test credentials only); source this file.\n");
    for (name, value) in lines {
        text.push_str(&format!("export {name}={}\n", quote(&value)));
    }
    let path = out.join("env.sh");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The day, then with `--next-day-every` the next; `Ok(true)` when each succeeded.
async fn days(stack: &Stack, args: &Args) -> Result<bool, BoxError> {
    let cem = args
        .cem
        .clone()
        .unwrap_or_else(|| sample_dir().join("cem.csv"));
    let bytes = std::fs::read(&cem).map_err(|e| format!("{}: {e}", cem.display()))?;
    let profile = push_rules(stack, args.rules.as_deref()).await?;
    let one = day(
        stack,
        args.run_date,
        &bytes,
        &cem.display().to_string(),
        args.out.clone(),
    )
    .await?;
    let Some(every) = args.next_day_every else {
        return Ok(one.succeeded);
    };
    if !one.succeeded {
        return Ok(false);
    }
    let next = args.run_date.succ_opt().ok_or("no next day")?;
    let edited = leganto_tests::cem_edit::next_day(&bytes, every as usize, &profile)?;
    let label = format!(
        "{} with {} course codes changed or added (one in {every})",
        cem.display(),
        edited.changed_codes.len()
    );
    let out = args.out.as_ref().map(|o| o.join(next.to_string()));
    let two = day(stack, next, &edited.export, &label, out).await?;
    heading("Day two against day one");
    println!("  {:<32} {:>14} {:>14}", "", args.run_date, next);
    println!("  {:<32} {:>14} {:>14}", "file", one.load, two.load);
    println!(
        "  {:<32} {:>14} {:>14}",
        "loader file rows", one.loader_rows, two.loader_rows
    );
    println!(
        "  {:<32} {:>14.1} {:>14.1}",
        "execution wall time (s)", one.seconds, two.seconds
    );
    println!(
        "  {:<32} {:>14} {:>14}",
        "Alma API calls (whole run)", one.alma_calls, two.alma_calls
    );
    println!(
        "  {:<32} {:>14} {:>14}",
        "transform's Alma calls", one.transform_calls, two.transform_calls
    );
    Ok(two.succeeded)
}

/// Pushes `rules` (validated first) as `leganto rules push` does; the export profile the
/// stack then reads exports by.
async fn push_rules(
    stack: &Stack,
    rules: Option<&Path>,
) -> Result<leganto_shared::domain::ExportProfile, BoxError> {
    let Some(path) = rules else {
        return Ok(leganto_shared::domain::ExportProfile::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let compiled =
        leganto_shared::domain::rules::Rules::from_toml(&text, &path.display().to_string())?;
    let store = leganto_shared::store::Store::new(stack.s3(), leganto_tests::stack::BUCKET);
    let pushed =
        leganto_shared::ops::rules::push(&store, &text, &path.display().to_string()).await?;
    heading("The rules");
    match pushed {
        leganto_shared::ops::rules::Pushed::New { version, .. } => {
            println!("  pushed {} as {version}", path.display())
        }
        leganto_shared::ops::rules::Pushed::Unchanged(version) => {
            println!("  {} already in force as {version}", path.display())
        }
    }
    Ok(compiled.export().clone())
}

/// Runs one day and prints its account.
async fn day(
    stack: &Stack,
    date: NaiveDate,
    bytes: &[u8],
    cem_label: &str,
    out_dir: Option<PathBuf>,
) -> Result<DayMeasures, BoxError> {
    stack.alma.clear_calls();
    heading("The stack");
    println!(
        "  moto (S3, Secrets Manager, SES, Step Functions)  {}",
        stack.moto.endpoint()
    );
    println!(
        "  Lambda host (the step functions)                {}",
        stack.host.endpoint()
    );
    println!(
        "  SFTP (OpenSSH sshd)                             127.0.0.1:{}",
        stack.sshd.port()
    );
    println!("    CEM account  cem_sftp   {}", stack.cem_dir().display());
    println!("    Alma account alma_sftp  {}", stack.alma_dir().display());
    println!(
        "  Alma simulator                                  {}",
        stack.alma.base_url()
    );
    println!("  state machine  {}", stack.state_machine_arn);

    let courses_before = stack.alma.courses().len();
    let export = format!("leganto_export_{}.csv", date.format("%Y%m%d"));
    stack.put_export(&export, bytes)?;
    heading("The CEM export");
    println!("  dropped {cem_label} as {export} on the CEM SFTP account");

    let name = format!("sandbox-{date}-{}", chrono::Utc::now().format("%H%M%S"));
    let input = json!({"run_date": date.to_string()});
    // The simulator's clock against the wall's, to place its calls in the history.
    let clock = json!({"utc": chrono::Utc::now(), "at_ms": stack.alma.now_ms()});
    let arn = stack.start_execution(&name, &input).await?;
    heading("The execution");
    println!("  {name}  input {input}");
    let execution = stack.wait_for_execution(&arn, EXECUTION_LIMIT).await?;
    let visits = stack.history(&arn).await?;
    for line in format_visits(&visits, execution.started) {
        println!("  {line}");
    }
    let mut seconds = 0.0;
    if let (Some(a), Some(b)) = (execution.started, execution.stopped) {
        seconds = (b - a).num_milliseconds() as f64 / 1000.0;
        println!("  took {seconds:.1} s");
    }
    let out = execution.output.clone().unwrap_or(Value::Null);
    let load = &out["transform"]["load"];
    let load_line = match load["kind"].as_str() {
        Some("delta") => format!(
            "delta: {} of {} courses changed",
            load["changed"], load["courses"]
        ),
        Some(kind) => format!("{kind} load ({})", load["reason"].as_str().unwrap_or("-")),
        None => "-".to_string(),
    };
    println!("  {load_line}");
    // The run summary counts the transform's own Alma calls.
    let transform_calls = match out["transform"]["summary_key"].as_str() {
        Some(key) => serde_json::from_slice::<Value>(&stack.s3_get(key).await?)?["details"]
            ["alma_calls"]
            .to_string(),
        None => "-".to_string(),
    };

    heading("Counts");
    if let Some(counts) = out["transform"]["counts"].as_object() {
        for (name, value) in counts {
            println!("  {:<22} {value}", name.replace('_', " "));
        }
    }
    if let Some(warnings) = out["transform"]["warnings"].as_array() {
        println!("  first warnings (all in reports/.../run-summary.json):");
        for w in warnings.iter().take(5) {
            println!("    - {}", w.as_str().unwrap_or_default());
        }
    }
    println!(
        "  years cached           {}",
        out["transform"]["years_needed"]
    );

    heading("Alma");
    println!("  Alma's SFTP directory holds {:?}", stack.alma_files()?);
    print_loader_runs(stack);
    println!(
        "  Alma API calls made by the run: {}",
        stack.alma.calls().len()
    );
    println!(
        "  Alma holds {} courses now ({} before the load)",
        stack.alma.courses().len(),
        courses_before
    );
    println!(
        "  the state machine saw: status {}, {} checks, {} s after the push",
        out["alma_job"]["status"], out["alma_job"]["checks"], out["alma_job"]["waited_seconds"]
    );
    println!(
        "  rollover report {}: {} rollovers, {} ambiguous, {} not found",
        out["report"]["report_file_name"].as_str().unwrap_or("-"),
        out["report"]["rollovers"],
        out["report"]["ambiguous"],
        out["report"]["not_found"]
    );

    heading("The report e-mail (SES, read back from moto)");
    let emails = stack.moto.sent_emails().await?;
    if emails.is_empty() {
        println!("  none sent");
    }
    for email in &emails {
        let parsed = mail_parser::MessageParser::default().parse(email.raw_data.as_bytes());
        let subject = parsed
            .as_ref()
            .and_then(|m| m.subject().map(str::to_string))
            .unwrap_or_default();
        println!("  subject  {subject}");
        println!("  from     {}", email.source.as_deref().unwrap_or("-"));
        // moto appends the MIME To/Cc addresses to the API's destinations: drop repeats.
        let to: std::collections::BTreeSet<&str> =
            email.destinations.iter().map(String::as_str).collect();
        println!(
            "  to       {}",
            to.into_iter().collect::<Vec<_>>().join(", ")
        );
        if let Some(message) = &parsed {
            for part in message.attachments() {
                println!(
                    "  attached {} ({} bytes)",
                    part.attachment_name().unwrap_or("?"),
                    part.contents().len()
                );
            }
        }
    }

    heading("Slack");
    for post in stack.slack.posts() {
        let text = post["text"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| post.to_string());
        println!("  {text}");
    }

    heading("S3 bucket");
    let objects = stack.s3_objects().await?;
    let prefixes: BTreeSet<&str> = objects
        .iter()
        .filter_map(|o| o.key.split('/').next())
        .collect();
    for object in &objects {
        println!("  {:<55} {:>9} bytes", object.key, object.size);
    }
    println!("  ({} objects under {:?})", objects.len(), prefixes);

    if let Some(out) = &out_dir {
        write_out(stack, out, &execution, &visits, &emails, &clock).await?;
        heading("Written");
        println!(
            "  {}: s3/, alma-sftp/, email/, slack.json, execution.json",
            out.display()
        );
    }

    heading("Result");
    println!("  execution {name}: {}", execution.status);
    if let Some(error) = &execution.error {
        println!(
            "  error {error}: {}",
            execution.cause.as_deref().unwrap_or_default()
        );
    }
    // The last run that took a file (a scheduled loader also runs empty).
    let loader_rows = stack
        .alma
        .job_instances()
        .iter()
        .rev()
        .find(|run| !run.file_name.is_empty())
        .map_or(0, |run| run.counters.rows_read);
    Ok(DayMeasures {
        succeeded: execution.status == "SUCCEEDED",
        seconds,
        alma_calls: stack.alma.calls().len(),
        transform_calls,
        loader_rows,
        load: out["transform"]["load"]["kind"]
            .as_str()
            .unwrap_or("-")
            .to_string(),
    })
}

/// Each run of Alma's course loader so far: the file it took and what it did, or that it
/// found none (a scheduled run).
fn print_loader_runs(stack: &Stack) {
    for run in stack.alma.job_instances() {
        if run.file_name.is_empty() {
            println!(
                "  course loader found no file → job {} {:?}",
                run.id, run.status
            );
            continue;
        }
        let c = &run.counters;
        println!(
            "  course loader took {} → job {} {:?}: {} rows read, {} courses created, {} updated, {} deleted, {} rolled over, {} rows with errors",
            run.file_name, run.id, run.status, c.rows_read, c.created, c.updated, c.deleted, c.rolled_over, c.errors
        );
        for e in run.row_errors.iter().take(5) {
            println!("    row {} {} {}: {}", e.line, e.code, e.section, e.reason);
        }
    }
}

/// `--out`: the bucket (keys as paths), the files Alma's SFTP directory received, the
/// e-mails as .eml, the Slack posts and the execution with its history.
async fn write_out(
    stack: &Stack,
    out: &Path,
    execution: &Execution,
    visits: &[StateVisit],
    emails: &[RawMessage],
    clock: &Value,
) -> Result<(), BoxError> {
    std::fs::create_dir_all(out)?;
    for object in stack.s3_objects().await? {
        let path = out.join("s3").join(&object.key);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, stack.s3_get(&object.key).await?)?;
    }
    let sftp = out.join("alma-sftp");
    std::fs::create_dir_all(&sftp)?;
    for name in stack.alma_files()? {
        std::fs::copy(stack.alma_dir().join(&name), sftp.join(&name))?;
    }
    let mail = out.join("email");
    std::fs::create_dir_all(&mail)?;
    for (i, email) in emails.iter().enumerate() {
        std::fs::write(
            mail.join(format!("{:02}-{}.eml", i + 1, email.id)),
            &email.raw_data,
        )?;
    }
    std::fs::write(
        out.join("slack.json"),
        serde_json::to_string_pretty(&stack.slack.posts())?,
    )?;
    // The simulator's call log, for `bench/sandbox-day.sh`'s calls against time.
    std::fs::write(
        out.join("alma-calls.json"),
        serde_json::to_string(&json!({"clock": clock, "calls": stack.alma.calls()}))?,
    )?;
    let history: Vec<Value> = visits
        .iter()
        .map(|v| {
            json!({"state": v.name, "kind": v.kind, "entered": v.entered, "exited": v.exited,
                   "failure": v.failure})
        })
        .collect();
    let record = json!({
        "arn": execution.arn, "status": execution.status, "error": execution.error,
        "cause": execution.cause, "started": execution.started, "stopped": execution.stopped,
        "output": execution.output, "history": history,
    });
    std::fs::write(
        out.join("execution.json"),
        serde_json::to_string_pretty(&record)?,
    )?;
    Ok(())
}

fn heading(title: &str) {
    println!("\n== {title}");
}
