//! Lambda `leganto-check-hold`: Look for a person's decision on a day the safety brake held (approve, reject, or wait).
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps::check_hold`.

use leganto_shared::steps::{self, check_hold};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::serve("check-hold", check_hold::run).await
}
