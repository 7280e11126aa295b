#!/usr/bin/env bash
# `make lock`: re-resolves each lock (requirements*.txt) from its top-level requirements
# (requirements*.in, which keep their ranges), with an exact version and every sha256 hash of
# every package, transitive ones included. The resolver itself comes from its own lock
# (requirements-lock.txt), so the same .in files give the same locks on any machine.
# Upgrading a tool is a change of its own: run this, then the whole test suite (`make test`,
# `make sandbox`, `.ci/run`) on a fresh machine; the tests are the judge, not the version number.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=infra/local

if [ ! -x .venv/lock/bin/uv ]; then
  python3 -m venv .venv/lock
  .venv/lock/bin/pip install -q --disable-pip-version-check --require-hashes -r "$here/requirements-lock.txt"
fi

for input in "$here"/requirements*.in; do
  lock="${input%.in}.txt"
  body="$(mktemp)"
  .venv/lock/bin/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
    --no-header --custom-compile-command "make lock" "$input" -o "$body"
  {
    echo "# Made by \`make lock\` from $(basename "$input"): an exact version and every hash of every"
    echo "# package. Do not edit; change $(basename "$input") and run \`make lock\`. $(basename "$input") reads:"
    sed 's/^/#   /; s/ *$//' "$input"
    cat "$body"
  } >"$lock"
  rm -f "$body"
  echo "lock: $lock ($(grep -c '^[A-Za-z0-9]' "$lock") packages)"
done
