//! Lambda `leganto-transform`: Transform the day's export into Alma's course loader file, rejects and run summary.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps::transform`.

use leganto_shared::steps::{self, transform};

// mimalloc, not the system allocator: the row passes allocate a course per code and free
// them all at the end, and it took 10–17% off the transform's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::serve("transform", transform::run).await
}
