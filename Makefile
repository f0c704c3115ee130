# Two commands for a newcomer: `make run` (everything on this machine) and `make test`.
# Both install what is missing first and reuse what is there (stamps under .stamps/).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
PORTAL_SOURCES := $(shell find frontend/src frontend/public -type f 2>/dev/null) \
	$(wildcard frontend/index.html frontend/*.config.* frontend/package.json)

.PHONY: help run test install chromium lint clean

help:
	@echo "make run   - install what is missing, then start the whole system on this machine"
	@echo "make test  - install what is missing, then run every test"

run: install
	$(VENV)/bin/tmux-builder up

test: install
	$(VENV)/bin/ruff check tmux_builder control_plane agent tests
	$(VENV)/bin/mypy
	cd frontend && npm run --silent lint && npm test --silent
	$(VENV)/bin/pytest

install: $(STAMPS)/python $(STAMPS)/node $(STAMPS)/portal chromium

$(STAMPS)/python: pyproject.toml
	@mkdir -p $(STAMPS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[agent,local,dev]'
	@touch $@

$(STAMPS)/node: package.json package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	@test -x node_modules/.bin/claude
	@touch $@

$(STAMPS)/frontend-deps: frontend/package.json frontend/package-lock.json
	@mkdir -p $(STAMPS)
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMPS)/portal: $(STAMPS)/frontend-deps $(PORTAL_SOURCES)
	cd frontend && npm run --silent build
	@touch $@

chromium:
	@scripts/ensure-chromium.sh

lint: install
	$(VENV)/bin/ruff check tmux_builder control_plane agent tests
	$(VENV)/bin/ruff format --check tmux_builder control_plane agent tests
	$(VENV)/bin/mypy

clean:
	rm -rf $(STAMPS) $(VENV) node_modules frontend/node_modules frontend/dist .tmux-builder
