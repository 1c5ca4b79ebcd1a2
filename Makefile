# The project's commands (see README.md). `make run` and `make test` work from a fresh clone:
# they create .venv with Python 3.10, install requirements.txt, compile the catalogs and train
# the Rasa model when its inputs changed.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-12)
CATALOGS := $(patsubst %.po,%.mo,$(wildcard common/locale/*/LC_MESSAGES/messages.po))

# Python 3.10: python3.10 on PATH if it runs, else pyenv's 3.10.x.
PYTHON310 ?= $(shell if python3.10 --version >/dev/null 2>&1; then command -v python3.10; \
	elif command -v pyenv >/dev/null 2>&1; then v=$$(pyenv versions --bare | grep -E '^3\.10\.' | tail -1); \
	[ -n "$$v" ] && PYENV_VERSION=$$v pyenv which python; fi)

.PHONY: setup run test bench train lint clean browser

$(STAMP): requirements.txt
	@if [ ! -x $(PY) ]; then \
		if [ -z "$(PYTHON310)" ]; then echo "Python 3.10 is required (Rasa 3.6 needs >=3.8,<3.11)"; exit 1; fi; \
		echo "creating $(VENV) with $(PYTHON310)"; $(PYTHON310) -m venv $(VENV); fi
	$(PY) -m pip install -q --upgrade pip wheel
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip check
	rm -f $(VENV)/.installed-*; touch $(STAMP)

common/locale/%/LC_MESSAGES/messages.mo: common/locale/%/LC_MESSAGES/messages.po $(STAMP)
	$(VENV)/bin/pybabel compile -d common/locale -D messages -l $* >/dev/null

setup: $(STAMP) $(CATALOGS)
	@mkdir -p var

train: setup
	$(PY) -m tools.train

run: setup
	$(PY) -m tools.run

lint: setup
	$(VENV)/bin/ruff check .

# Headless Chromium and CJK fonts for the page tests (Debian's packages; Playwright's own
# browser download does not work here). Installed where apt-get is available and we are
# root; elsewhere the browser tests skip with one line.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium and fonts-noto-cjk for the page tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null \
		|| echo "could not install chromium: the page tests will skip"; fi

test: setup lint browser
	$(PY) -m pip check
	$(PY) -m pytest

bench: setup
	$(PY) -m tools.bench

clean:
	rm -rf build var .pytest_cache
