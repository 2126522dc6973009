# Two commands for a newcomer: `make demo` and `make test`. Everything they need is set up here:
# the device venv (Python 3.11), the OCPP test central system (npm), Debian's Chromium for the
# browser tests, and Home Assistant's test venv (Python 3.13).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(PYTHON) -m uv
STAMPS := .stamps

.PHONY: setup setup-device setup-node setup-browser setup-ha demo demo-ha test test-device test-ha \
        lint typecheck bench clean

setup: setup-device setup-node setup-browser setup-ha

setup-device: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install -q 'uv==0.13.9'
	@test -x $(BIN)/python || $(UV) venv --python $(PYTHON) --no-python-downloads $(VENV)
	$(UV) pip install --python $(BIN)/python --compile-bytecode -q -e '.[test]'
	@touch $@

# ocpp-rpc (strict mode) is the independent central system of the OCPP tests.
setup-node: tests/ocpp_cs/node_modules/.installed

tests/ocpp_cs/node_modules/.installed: tests/ocpp_cs/package.json tests/ocpp_cs/package-lock.json
	npm ci --prefix tests/ocpp_cs --no-audit --no-fund --loglevel=error
	@touch $@

# Debian's Chromium, driven by Playwright (never `playwright install`).
setup-browser: $(STAMPS)/chromium

$(STAMPS)/chromium:
	@mkdir -p $(STAMPS)
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| { echo "could not install chromium (needs root and the Debian mirror)"; exit 1; }; \
	fi
	@touch $@

setup-ha:
	bash scripts/setup_ha_env.sh

demo: setup-device
	$(BIN)/mq200 demo

demo-ha: setup-device setup-ha
	bash scripts/demo_ha.sh

test: setup test-device test-ha

test-device:
	$(BIN)/ruff check controller twin voice custom_components tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider

test-ha:
	.venv-ha/bin/python -m mypy --strict --python-version 3.13 custom_components/mq200
	bash scripts/run_ha_tests.sh

lint: setup-device
	$(BIN)/ruff check controller twin voice custom_components tests bench

typecheck: setup-device
	$(BIN)/mypy

bench: setup-device
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .venv-ha $(STAMPS) tests/ocpp_cs/node_modules .pytest_cache .mypy_cache
