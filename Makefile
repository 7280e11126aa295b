# The two commands a newcomer needs: `make test` and `make sandbox`.
# Each sets up a bare Debian machine first (apt, an ignored .venv, npm).

CARGO ?= cargo

.PHONY: setup lock test check-style lint package sandbox bench clean

setup:
	@infra/local/setup.sh

# Re-resolves infra/local/requirements*.txt from their .in files (exact versions, every hash).
# An upgrade is a change of its own, judged by the whole test suite on a fresh machine.
lock:
	@infra/local/lock.sh

test: setup
	$(CARGO) test --workspace

# What CI keeps: every tool pinned, rustfmt's layout and clippy with every warning an error.
check-style:
	python3 infra/local/check_pins.py
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# A whole day of the real state machine on the local stack (needs root for sshd's accounts).
# ARGS="--cem FILE --alma-courses FILE --run-date D --alma-rate N --alma-latency-ms N
#       --alma-loader-every SECONDS --out DIR --keep" for a day of your own
# (`cargo run -p leganto-tests --bin sandbox -- --help`). --alma-loader-every runs Alma's
# course loader on a schedule rather than on each new file; with --keep, DIR/samconfig.toml
# names the stack for `leganto` run in DIR, and DIR/env.sh exports AWS's settings and
# CEM_SFTP_DIR, where the next day's export goes for `leganto rerun --from pull`.
sandbox: setup
	$(CARGO) run -q -p leganto-tests --bin sandbox -- $(ARGS)

lint: setup
	infra/lint.sh all

# Every Lambda built the way a deploy builds it: `sam build` on template.yaml (rust-cargolambda,
# arm64), into $(CARGO_TARGET_DIR)/sam/build (or target/sam/build). No AWS access needed.
package: setup
	infra/local/package.sh

# bench/sandbox-day.sh: a generated 60,000-row day through the sandbox at AlmaRate 10 (~55 min).
# bench/bounded-memory.sh: Pull and Push of 400 MB files, peak memory of each (~a few min).
bench: setup
	$(CARGO) bench -p leganto-shared
	CARGO=$(CARGO) bench/transform-vs-iconv.sh
	ROWS=1000000 RUNS=3 CARGO=$(CARGO) bench/transform-vs-iconv.sh
	$(CARGO) run --release -q -p leganto-tests --bin bench-alma
	CARGO=$(CARGO) bench/sandbox-day.sh
	CARGO=$(CARGO) bench/bounded-memory.sh

clean:
	$(CARGO) clean
	rm -rf .venv node_modules
