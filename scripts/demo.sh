#!/usr/bin/env bash
# Set up (first run only) and run the demo: a vehicle gate on mock pins over generated frames.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/menwei demo "$@"
