# The two commands of the README: `make run` and `make test`. Both set up what they need.
.PHONY: setup run test test-fast bench lint bundles binary

PYTEST_ARGS ?=

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/appliance

test: setup
	@bash scripts/test.sh $(PYTEST_ARGS)

test-fast: setup
	@bash scripts/test.sh -m "not slow" $(PYTEST_ARGS)

lint: setup
	.venv/bin/ruff check appliance tests bench
	.venv/bin/ruff format --check appliance tests bench

bundles: setup
	@bash scripts/build_bundles.sh

bench: setup
	.venv/bin/python -m bench

binary: setup
	@bash scripts/build_binary.sh
