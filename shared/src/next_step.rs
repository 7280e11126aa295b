//! For each stable error name, one sentence on what an operator should do next. Slack's
//! failure notice and `leganto status` print it; infra/CONTRACT.md ("What to do about each
//! error") is the same table, and a test keeps the two and every name in the code together.

/// (error name, what to do next), by name.
pub const NEXT_STEPS: &[(&str, &str)] = &[
    ("AlmaApiError", "Alma refused a request: read the Alma error in the cause, fix what it names (often a course or code Alma does not accept), then rerun the day from the failed stage."),
    ("AlmaInvalidConfig", "Fix the Alma settings of the stack (AlmaBaseUrl must be your region's API gateway) and redeploy, then rerun the day."),
    ("AlmaInvalidResponse", "Alma answered something that cannot be read, so nothing was deleted on its word: rerun the day from the failed stage later, and contact Ex Libris support if it repeats."),
    ("AlmaQuotaExhausted", "Alma's daily API quota for the institution is spent: rerun the day from the failed stage after midnight in Alma's time zone, and check which other integrations use the quota."),
    ("AlmaUnauthorized", "The Alma API key was refused: put a production key with Courses read/write and Configuration read permissions in the Alma API key secret, then rerun the day."),
    ("AlmaUnavailable", "Alma could not be reached after several tries: check Ex Libris' status page, then rerun the day from the failed stage."),
    ("AlreadyPushed", "The day was already loaded and nothing of it was changed: only if it really must be loaded again (Alma would load both files), rerun it with --force."),
    ("ArtefactInvalid", "A file the run reads back from S3 is damaged: rerun the day from the stage that writes it (the cause names the key)."),
    ("ArtefactMissing", "A file the stage needs is not in S3 (the cause names the key): rerun the day from the stage that writes it."),
    ("EmailFailed", "SES did not send the e-mail: check that EmailSender is verified in SES and the account is out of the SES sandbox, then rerun the day from rollover_report."),
    ("HeldExpired", "Nobody approved the held day in time and nothing was pushed: look at the day's counts, then rerun it from push and approve (leganto approve) or reject it."),
    ("HeldRejected", "The held day was rejected and nothing was pushed: fix the export with the campus, then rerun the day from pull."),
    ("HostKeyMismatch", "The SFTP server's host key is not the one pinned in its secret: confirm the new key with the server's administrators, add its SHA-256 fingerprint to host_key_sha256, then rerun the day."),
    ("InvalidConfig", "A setting of the stack is missing or wrong (the cause names it): fix the stack parameter and redeploy, then rerun the day."),
    ("InvalidInput", "The export or the execution input cannot be used (the cause says why): fix it (with the campus, for the export), then rerun the day from pull or transform."),
    ("OutOfOrder", "A later day is already loaded, so this older day was not pushed: leave it (the later day's file holds its courses), or, only if its own file must reach Alma, rerun it with --force."),
    ("OutputFailed", "A result could not be written: rerun the day from the failed stage, and report it as a bug if it repeats."),
    ("RunInProgress", "Another execution is already running this day: wait for it to end (or stop it in the Step Functions console), then rerun if needed."),
    ("SecretInvalid", "A secret does not have the expected fields or still holds a placeholder (the cause names the secret and field): fix the secret's value, then rerun the day."),
    ("SecretsUnavailable", "Secrets Manager could not be read after several tries: check the function's permissions and the secret's existence, then rerun the day."),
    ("SftpAuthFailed", "The SFTP server refused the login: check the user and key or password in the server's secret (and that the server allows this address), then rerun the day."),
    ("SftpConflict", "A different file with the same name is already on the SFTP server: compare the two, remove the wrong one, then rerun from push."),
    ("SftpFailed", "The SFTP server reported an error (in the cause): fix it with the server's administrators, then rerun the day from the failed stage."),
    ("SftpFileTooLarge", "The file on the SFTP server is larger than the stack's ExportMaxMegabytes allows: check with the campus that it really is the day's export, then raise ExportMaxMegabytes if it is, and rerun from pull."),
    ("SftpLoginInvalid", "The SFTP secret is incomplete (the cause names the field): fix the secret's value, then rerun the day."),
    ("SftpNotFound", "The SFTP directory or file does not exist: check the directory in the server's secret, then rerun the day."),
    ("SftpPermissionDenied", "The SFTP account may not read or write there: ask the server's administrators for access to the directory, then rerun the day."),
    ("SftpSizeMismatch", "A transfer was cut short after several tries: check the SFTP server's disk and network, then rerun the day from the failed stage."),
    ("SftpUnavailable", "The SFTP server could not be reached after several tries: check the server and the network path to it, then rerun the day from the failed stage."),
    ("SlackFailed", "Slack refused the post: check the webhook URL in the Slack secret (a revoked webhook must be replaced); the run itself was not affected."),
    ("SourceFileIncomplete", "The export was still being written when Pull gave up waiting: check that CEM's export job finished, then rerun the day from pull."),
    ("SourceFileMissing", "Today's export is not on the CEM server: ask the campus why the export job did not run, then rerun the day from pull once the file is there."),
    ("StoreUnavailable", "S3 could not be reached after several tries: check the AWS Health Dashboard and the function's permissions, then rerun the day from the failed stage."),
];

