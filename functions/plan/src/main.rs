//! Lambda `leganto-plan`: Plan the run: run date, first stage, dry run, and what a rerun recalls from S3.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps::plan`.

use leganto_shared::steps::{self, plan};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::serve("plan", plan::run).await
}
