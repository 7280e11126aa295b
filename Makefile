# The two commands a newcomer needs: `make test` and `make sandbox`.
# Each sets up a bare Debian machine first (apt, an ignored .venv, npm).

CARGO ?= cargo

.PHONY: setup test lint build sandbox bench clean

setup:
	@infra/local/setup.sh

test: setup
	$(CARGO) test --workspace

bench: setup
	$(CARGO) bench -p leganto-shared

clean:
	$(CARGO) clean
	rm -rf .venv node_modules
