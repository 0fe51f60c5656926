#!/usr/bin/env bash
# Set up (first run only) and run the demo: a pedestrian door and a vehicle gate on mock pins over replayed frames.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/menwei demo "$@"
