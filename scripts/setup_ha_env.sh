#!/usr/bin/env bash
# Build .venv-ha: Python 3.13.0 + Home Assistant 2025.4.4 + its test harness, for tests/ha.
# Idempotent: an existing venv with the right versions is left as it is.
set -euo pipefail

cd "$(dirname "$0")/.."
HA_VERSION=2025.4.4
PHCC_VERSION=0.13.236
VENV=.venv-ha
PY313="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions/3.13.0/bin/python"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/mq200-ha-env"
CONSTRAINTS="$CACHE/package_constraints-$HA_VERSION.txt"
STAMP="$VENV/.installed-$HA_VERSION-$PHCC_VERSION-4"
# The HomeKit Bridge test (tests/ha/test_homekit_bridge.py) sets up HA's own homekit
# integration: its requirements, exactly as its manifest in homeassistant $HA_VERSION pins them.
HOMEKIT_REQUIREMENTS=("HAP-python==4.9.2" "fnv-hash-fast==1.4.0" "PyQRCode==1.2.1" "base36==0.1.1")

if [ ! -x "$PY313" ]; then
    echo "setup_ha_env: Python 3.13.0 not found at $PY313 (install it with pyenv)" >&2
    exit 1
fi
if ! python3 -m uv --version >/dev/null 2>&1; then
    echo "setup_ha_env: installing uv into the system python"
    python3 -m pip install -q 'uv==0.13.9'
fi
UV="python3 -m uv"

if [ -f "$STAMP" ] && [ -x "$VENV/bin/python" ]; then
    echo "setup_ha_env: $VENV already has homeassistant $HA_VERSION and" \
         "pytest-homeassistant-custom-component $PHCC_VERSION; nothing to do"
    exit 0
fi

mkdir -p "$CACHE"
if [ ! -s "$CONSTRAINTS" ]; then
    echo "setup_ha_env: extracting HA's package constraints from the homeassistant $HA_VERSION wheel"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    "$PY313" -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "homeassistant==$HA_VERSION"
    unzip -p "$tmp"/homeassistant-"$HA_VERSION"-*.whl homeassistant/package_constraints.txt \
        > "$CONSTRAINTS"
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup_ha_env: creating $VENV from $PY313"
    $UV venv --python "$PY313" --no-python-downloads "$VENV"
fi

echo "setup_ha_env: installing homeassistant==$HA_VERSION," \
     "pytest-homeassistant-custom-component==$PHCC_VERSION, pytest-cov, the frontend" \
     "(for make demo-ha), playwright (its screenshot) and the homekit integration's" \
     "requirements, all under HA's constraints"
$UV pip install --python "$VENV/bin/python" --no-python-downloads --compile-bytecode -q \
    -c "$CONSTRAINTS" \
    "homeassistant==$HA_VERSION" \
    "pytest-homeassistant-custom-component==$PHCC_VERSION" \
    pytest-cov \
    mypy \
    home-assistant-frontend \
    playwright \
    "${HOMEKIT_REQUIREMENTS[@]}"
rm -f "$VENV"/.installed-*
touch "$STAMP"
echo "setup_ha_env: done ($VENV: $("$VENV/bin/python" --version)," \
     "homeassistant $("$VENV/bin/python" -c 'import homeassistant.const as c; print(c.__version__)'))"
