# mmchat: set up, run and test.  `make run` hosts a chat, `make test` runs the whole suite.
# Every target that needs Python first builds .venv (Python 3.11+) and installs the pinned
# requirements; the stamp file makes that happen again only when a requirements file changes.

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

ARGS ?=
ADDR ?=
NAME ?=

.PHONY: venv run join need-addr test lint clean

venv: $(STAMP)

$(VPY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "mmchat needs Python 3.11 or newer, and $(PYTHON) was not found (on Debian/Ubuntu: sudo apt-get install python3 python3-venv)." >&2; \
	  exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "mmchat needs Python 3.11 or newer, but $(PYTHON) is $$($(PYTHON) --version 2>&1); run e.g. make PYTHON=python3.11 test." >&2; \
	  exit 1; }
	@$(PYTHON) -m venv $(VENV) || { \
	  rm -rf $(VENV); \
	  echo "Could not create the virtual environment $(VENV): the venv module is missing; on Debian/Ubuntu install it with: sudo apt-get install python3-venv" >&2; \
	  exit 1; }

# Order-only on the interpreter, so that only a change to the requirements reinstalls.
$(STAMP): requirements.txt requirements-dev.txt | $(VPY)
	$(VPY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: venv
	$(VPY) mmchat.py --host $(ARGS)

join: need-addr venv
	$(VPY) mmchat.py --join $(ADDR) --cli $(if $(NAME),--name "$(NAME)") $(ARGS)

need-addr:
	@test -n "$(ADDR)" || { echo "Say where to join, e.g. make join ADDR=192.168.1.5:12002 NAME=alice" >&2; exit 2; }

test: venv
	$(VPY) -m pytest -q

lint: venv
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .

clean:
	rm -rf $(VENV)
