# PyTake: two commands do all the set-up: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
	echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install run test test-db lint migrate bench client fuzz clean help

help:
	@echo "make run      - install, start embedded PostgreSQL (unless DATABASE_URL), migrate, serve API + worker"
	@echo "make test     - install and run the whole suite (lint, types, layer contracts, tests)"
	@echo "make test-db  - the PostgreSQL-backed tests but the slow ones (TEST_DATABASE_URL: another server)"
	@echo "make lint     - ruff, mypy and import-linter"
	@echo "make migrate  - apply database migrations"
	@echo "make bench    - run the benchmarks under bench/"
	@echo "make client   - export the OpenAPI, generate and type-check the TypeScript types (clients/typescript)"
	@echo "make fuzz     - schemathesis over every API operation, FUZZ_EXAMPLES (default 500) cases each"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required"; exit 1; }
	@echo "==> creating $(VENV) with $(PYTHON) and installing dependencies"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet --progress-bar on -e '.[dev,embedded]' --config-settings editable_mode=compat
	@touch $(STAMP)

install: $(STAMP)

run: install
	@$(BIN)/pytake run

lint: install
	@echo "==> ruff"; $(BIN)/ruff check .
	@echo "==> mypy"; $(BIN)/mypy
	@echo "==> import-linter (layer contracts)"; $(BIN)/lint-imports

test: install lint
	@echo "==> pytest"
	@$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# The PostgreSQL-backed tests again (on TEST_DATABASE_URL's server); the slow timing-heavy ones already ran
# in `make test`, so they are left out here unless PYTEST_ARGS says otherwise.
test-db: install
	@$(BIN)/python -m pytest -q -p no:cacheprovider tests/contract tests/integration tests/e2e -m "not slow" $(PYTEST_ARGS)

# Schemathesis against the served OpenAPI (tests/fuzz, also run by `make test` with 15 cases per operation);
# one line per operation as it finishes.
FUZZ_EXAMPLES ?= 500
fuzz: install
	@FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -v -p no:cacheprovider tests/fuzz $(PYTEST_ARGS)

migrate: install
	@$(BIN)/pytake migrate

bench: install
	@$(BIN)/python -m bench $(BENCH_ARGS)

# The frontend kit: OpenAPI (no database needed) -> openapi-typescript -> tsc. npm ci runs again only when the
# lockfile changes.
CLIENT := clients/typescript
$(CLIENT)/node_modules/.ci-stamp: $(CLIENT)/package-lock.json
	@command -v npm >/dev/null || { echo "make client needs Node.js 20+ and npm"; exit 1; }
	@echo "==> npm ci ($(CLIENT))"
	@cd $(CLIENT) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

client: install $(CLIENT)/node_modules/.ci-stamp
	@echo "==> OpenAPI -> $(CLIENT)/openapi.json"; $(BIN)/pytake openapi --output $(CLIENT)/openapi.json
	@echo "==> openapi-typescript -> $(CLIENT)/src/schema.d.ts"; cd $(CLIENT) && npm run --silent generate
	@echo "==> tsc --noEmit"; cd $(CLIENT) && npx --no-install tsc --noEmit -p .

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache $(CLIENT)/node_modules
