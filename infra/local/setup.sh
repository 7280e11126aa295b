#!/usr/bin/env bash
# Installs what the tests and the local stack need on a bare Debian machine:
# OpenSSH's server (the SFTP peer), util-linux's `script` (a pseudo-terminal for the CLI's
# progress tests), Chromium (the day page's browser test), moto, cfn-lint, cargo-lambda and Zig
# in the ignored .venv, the AWS SAM CLI in its own .venv/sam (each from its lock,
# infra/local/requirements*.txt), the Rust toolchain of rust-toolchain.toml, and the npm tools in
# the ignored node_modules (from package-lock.json). Safe to run again: it only installs what is
# missing or what a changed lock asks for.
set -euo pipefail
cd "$(dirname "$0")/../.."

need_apt=()
command -v /usr/sbin/sshd >/dev/null 2>&1 || need_apt+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need_apt+=(openssh-client)
command -v strace >/dev/null 2>&1 || need_apt+=(strace)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v perl >/dev/null 2>&1 || need_apt+=(perl)
command -v make >/dev/null 2>&1 || need_apt+=(make)
# `script` runs the CLI's progress tests under a pseudo-terminal.
command -v script >/dev/null 2>&1 || need_apt+=(bsdutils)
# The day page's browser test drives Debian's Chromium (tests/browser/look-at-page.mjs).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Each venv is built from its lock alone (exact versions, every hash checked) and remembers
# which lock built it: when the lock changes, the venv is built anew, so a checkout never runs
# on tools other than the ones its locks name.
# The digest of a lock and of the interpreter that installs it (LOCK TOOL_VERSION).
lock_digest() { { echo "$2"; sha256sum "$1"; } | sha256sum | cut -d' ' -f1; }
venv_from_lock() { # DIR LOCK
  local dir="$1" lock="$2" digest
  digest="$(lock_digest "$lock" "$(python3 --version)")"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.lock-digest" 2>/dev/null)" = "$digest" ]; then
    return
  fi
  echo "setup: building $dir from $lock"
  # .venv holds .venv/sam and .venv/lock: clear the venv's own files, not its neighbours.
  if [ -d "$dir" ]; then
    find "$dir" -mindepth 1 -maxdepth 1 ! -name sam ! -name lock -exec rm -rf {} +
  fi
  python3 -m venv "$dir"
  "$dir/bin/pip" install -q --disable-pip-version-check --no-deps --require-hashes -r "$lock"
  echo "$digest" >"$dir/.lock-digest"
}
venv_from_lock .venv infra/local/requirements.txt
# A venv of its own: the SAM CLI pins boto3 and botocore exactly, apart from moto's.
venv_from_lock .venv/sam infra/local/requirements-sam.txt

# The Rust release of rust-toolchain.toml with its components and the arm64 standard library
# (`make package` builds what the template deploys, arm64). rustup does nothing when all of it
# is there.
if command -v rustup >/dev/null 2>&1; then
  timeout 600 rustup toolchain install 2>&1 | grep -v '^info: ' || true
  if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    echo "setup: the aarch64-unknown-linux-gnu Rust target is missing; make package needs it" >&2
  fi
fi

# node_modules from package-lock.json alone: npm ci never re-resolves the ranges of
# package.json, and fails rather than rewrite the lock. Run again when the lock changes.
npm_digest="$(lock_digest package-lock.json "$(node --version)")"
if [ "$(cat node_modules/.lock-digest 2>/dev/null)" != "$npm_digest" ]; then
  echo "setup: installing npm tools from package-lock.json"
  npm ci --no-audit --no-fund --silent
  echo "$npm_digest" >node_modules/.lock-digest
fi
echo "setup: ready"
