//! What every adapter's error shares: the stable name the state machine's `Retry`/`Catch`
//! match, which of those names are transient, and one boxed-error type for sources of more
//! than one kind.

/// A source error of any kind that can cross threads.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error names a later attempt can cure: a peer (S3, Secrets Manager, an SFTP server,
/// Alma) briefly out of reach, or a transfer cut short. The one list of them: the state
/// machine retries each on every Task that can raise it (infra/CONTRACT.md, "Retries"),
/// which tests/tests/infra/definition.rs checks against this list. Every other name fails
/// the run at once, and Slack says why.
pub const TRANSIENT_ERRORS: [&str; 5] = [
    "StoreUnavailable",
    "SecretsUnavailable",
    "SftpUnavailable",
    "SftpSizeMismatch",
    "AlmaUnavailable",
];

/// The stable name of an error (`SftpUnavailable`, `AlmaQuotaExhausted`, ...): what a
/// Lambda reports as `errorType` and what `Retry`/`Catch` in the state machine match.
/// Names never change once released; infra/CONTRACT.md lists them.
pub trait ErrorName {
    fn error_name(&self) -> &'static str;

    /// Worth retrying: the name is one of [`TRANSIENT_ERRORS`].
    fn is_transient(&self) -> bool {
        TRANSIENT_ERRORS.contains(&self.error_name())
    }
}

/// The error and its causes on one line (`a: b: c`), for people reading a terminal.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // SDK errors repeat their source's message; say each thing once.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
