#!/usr/bin/env bash
# Set up (first run only) and run the demo: a pedestrian door and a vehicle gate on mock pins over replayed frames.
set -euo pipefail
cd "$(dirname "$0")/.."
MENWEI_BOX=1 bash scripts/setup.sh   # what a box runs: no browser or test tooling
exec .venv/bin/menwei demo "$@"
