//! Lambda `leganto-release`: Release the run date: give back the day's lease on every ending of the execution.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps::release`.

use leganto_shared::steps::{self, release};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::serve("release", release::run).await
}
