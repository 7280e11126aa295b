//! Lambda `leganto-check-job`: Check Alma's course loader job: the run after our push, its status and counters.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps::check_job`.

use leganto_shared::steps::{self, check_job};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::serve("check-job", check_job::run).await
}
