//! Lambda `leganto-check-job`: Check Alma's course loader job: the run after our push, its status and counters.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps`.

use leganto_shared::steps::{self, Step};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::run_lambda(Step::CheckJob).await
}
