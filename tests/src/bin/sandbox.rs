//! `make sandbox`: one whole day of the real state machine on the local stack.
//!
//! Starts the stack (`leganto_tests::stack`: moto executing `infra/statemachine.asl.json`,
//! the Lambda host running the real handlers, sshd, the Alma simulator, a Slack receiver),
//! drops the sample CEM export on the CEM SFTP account, runs the day and prints what
//! happened: each state with its time, the counts, the file Alma loaded and what Alma holds
//! now, the report e-mail, the Slack posts, the S3 keys and the execution's status. Then it
//! stops everything it started. Exit status 0 only when the execution SUCCEEDED.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use leganto_shared::error::BoxError;
use leganto_shared::ops::error_chain;
use leganto_tests::stack::{format_visits, Stack, StackOptions};
use leganto_tests::support::RUN_DATE;
use mail_parser::MimeHeaders as _;
use serde_json::{json, Value};

const EXECUTION_LIMIT: Duration = Duration::from_secs(600);

#[tokio::main]
async fn main() -> ExitCode {
    // Quiet unless asked (RUST_LOG=info shows the handlers' logs): the account below is
    // the output, and the execution's history already names any failure.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();

    let started = Instant::now();
    println!("leganto sandbox: the daily course load for {RUN_DATE}, run by the real state machine on a local stack");
    println!("starting moto, the Lambda host, sshd, the Alma simulator and a Slack receiver ...");
    let stack = match Stack::start(StackOptions::default()).await {
        Ok(stack) => stack,
        Err(e) => {
            eprintln!("the local stack did not start: {}", error_chain(&e));
            return ExitCode::FAILURE;
        }
    };
    println!("stack up in {:.1} s", started.elapsed().as_secs_f64());
    // Ctrl-C still drops the stack, so nothing outlives the sandbox.
    let outcome = tokio::select! {
        outcome = day(&stack) => outcome,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
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

/// Runs the day and prints its account; `Ok(true)` when the execution succeeded.
async fn day(stack: &Stack) -> Result<bool, BoxError> {
    heading("The stack");
    println!(
        "  moto (S3, Secrets Manager, SES, Step Functions)  {}",
        stack.moto.endpoint()
    );
    println!(
        "  Lambda host (the 9 step functions)              {}",
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
    let date = NaiveDate::parse_from_str(RUN_DATE, "%Y-%m-%d")?;
    let export = stack.put_sample_export(date)?;
    heading("The CEM export");
    println!("  dropped tests/fixtures/sample/cem.csv as {export} on the CEM SFTP account");

    let name = format!("sandbox-{RUN_DATE}-{}", chrono::Utc::now().format("%H%M%S"));
    let input = json!({"run_date": RUN_DATE});
    let arn = stack.start_execution(&name, &input).await?;
    heading("The execution");
    println!("  {name}  input {input}");
    let execution = stack.wait_for_execution(&arn, EXECUTION_LIMIT).await?;
    let visits = stack.history(&arn).await?;
    for line in format_visits(&visits, execution.started) {
        println!("  {line}");
    }
    if let (Some(a), Some(b)) = (execution.started, execution.stopped) {
        println!("  took {:.1} s", (b - a).num_milliseconds() as f64 / 1000.0);
    }
    let out = execution.output.clone().unwrap_or(Value::Null);

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
    for run in stack.alma.job_instances() {
        let c = &run.counters;
        println!(
            "  course loader took {} → job {} {:?}: {} rows read, {} courses created, {} updated, {} deleted, {} rolled over, {} rows with errors",
            run.file_name, run.id, run.status, c.rows_read, c.created, c.updated, c.deleted, c.rolled_over, c.errors
        );
        for e in run.row_errors.iter().take(5) {
            println!("    row {} {} {}: {}", e.line, e.code, e.section, e.reason);
        }
    }
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

    heading("Result");
    println!("  execution {name}: {}", execution.status);
    if let Some(error) = &execution.error {
        println!(
            "  error {error}: {}",
            execution.cause.as_deref().unwrap_or_default()
        );
    }
    Ok(execution.status == "SUCCEEDED")
}

fn heading(title: &str) {
    println!("\n== {title}");
}