/// When the name is not ours (a Step Functions or Lambda error such as `States.Timeout`).
pub const OTHERWISE: &str = "Open the execution in the Step Functions console, read the failed state's error, then rerun the day from the failed stage.";

/// What an operator should do about an error of this stable name.
pub fn next_step(error_name: &str) -> &'static str {
    NEXT_STEPS
        .binary_search_by(|(name, _)| name.cmp(&error_name))
        .map(|i| NEXT_STEPS[i].1)
        .unwrap_or(OTHERWISE)
}

/// The `leganto` commands that talk to a deployed stack, so need to be told which; a
/// command with subcommands takes `--stack` after the subcommand.
const STACK_COMMANDS: [&str; 17] = [
    "rerun",
    "approve",
    "reject",
    "status",
    "doctor",
    "rules show",
    "rules push",
    "rules check",
    "full-load next",
    "full-load cancel",
    "full-load show",
    "schedule on",
    "schedule off",
    "schedule show",
    "rollovers approve",
    "rollovers revoke",
    "rollovers list",
];

/// `text` with `--stack STACK` after each `leganto` command of [`STACK_COMMANDS`] that
/// does not name one: a command in a Slack message then runs as written, whichever
/// directory the operator is in and whatever stack their samconfig.toml names.
pub fn naming_the_stack(text: &str, stack: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("leganto ") {
        let after = &rest[at + "leganto ".len()..];
        out.push_str(&rest[..at + "leganto ".len()]);
        let command = STACK_COMMANDS.iter().find(|c| {
            after.strip_prefix(**c).is_some_and(|tail| {
                !tail.starts_with(|ch: char| ch.is_alphanumeric() || ch == '-' || ch == '_')
                    && !tail.trim_start().starts_with("--stack")
            })
        });
        match command {
            Some(command) => {
                out.push_str(command);
                out.push_str(" --stack ");
                out.push_str(stack);
                rest = &after[command.len()..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stack_command_is_given_the_stack_once() {
        let text = "approve it (leganto approve --run-date 2026-11-28) and rerun it from push \
                    (leganto rerun --run-date 2026-11-28 --from push); `leganto doctor`";
        assert_eq!(
            naming_the_stack(text, "leganto-prod"),
            "approve it (leganto approve --stack leganto-prod --run-date 2026-11-28) and rerun \
             it from push (leganto rerun --stack leganto-prod --run-date 2026-11-28 --from push); \
             `leganto doctor --stack leganto-prod`"
        );
    }

    #[test]
    fn a_command_with_subcommands_is_given_the_stack_after_its_subcommand() {
        assert_eq!(
            naming_the_stack(
                "see leganto rules show, then leganto full-load cancel",
                "leganto-prod"
            ),
            "see leganto rules show --stack leganto-prod, then leganto full-load cancel \
             --stack leganto-prod"
        );
        assert_eq!(
            naming_the_stack(
                "leganto rules push --stack leganto-dev x.toml",
                "leganto-prod"
            ),
            "leganto rules push --stack leganto-dev x.toml"
        );
    }

    #[test]
    fn other_words_after_leganto_and_a_named_stack_are_left_as_they_are() {
        for text in [
            "leganto transform --input x",
            "leganto reruns happen",
            "leganto rerun --stack leganto-dev --from pull",
            "the leganto stack",
        ] {
            assert_eq!(naming_the_stack(text, "leganto-prod"), text);
        }
    }

    #[test]
    fn the_table_is_sorted_one_sentence_each() {
        assert!(NEXT_STEPS.windows(2).all(|w| w[0].0 < w[1].0));
        for (name, sentence) in NEXT_STEPS {
            assert!(sentence.ends_with('.'), "{name}");
            assert_eq!(sentence.matches(". ").count(), 0, "{name}: one sentence");
        }
    }

    #[test]
    fn a_known_name_gets_its_sentence_and_any_other_the_console() {
        assert!(next_step("HostKeyMismatch").contains("host_key_sha256"));
        assert_eq!(next_step("States.Timeout"), OTHERWISE);
    }
}
