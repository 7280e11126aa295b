#!/usr/bin/env bash
# Packaging check: `sam build` on template.yaml, the command a deploy runs, so every
# function is built the way its Metadata says (rust-cargolambda: `cargo lambda build
# --release --arm64 --bin <Binary>`) and each lands in the build directory as `bootstrap`.
# Nothing here needs AWS credentials or reaches AWS.
set -euo pipefail
cd "$(dirname "$0")/../.."
# cargo-lambda and Zig live in .venv, the SAM CLI in its own .venv/sam (see setup.sh);
# .venv/bin comes first: cargo-lambda finds Zig through `python3 -m ziglang`.
export PATH="$PWD/.venv/bin:$PWD/.venv/sam/bin:$PATH"
for tool in sam cargo-lambda; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "package: $tool is missing: run make setup" >&2
    exit 1
  fi
done
if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  # `sam build` takes arm64 from the template and needs the target; without it, still prove
  # that every function builds and links for Lambda, and say loudly what was not checked.
  echo "package: WARNING: the aarch64-unknown-linux-gnu Rust target is missing (rustup target add" >&2
  echo "package: aarch64-unknown-linux-gnu); building every function for x86_64 instead of sam build" >&2
  export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
  packages=()
  for dir in functions/*/; do packages+=(-p "leganto-$(basename "$dir")"); done
  cargo lambda build --release --x86-64 "${packages[@]}"
  ls -l "${CARGO_TARGET_DIR:-target}"/lambda/*/bootstrap
  exit 0
fi

# The SAM CLI's cargo-lambda builder (as of aws-lambda-builders 1.67, in SAM CLI 1.170) builds
# into CARGO_TARGET_DIR when it is set and finds the binaries there through `cargo metadata`,
# else into the workspace's ./target. Either way one target directory serves all nine
# functions, so dependencies compile once.
target="${CARGO_TARGET_DIR:-target}"
build_dir="$target/sam/build"

# Cross-crate LTO made linking each of the eleven Lambdas take minutes on a 2-core machine.
# This check proves the functions build and link for Lambda, which the profile's LTO
# setting does not change; a deploy's `sam build` keeps the workspace profile (thin LTO).
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
export SAM_CLI_TELEMETRY=0

echo "package: sam build --beta-features (rust-cargolambda, arm64) into $build_dir"
start=$SECONDS
# A fresh build directory, so what is checked below is this build's output.
rm -rf "$build_dir"
# --no-cached: samconfig.toml's cached builds would hash the whole workspace (with .venv and
# node_modules) once per function; cargo already skips what is up to date.
sam build --beta-features --no-cached --build-dir "$build_dir" --template-file template.yaml

missing=0
for dir in functions/*/; do
  step="$(basename "$dir")"
  # functions/check-job → CheckJobFunction (the naming ladder).
  resource="$(echo "$step" | sed -E 's/(^|-)([a-z])/\U\2/g')Function"
  bootstrap="$build_dir/$resource/bootstrap"
  if [ ! -x "$bootstrap" ]; then
    echo "package: $bootstrap is missing" >&2
    missing=1
    continue
  fi
  ls -l "$bootstrap"
done
if [ "$missing" -ne 0 ]; then exit 1; fi
if command -v file >/dev/null 2>&1; then
  file -L "$build_dir"/*/bootstrap | grep -v 'ARM aarch64' && {
    echo "package: a bootstrap is not an arm64 executable" >&2
    exit 1
  }
fi
echo "package: ok, $(ls -d functions/*/ | wc -l) functions in $(( SECONDS - start )) s"
