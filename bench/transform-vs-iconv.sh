#!/usr/bin/env bash
# The transform of a generated CEM export against `iconv -f WINDOWS-1252 -t UTF-8` on the
# same file, in CPU time (user + sys: the machine may be shared, so wall time would measure
# the neighbours), best of $RUNS runs each, and peak memory (max RSS):
#   - `leganto transform` (offline, one file in, one file out): target within 2.5x iconv;
#   - the passes the Transform Lambda makes (the `transform_passes` example: the export
#     spooled to a temp file, scan, transform, the copy-year scan): target under 60 s of
#     CPU and within the function's MemorySize (template.yaml) for 1,000,000 rows.
# A measurement: it prints figures and asserts nothing.
#
# usage: bench/transform-vs-iconv.sh            (ROWS=200000 SEED=1 RUNS=5 by default)
#        ROWS=1000000 RUNS=3 bench/transform-vs-iconv.sh
set -euo pipefail

ROWS="${ROWS:-200000}"
SEED="${SEED:-1}"
RUNS="${RUNS:-5}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CARGO="${CARGO:-cargo}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
# Same cache as shared/benches/transform.rs, so criterion and this script share the file.
DATA="$ROOT/target/bench-data/cem-$ROWS-seed$SEED"
CEM="$DATA/cem.csv"
OUT="$ROOT/target/bench-data/out"
mkdir -p "$OUT"

if [[ ! -s "$CEM" ]]; then
  echo "generating a $ROWS-row export into $DATA" >&2
  python3 "$ROOT/tests/fixtures/gen-cem" --rows "$ROWS" --seed "$SEED" --year 2026 --out "$DATA"
fi

if [[ ! -x /usr/bin/time ]] && command -v apt-get >/dev/null; then
  (apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time; }) >/dev/null 2>&1 || true
fi
if [[ ! -x /usr/bin/time ]]; then
  echo "GNU time (/usr/bin/time) is needed for CPU time and peak memory" >&2
  exit 1
fi

echo "building the release CLI and the transform_passes example" >&2
(cd "$ROOT" && "$CARGO" build --release -q -p leganto-cli --bin leganto \
  -p leganto-shared --example transform_passes)
LEGANTO="$TARGET/release/leganto"
PASSES="$TARGET/release/examples/transform_passes"

# best_of CMD...: "cpu_seconds max_rss_kib", the run with the least CPU of $RUNS.
best_of() {
  local best="" line cpu
  for _ in $(seq "$RUNS"); do
    line=$(/usr/bin/time -f "%U %S %M" "$@" 2>&1 >/dev/null | tail -n 1)
    cpu=$(awk '{ printf "%.3f", $1 + $2 }' <<<"$line")
    if [[ -z "$best" ]] || awk -v x="$cpu" -v y="${best%% *}" 'BEGIN { exit !(x < y) }'; then
      best="$cpu $(awk '{ print $3 }' <<<"$line")"
    fi
  done
  echo "$best"
}

bytes=$(stat -c %s "$CEM")
rows=$(($(wc -l <"$CEM") - 1))
echo "measuring iconv, leganto transform and the Lambda's passes, best of $RUNS each" >&2
# Through a shell's redirection, as the iconv figures in docs/performance.md were taken.
read -r c_iconv _ < <(best_of sh -c 'iconv -f WINDOWS-1252 -t UTF-8 "$0" >"$1"' "$CEM" "$OUT/iconv.txt")
read -r c_cli kb_cli < <(best_of "$LEGANTO" transform --input "$CEM" --output "$OUT/alma.txt")
read -r c_lambda kb_lambda < <(best_of "$PASSES" "$CEM" "$OUT/alma-passes.txt")

awk -v bytes="$bytes" -v rows="$rows" -v ci="$c_iconv" -v cc="$c_cli" -v kc="$kb_cli" \
  -v cl="$c_lambda" -v kl="$kb_lambda" -v runs="$RUNS" '
BEGIN {
  mb = bytes / 1e6
  printf "%d-row export (%.1f MB), CPU time (user+sys), best of %d\n", rows, mb, runs
  printf "  iconv -f WINDOWS-1252 -t UTF-8   %8.3f s\n", ci
  printf "  leganto transform                %8.3f s   (%.2fx iconv; target <= 2.5x)  peak RSS %6.1f MB\n", cc, cc / ci, kc * 1024 / 1e6
  printf "  the Transform Lambda'"'"'s passes     %8.3f s   (%.2fx iconv; target < 60 s)   peak RSS %6.1f MB\n", cl, cl / ci, kl * 1024 / 1e6
}'
