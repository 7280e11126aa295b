#!/usr/bin/env bash
# A generated day of $ROWS rows (60,000 by default) through the sandbox: the real state
# machine on the local stack, Alma's simulator answering each call after $LATENCY_MS ms, at
# the template's default AlmaRate. Prints how often each Alma-bound step ran (it stops before
# its Lambda deadline and runs again), the time spent in those states against
# (Alma calls ÷ AlmaRate) (target: within 1.15x), and any call made twice. A measurement: it
# prints figures (held or not, whether Alma's job loaded the day) and asserts only that the
# day SUCCEEDED.
#
# usage: bench/sandbox-day.sh     (ROWS=60000 SEED=1 RATE=10 LATENCY_MS=150 by default)
set -euo pipefail

ROWS="${ROWS:-60000}"
SEED="${SEED:-1}"
RATE="${RATE:-10}"
LATENCY_MS="${LATENCY_MS:-150}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CARGO="${CARGO:-cargo}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
DATA="$TARGET/bench-data/day-$ROWS-seed$SEED"
OUT="$TARGET/bench-data/sandbox-day-$ROWS"

if [[ ! -s "$DATA/cem.csv" ]]; then
  echo "generating a $ROWS-row day into $DATA" >&2
  python3 "$ROOT/tests/fixtures/gen-cem" --rows "$ROWS" --seed "$SEED" --year 2026 --out "$DATA"
fi
rm -rf "$OUT"
(cd "$ROOT" && "$CARGO" build -q -p leganto-tests --bin alma-sim --bin sandbox -p leganto-cli --bin leganto)

# The template's own wait for Alma's job and its checks (the sandbox shortens them to 18
# minutes and 3 s): the simulator's loader takes its realistic time per row, about half an
# hour for this file.
default() { awk -v p="^  $1:" '$0 ~ p {f = 1} f && /Default:/ {print $2; exit}' "$ROOT/template.yaml"; }
WAIT_LIMIT="$(default WaitLimitSeconds)"
POLL="$(default PollIntervalSeconds)"

status=0
(cd "$ROOT" && "$CARGO" run -q -p leganto-tests --bin sandbox -- \
  --cem "$DATA/cem.csv" --alma-courses "$DATA/alma_courses.json" \
  --alma-rate "$RATE" --alma-latency-ms "$LATENCY_MS" --out "$OUT" \
  --parameter "WaitLimitSeconds=$WAIT_LIMIT" --parameter "PollIntervalSeconds=$POLL") \
  >"$OUT.log" 2>&1 || status=$?
echo "sandbox account: $OUT.log (exit $status)"

# The file the rules give for this export, made offline by `leganto transform` against a
# simulator holding the same courses: the file Alma received must be it, byte for byte.
PORT="${PORT:-18931}"
"$TARGET/debug/alma-sim" --fixture "$DATA/alma_courses.json" --port "$PORT" --rate 0 \
  2>"$OUT.alma-sim.log" &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
sleep 2
ALMA_API_KEY=sim-key "$TARGET/debug/leganto" transform --quiet --input "$DATA/cem.csv" \
  --output "$OUT/expected.txt" --alma-url "http://127.0.0.1:$PORT" --alma-rate 100 \
  --run-date 2026-11-28 >/dev/null
