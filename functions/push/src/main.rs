//! Lambda `leganto-push`: Push the day's loader file to Alma's SFTP server, atomically and at most once.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps::push`.

use leganto_shared::steps::{self, push};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::serve("push", push::run).await
}
