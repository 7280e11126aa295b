#!/usr/bin/env bash
# Packaging check: builds every Lambda as AWS runs it (`cargo lambda build --release`),
# for arm64 (what the template deploys) when the Rust target for it is installed, else
# for x86_64 so the check still proves the functions build and link for Lambda.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"
if ! command -v cargo-lambda >/dev/null 2>&1; then
  echo "package: cargo-lambda is missing: run make setup" >&2
  exit 1
fi
arch=(--x86-64)
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  arch=(--arm64)
fi
# Cross-crate LTO made linking each of the nine Lambdas take minutes on a 2-core machine;
# these functions spend their time waiting on the network, so package them without it.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
packages=()
for dir in functions/*/; do
  packages+=(-p "leganto-$(basename "$dir")")
done
echo "package: cargo lambda build --release ${arch[*]} ($(( ${#packages[@]} / 2 )) functions)"
cargo lambda build --release "${arch[@]}" "${packages[@]}"
ls -l "${CARGO_TARGET_DIR:-target}"/lambda/*/bootstrap
