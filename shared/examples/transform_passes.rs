//! The passes the Transform Lambda makes over one export, offline, for measuring its CPU
//! time and peak memory (`bench/transform-vs-iconv.sh`): the export spooled to an unnamed
//! file in the temp directory (as the Lambda spools the S3 body to /tmp), the day's course
//! rows (gzipped, as kept for the next baseline) compared with a baseline (the same day's
//! rows: a delta day holds both in memory), pass 1 (`scan`, which also gives the copy years
//! to cache) and pass 2 (`transform_only`, the loader file written to a file). The
//! delete guard is offline (no Alma): the Alma side is measured by `bench-alma` and the
//! sandbox.
//!
//! usage: cargo run --release -p leganto-shared --example transform_passes -- CEM OUT

// A measurement stops at its first failure, with the value shown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::{BufWriter, Write};

use leganto_shared::domain::delta::{self, Baseline, Changed};
use leganto_shared::domain::run::{transform_only, write_course_rows};
use leganto_shared::domain::{scan, DeleteGuard, Rules};
use leganto_shared::steps::transform::years_needed;

// The Transform Lambda's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cem, out] = args.as_slice() else {
        eprintln!("usage: transform_passes CEM OUT");
        std::process::exit(2);
    };
    let rules = Rules::asu().expect("rules");
    let mut export = tempfile::tempfile().expect("spool file");
    std::io::copy(&mut File::open(cem).expect("open the export"), &mut export).expect("spool");
    let mut course_rows = Vec::new();
    write_course_rows(&mut export, &rules, &mut course_rows).expect("course rows");
    let kept = delta::gzip(&course_rows).expect("gzip the course rows");
    let baseline = Baseline::from_gzip(&kept).expect("the baseline");
    let changed = Changed::between(&course_rows, &baseline);
    let found = scan(&mut export, &rules).expect("pass 1");
    let mut w = BufWriter::with_capacity(256 * 1024, File::create(out).expect("create OUT"));
    let summary = transform_only(
        &mut export,
        &rules,
        DeleteGuard::Offline,
        Some(&changed),
        &mut w,
    )
    .expect("pass 2");
    w.flush().expect("write OUT");
    let (years, _) = years_needed(&found, &rules);
    eprintln!(
        "rows {} courses {} delete targets {} copy candidates {} copy years {}",
        summary.rows_read,
        summary.courses_written,
        found.delete_targets.len(),
        found.copy_candidates.len(),
        years.len()
    );
}