kill $sim 2>/dev/null || true
sent=("$OUT"/alma-sftp/*.txt)
if [[ ${#sent[@]} -eq 1 ]] && cmp -s "$OUT/expected.txt" "${sent[0]}"; then
  echo "the file Alma received is the one the rules give: $(wc -l <"${sent[0]}") lines, byte for byte"
else
  echo "the file Alma received is NOT the one the rules give (${sent[*]} vs $OUT/expected.txt)"
  status=1
fi

python3 - "$OUT" "$RATE" "$ROWS" <<'PY'
import json, sys
from collections import Counter
from datetime import datetime

out, rate, rows = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
execution = json.load(open(f"{out}/execution.json"))
log = json.load(open(f"{out}/alma-calls.json"))
calls = log["calls"]

def t(s):
    s = s.replace("Z", "+00:00")
    # Python before 3.11 takes at most 6 digits of a second's fraction.
    if "." in s:
        head, rest = s.split(".", 1)
        frac = "".join(c for c in rest.split("+")[0] if c.isdigit())[:6]
        s = f"{head}.{frac}+{rest.split('+')[1]}" if "+" in rest else f"{head}.{frac}"
    return datetime.fromisoformat(s)

def seconds(visit):
    if not visit.get("exited"):
        return 0.0
    return (t(visit["exited"]) - t(visit["entered"])).total_seconds()

visits = execution["history"]
def state(name):
    v = [x for x in visits if x["state"] == name]
    return len(v), sum(seconds(x) for x in v)

transform = state("Transform the export")
years = state("Cache Alma courses for the year")
cache_map = state("Cache Alma courses")
report = state("Build the rollover report")

lists = [c for c in calls if c["method"] == "GET" and c["path"].endswith("/reading-lists")]
pages = [c for c in calls if c["method"] == "GET" and c["path"].rstrip("/").endswith("/courses")
         and "q=" in c["query"]]
asked = lists + pages
# A 429 or 5xx is asked again by design; an answer asked for twice is a repeat.
answered = [c for c in asked if c["status"] != 429 and c["status"] < 500]
# Answers are kept per phase (Alma changes when it loads the day's file): the transform's
# before the push, the caches' and the report's after it.
push = next(v for v in visits if v["state"] == "Push to Alma SFTP")
push_ms = log["clock"]["at_ms"] + (t(push["entered"]) - t(log["clock"]["utc"])).total_seconds() * 1000
def repeats(cs):
    return sum(n - 1 for n in Counter((c["path"], c["query"]) for c in cs).values() if n > 1)
twice = repeats([c for c in answered if c["at_ms"] < push_ms]) + \
    repeats([c for c in answered if c["at_ms"] >= push_ms])
alma_seconds = transform[1] + cache_map[1] + report[1]
def sim_ms(utc):
    return log["clock"]["at_ms"] + (t(utc) - t(log["clock"]["utc"])).total_seconds() * 1000
def calls_in(name):
    spans = [(sim_ms(v["entered"]), sim_ms(v["exited"])) for v in visits
             if v["state"] == name and v.get("exited")]
    return sum(1 for c in asked if any(a <= c["at_ms"] <= b for a, b in spans))
floor = len(asked) / rate

print(f"\n== A {rows}-row day through the sandbox: {execution['status']}")
held = any(v["state"] == "Wait for a person's decision" for v in visits)
loaded = any(v["state"] == "Alma finished loading" for v in visits)
print(f"  held by the safety brake        {'yes' if held else 'no'}")
print(f"  Alma's job                      {'loaded the day' if loaded else 'did not finish within the run'}")
print(f"  Transform the export            {transform[0]} invocations, {transform[1]:7.1f} s")
print(f"  Cache Alma courses (Map)        {years[0]} invocations over its years, {cache_map[1]:7.1f} s")
print(f"  Build the rollover report       {report[0]} invocations, {report[1]:7.1f} s")
print(f"  Alma calls by those states      {len(asked)} ({len(lists)} reading-list counts, {len(pages)} course pages)")
print(f"  answers asked twice in a phase  {twice}")
print(f"  429 or 5xx answers              {len(asked) - len(answered)}")
print(f"  all Alma calls of the run       {len(calls)}")
print(f"  time in Alma-bound states       {alma_seconds:.1f} s")
print(f"  calls / AlmaRate ({rate:g}/s)        {floor:.1f} s")
print(f"  ratio                           {alma_seconds / floor:.3f}  (target: within 1.15)")
for name, (n, secs) in [("Transform the export", transform), ("Cache Alma courses", cache_map),
                        ("Build the rollover report", report)]:
    c = calls_in(name)
    if c:
        print(f"  {name:<31} {c} calls in {secs:.1f} s; calls / AlmaRate {c / rate:.1f} s: {secs / (c / rate):.3f}")
PY
exit "$status"
