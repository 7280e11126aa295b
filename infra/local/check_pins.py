#!/usr/bin/env python3
"""`make check-style` keeps every tool pinned.

Fails, naming each place, when:
- a lock that setup.sh installs (infra/local/requirements*.txt) has a package without an exact
  `==` version or without a `--hash=sha256:`, or setup.sh installs one without --require-hashes;
- setup.sh installs npm packages by anything but `npm ci`, or package-lock.json has a package
  without an exact version and an integrity hash;
- rust-toolchain.toml names a channel (stable, beta, nightly, 1.95) rather than a release;
- Cargo.toml's rust-version is older than what a locked dependency declares it needs.
"""
import json
import pathlib
import re
import subprocess
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOCAL = ROOT / "infra" / "local"


def requirement_blocks(text):
    """Each package of a pip lock as one logical line (continuations joined), comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            yield line


def check_pip_locks(problems):
    setup = (LOCAL / "setup.sh").read_text()
    installed = sorted(set(re.findall(r"infra/local/(requirements[\w-]*\.txt)", setup)))
    if not installed:
        problems.append("setup.sh installs no lock from infra/local/requirements*.txt")
    for line in setup.splitlines():
        if re.search(r"pip\"? install", line) and "--require-hashes" not in line:
            problems.append(f"setup.sh: a pip install without --require-hashes: {line.strip()}")
    for name in installed + ["requirements-lock.txt"]:
        lock = LOCAL / name
        if not lock.exists():
            problems.append(f"{lock.relative_to(ROOT)} is missing")
            continue
        for block in requirement_blocks(lock.read_text()):
            package = block.split()[0]
            if block.startswith("-"):
                problems.append(f"{name}: an option in a lock: {package}")
            elif not re.match(r"^[A-Za-z0-9._\[\],-]+==[^=*]+$", package):
                problems.append(f"{name}: {package} is not pinned with == to one version")
            elif "--hash=sha256:" not in block:
                problems.append(f"{name}: {package} has no --hash=sha256:")


def check_npm(problems):
    setup = (LOCAL / "setup.sh").read_text()
    for line in setup.splitlines():
        code = line.split("#", 1)[0]
        if re.search(r"\bnpm\s+(install|i|update|add)\b", code):
            problems.append(f"setup.sh: npm packages installed other than by npm ci: {line.strip()}")
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for path, package in lock.get("packages", {}).items():
        if not path or package.get("link"):
            continue
        for field in ("version", "integrity"):
            if not package.get(field):
                problems.append(f"package-lock.json: {path} has no {field}")


def release(version):
    return tuple(int(part) for part in version.split("."))


def check_rust(problems):
    toolchain = tomllib.loads((ROOT / "rust-toolchain.toml").read_text())["toolchain"]
    channel = toolchain.get("channel", "")
    if not re.fullmatch(r"\d+\.\d+\.\d+", channel):
        problems.append(f"rust-toolchain.toml: channel {channel!r} is not an exact release (like 1.95.0)")
    if "aarch64-unknown-linux-gnu" not in toolchain.get("targets", []):
        problems.append("rust-toolchain.toml: the arm64 target (aarch64-unknown-linux-gnu) is missing")
    declared = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["rust-version"]
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
    )
    resolved = {node["id"] for node in metadata["resolve"]["nodes"]}
    needs = [
        (release(p["rust_version"]), f'{p["name"]} {p["version"]}')
        for p in metadata["packages"]
        if p["id"] in resolved and p.get("rust_version")
    ]
    newest, who = max(needs)
    if release(declared) < newest:
        problems.append(
            f"Cargo.toml: rust-version {declared} is older than {'.'.join(map(str, newest))}, which {who} needs"
        )
    if channel and re.fullmatch(r"\d+\.\d+\.\d+", channel) and release(channel) < release(declared):
        problems.append(f"rust-toolchain.toml: {channel} is older than Cargo.toml's rust-version {declared}")


def main():
    problems = []
    check_pip_locks(problems)
    check_npm(problems)
    check_rust(problems)
    for problem in problems:
        print(f"pins: {problem}", file=sys.stderr)
    if problems:
        print(f"pins: {len(problems)} problem(s); see docs/development.md, 'What is pinned, and how to upgrade a tool'", file=sys.stderr)
        return 1
    print("pins: every tool pinned (pip locks with hashes, npm ci, an exact Rust release)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
