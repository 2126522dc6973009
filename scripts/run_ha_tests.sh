#!/usr/bin/env bash
# Run tests/ha in .venv-ha with coverage of custom_components/mq200; fails under 95 %.
# Extra arguments go to pytest (e.g. -k config_flow). Build the venv with setup_ha_env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-ha/bin/python ]; then
    echo "run_ha_tests: .venv-ha is missing; run scripts/setup_ha_env.sh first" >&2
    exit 1
fi
export COVERAGE_FILE="${COVERAGE_FILE:-.venv-ha/.coverage}"
exec .venv-ha/bin/python -m pytest tests/ha -c tests/ha/pytest.ini \
    --cov=custom_components/mq200 --cov-report=term-missing:skip-covered \
    --cov-fail-under=95 -q "$@"
