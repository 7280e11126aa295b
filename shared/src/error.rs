//! What every adapter's error shares: the stable name the state machine's `Retry`/`Catch`
//! match, and one boxed-error type for sources of more than one kind.

/// A source error of any kind that can cross threads.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The stable name of an error (`SftpUnavailable`, `AlmaQuotaExhausted`, ...): what a
/// Lambda reports as `errorType` and what `Retry`/`Catch` in the state machine match.
/// Names never change once released; infra/CONTRACT.md lists them.
pub trait ErrorName {
    fn error_name(&self) -> &'static str;
}
