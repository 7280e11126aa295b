#!/usr/bin/env bash
# Pull and Push of a 400 MB export and a 400 MB loader file, each step in a child process
# against sshd, moto and the Alma simulator on loopback, printing each step's peak resident
# memory (VmHWM) and failing if either reaches the functions' MemorySize (256 MB). The
# integration suite runs the same test at 300 MB; this is its ignored 400 MB case. Needs
# root and `make setup`, as the integration tests do.
#
# usage: bench/bounded-memory.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CARGO="${CARGO:-cargo}"
cd "$ROOT"
"$CARGO" test -q -p leganto-tests --test integration -- --ignored --nocapture --exact \
  steps::bounded_memory::a_400_mb_export_and_loader_file_pass_in_bounded_memory 2>&1 |
  grep -E 'peak memory|test result|panicked|FAILED'
