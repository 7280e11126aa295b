//! Lambda `leganto-transform`: Transform the day's export into Alma's course loader file, rejects and run summary.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps::transform`.

use leganto_shared::steps::{self, transform};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::serve("transform", transform::run).await
}
