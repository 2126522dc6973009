# Two commands for a newcomer: `make demo` and `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(PYTHON) -m uv

.PHONY: setup demo test lint typecheck bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install -q 'uv==0.13.9'
	@test -x $(BIN)/python || $(UV) venv --python $(PYTHON) --no-python-downloads $(VENV)
	$(UV) pip install --python $(BIN)/python --compile-bytecode -q -e '.[test]'
	@touch $@

demo: setup
	$(BIN)/mq200 demo

test: setup
	$(BIN)/ruff check controller twin voice tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check controller twin voice tests bench

typecheck: setup
	$(BIN)/mypy

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache
