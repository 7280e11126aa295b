#!/usr/bin/env bash
# Installs what the tests and the local stack need on a bare Debian machine:
# OpenSSH's server (the SFTP peer), util-linux's `script` (a pseudo-terminal for the CLI's
# progress tests), Chromium (the day page's browser test), moto, cfn-lint and cargo-lambda in
# the ignored .venv, the AWS SAM CLI in its own .venv/sam, and the npm tools in the ignored
# node_modules. Safe to run again: it only installs what is missing.
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

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import moto, cfnlint, ziglang, samtranslator' >/dev/null 2>&1 || [ ! -x .venv/bin/cargo-lambda ]; then
  echo "setup: installing Python tools into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r infra/local/requirements.txt
fi
# A venv of its own: the SAM CLI pins boto3 and botocore exactly (requirements-sam.txt).
if [ ! -x .venv/sam/bin/sam ]; then
  echo "setup: installing the AWS SAM CLI into .venv/sam"
  python3 -m venv .venv/sam
  .venv/sam/bin/pip install -q --disable-pip-version-check -r infra/local/requirements-sam.txt
fi

# The arm64 standard library: `make package` builds what the template deploys (arm64).
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  echo "setup: adding the aarch64-unknown-linux-gnu Rust target"
  timeout 300 rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 \
    || echo "setup: the arm64 target could not be added; make package needs it"
fi

if [ -f package.json ] && { [ ! -d node_modules/asl-validator ] || [ ! -d node_modules/playwright-core ]; }; then
  echo "setup: installing npm tools"
  npm ci --no-audit --no-fund --silent 2>/dev/null || npm install --no-audit --no-fund --silent
fi
echo "setup: ready"
