# Two commands matter: `make demo` (gateway + built-in fake GigaChat, offline) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo run test lint typecheck pytest bench bench-quick clean parameters-table redis-server

# Servers the tests start themselves, installed here when missing (CI starts from a clean machine).
# PostgreSQL: the traffic-log sink and the admin API are tested against a real server.
TEST_SERVICES += postgres-installed
.PHONY: postgres-installed
postgres-installed:
	@bash scripts/install-postgres.sh
# Redis: stored responses, model limits and the upload cache shared by workers and replicas.
TEST_SERVICES += redis-server

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/gpt2giga --demo

run: $(STAMP)
	$(BIN)/gpt2giga

lint: $(STAMP)
	$(BIN)/ruff format --check gpt2giga tests $(wildcard benchmarks)
	$(BIN)/ruff check gpt2giga tests $(wildcard benchmarks)

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(TEST_SERVICES)
	$(BIN)/pytest

test: lint typecheck pytest

# Side by side with the FastAPI gpt2giga 0.3.0 (own venvs and wrk under benchmarks/.work/):
# `bench` writes benchmarks/RESULTS.md (~30 min), `bench-quick` benchmarks/.work/quick/ (~2 min).
bench:
	$(PYTHON) -m benchmarks.run

bench-quick:
	$(PYTHON) -m benchmarks.run --quick

# README's table of every SDK request parameter and what the gateway does with it,
# regenerated from the run that tests/test_parameters.py checks.
parameters-table: $(STAMP)
	$(BIN)/python -m tests.parameters

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache

# The tests start a real Redis on a free loopback port (tests/redis_server.py): Debian's
# redis-server, installed only when missing (as root, or through sudo). Its package does not
# start a system service where policy-rc.d forbids it (containers, CI).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
redis-server:
	@command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server; }
