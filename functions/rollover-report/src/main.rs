//! Lambda `leganto-rollover-report`: Build the rollover report from the cached courses and Alma's reading lists.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps`.

use leganto_shared::steps::{self, Step};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::run_lambda(Step::RolloverReport).await
}
