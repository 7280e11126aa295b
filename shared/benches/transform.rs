//! Offline transform of a large CEM export (target: within 3× `iconv -f WINDOWS-1252
//! -t UTF-8` on the same file). Uses `$LEGANTO_BENCH_CEM`, else generates a 200,000-row
//! export with `tests/fixtures/gen-cem --rows 200000 --seed 1 --year 2026`.

// A benchmark stops at its first failure, with the value shown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leganto_shared::domain::{transform, DeleteGuard, Rules};

fn export() -> Vec<u8> {
    if let Ok(p) = std::env::var("LEGANTO_BENCH_CEM") {
        return std::fs::read(p).expect("read LEGANTO_BENCH_CEM");
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("target/bench-data/cem-200000-seed1");
    let file = dir.join("cem.csv");
    if !file.exists() {
        let status = Command::new("python3")
            .arg(root.join("tests/fixtures/gen-cem"))
            .args(["--rows", "200000", "--seed", "1", "--year", "2026", "--out"])
            .arg(&dir)
            .status()
            .expect("run gen-cem");
        assert!(status.success(), "gen-cem failed");
    }
    std::fs::read(file).expect("read generated export")
}

fn bench(c: &mut Criterion) {
    let data = export();
    let rules = Rules::asu().expect("rules");
    let mut g = c.benchmark_group("transform");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("offline_200k_rows", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(data.len());
            transform(
                &mut Cursor::new(&data),
                &rules,
                DeleteGuard::Offline,
                &mut out,
            )
            .expect("transform");
            out
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
