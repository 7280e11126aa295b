#!/usr/bin/env bash
# Offline transform of a 200,000-row CEM export against `iconv -f WINDOWS-1252 -t UTF-8` on
# the same file (target: within 3x), and the transform's peak memory (target: under 2x the
# file size). Best of $RUNS runs each. A measurement: it prints figures and asserts nothing.
#
# usage: bench/transform-vs-iconv.sh            (ROWS=200000 SEED=1 RUNS=5 by default)
set -euo pipefail

ROWS="${ROWS:-200000}"
SEED="${SEED:-1}"
RUNS="${RUNS:-5}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CARGO="${CARGO:-cargo}"
# Same cache as shared/benches/transform.rs, so criterion and this script share the file.
DATA="$ROOT/target/bench-data/cem-$ROWS-seed$SEED"
CEM="$DATA/cem.csv"
OUT="$ROOT/target/bench-data/out"
mkdir -p "$OUT"

if [[ ! -s "$CEM" ]]; then
  echo "generating a $ROWS-row export into $DATA" >&2
  python3 "$ROOT/tests/fixtures/gen-cem" --rows "$ROWS" --seed "$SEED" --year 2026 --out "$DATA"
fi

echo "building the release CLI" >&2
(cd "$ROOT" && "$CARGO" build --release -q -p leganto-cli --bin leganto)
LEGANTO="$ROOT/target/release/leganto"

now() { date +%s.%N; }

# best_of CMD...: the fastest of $RUNS runs, in seconds.
best_of() {
  local best="" t0 t1 dt
  for _ in $(seq "$RUNS"); do
    t0=$(now)
    "$@" >/dev/null
    t1=$(now)
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    if [[ -z "$best" ]] || awk -v x="$dt" -v y="$best" 'BEGIN { exit !(x < y) }'; then
      best="$dt"
    fi
  done
  echo "$best"
}

run_iconv() { iconv -f WINDOWS-1252 -t UTF-8 "$CEM" >"$OUT/iconv.txt"; }
run_leganto() { "$LEGANTO" transform --input "$CEM" --output "$OUT/alma.txt"; }

# peak_kb: the transform's peak resident set, in KiB.
peak_kb() {
  if [[ ! -x /usr/bin/time ]] && command -v apt-get >/dev/null; then
    (apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time; }) >/dev/null 2>&1 || true
  fi
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -v "$LEGANTO" transform --input "$CEM" --output "$OUT/alma.txt" 2>&1 >/dev/null \
      | awk -F': ' '/Maximum resident set size/ { print $2 }'
    return
  fi
  # No GNU time: sample VmHWM (the kernel's own high-water mark) until the process ends.
  "$LEGANTO" transform --input "$CEM" --output "$OUT/alma.txt" >/dev/null &
  local pid=$! hwm=0 v
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    [[ -n "$v" ]] && hwm="$v"
    sleep 0.01
  done
  wait "$pid"
  echo "$hwm"
}

bytes=$(stat -c %s "$CEM")
rows=$(($(wc -l <"$CEM") - 1))
echo "timing iconv and leganto transform, best of $RUNS each" >&2
t_iconv=$(best_of run_iconv)
t_leganto=$(best_of run_leganto)
kb=$(peak_kb)

awk -v bytes="$bytes" -v rows="$rows" -v ti="$t_iconv" -v tl="$t_leganto" -v kb="$kb" -v runs="$RUNS" '
BEGIN {
  mb = bytes / 1e6; peak = kb * 1024 / 1e6
  printf "transform of a %d-row export (%.1f MB), offline, best of %d\n", rows, mb, runs
  printf "  iconv -f WINDOWS-1252 -t UTF-8   %8.3f s\n", ti
  printf "  leganto transform                %8.3f s   (%.2fx iconv; target <= 3x)\n", tl, tl / ti
  printf "  leganto peak RSS                 %8.1f MB  (%.2fx the file; target < 2x)\n", peak, peak / mb
}'
