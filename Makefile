# The two commands a newcomer needs: `make test` and `make sandbox`.
# Each sets up a bare Debian machine first (apt, an ignored .venv, npm).

CARGO ?= cargo

.PHONY: setup test lint build sandbox bench clean

setup:
	@infra/local/setup.sh

test: setup
	$(CARGO) test --workspace

# A whole day of the real state machine on the local stack (needs root for sshd's accounts).
sandbox: setup
	$(CARGO) run -q -p leganto-tests --bin sandbox

lint: setup
	infra/lint.sh all

bench: setup
	$(CARGO) bench -p leganto-shared

clean:
	$(CARGO) clean
	rm -rf .venv node_modules
