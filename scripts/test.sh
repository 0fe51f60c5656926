#!/usr/bin/env bash
# Set up (first run only), then lint, type-check and run the whole test suite, one
# pytest-xdist worker per core (at most 4: each worker holds its own models and browser).
# MENWEI_TEST_WORKERS=N sets the number (0: everything in this one process); arguments go
# to pytest (`./scripts/test.sh -k plate`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
.venv/bin/mypy
workers="${MENWEI_TEST_WORKERS:-$(nproc)}"
((workers <= 4)) || workers=4
exec .venv/bin/pytest -n "$workers" --dist worksteal "$@"
