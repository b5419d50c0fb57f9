# The README's two commands: `make demo` and `make test`. Each creates .venv from a bare
# Python 3.11+ when it is missing, installs the project into it, then runs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test lint typecheck imports unit chromium bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "fintrust needs Python 3.11 or newer; run: make PYTHON=/path/to/python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/fintrust demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# Browser tests drive Debian's chromium; install it when we can (root with apt), else they
# are skipped outside CI with a note saying how to install it.
chromium:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ apt-get install -y -qq chromium >/dev/null 2>&1 || \
		  { apt-get update -qq && apt-get install -y -qq chromium; }; }; } || \
		echo "note: /usr/bin/chromium is missing; browser tests will be skipped (apt-get install chromium)"

unit: $(STAMP) chromium
	$(BIN)/pytest

test: lint typecheck imports unit

bench: $(STAMP)
	$(BIN)/python bench/sdk.py
	$(BIN)/python bench/emulator.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
