# Quick start: `make run` serves the product on the embedded default; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 8008
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip -q --disable-pip-version-check

.PHONY: run test bench check clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.base-installed: requirements/base.txt | $(PY)
	$(PIP) install -r requirements/base.txt
	@touch $@

$(VENV)/.dev-installed: requirements/dev.txt requirements/base.txt | $(PY)
	scripts/system-deps.sh
	$(PIP) install -r requirements/dev.txt
	@touch $@ $(VENV)/.base-installed

run: $(VENV)/.base-installed
	@HOST=$(HOST) PORT=$(PORT) PY=$(PY) scripts/run.sh

tests/e2e/node_modules/.installed: tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test: $(VENV)/.dev-installed tests/e2e/node_modules/.installed
	$(VENV)/bin/ruff check .
	scripts/test-services.sh
	$(PY) -m pytest

bench: $(VENV)/.dev-installed
	$(PY) -m bench

check: $(VENV)/.base-installed
	$(PY) manage.py check

clean:
	rm -rf $(VENV) var staticfiles
