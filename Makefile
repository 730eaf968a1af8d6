# mmchat: set up, run and test.  `make run` hosts a chat, `make test` runs the whole suite.
# On a fresh machine use ./mmchat-setup run / ./mmchat-setup test instead: they first install
# (with apt-get) what the system lacks, make included, and then run these targets.
# Every target that needs Python first builds .venv (Python 3.11+) and installs the pinned
# requirements; the stamp file makes that happen again only when a requirements file changes.

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

ARGS ?=
ADDR ?=
NAME ?=

.PHONY: venv run join need-addr test lint clean dist test-dist screenshots bench

venv: $(STAMP)

$(VPY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "mmchat needs Python 3.11 or newer, and $(PYTHON) was not found; ./mmchat-setup test installs it (or: sudo apt-get install python3 python3-venv)." >&2; \
	  exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "mmchat needs Python 3.11 or newer, but $(PYTHON) is $$($(PYTHON) --version 2>&1); run e.g. make PYTHON=python3.11 test." >&2; \
	  exit 1; }
	@$(PYTHON) -m venv $(VENV) || { \
	  rm -rf $(VENV); \
	  echo "Could not create the virtual environment $(VENV): the venv module is missing; ./mmchat-setup test installs it (or: sudo apt-get install python3-venv)." >&2; \
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

# All three run even when one fails, so one `make lint` shows everything; it fails if any did.
lint: venv
	@status=0; \
	$(VPY) -m ruff check . || status=1; \
	$(VPY) -m ruff format --check . || status=1; \
	$(VPY) -m mypy mmchat gui || status=1; \
	exit $$status

# --- the one-file executable (README: "One-file executable") ---------------------------------
# `make dist` builds dist/mmchat with PyInstaller from mmchat.spec, in its own virtualenv that
# holds only the pinned runtime requirements and requirements-dist.txt.  The virtualenv is made
# anew whenever a requirements file changes (so nothing left over from an older pin gets in), and
# PyInstaller runs again only when a source file, an icon or the spec is newer than the binary.
DIST_VENV := .venv-dist
DIST_PY := $(DIST_VENV)/bin/python
DIST_STAMP := $(DIST_VENV)/.installed
DIST_BIN := dist/mmchat
DIST_SOURCES := mmchat.spec mmchat.py requirements.txt $(wildcard mmchat/*.py mmchat/*/*.py mmchat/data/* gui/*.py icons/*.png icons/*.ico icons/*.icns)

dist: $(DIST_BIN)

$(DIST_STAMP): requirements.txt requirements-dist.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "make dist needs Python 3.11 or newer, and $(PYTHON) is not that (or was not found); run e.g. make PYTHON=python3.11 dist." >&2; \
	  exit 1; }
	rm -rf $(DIST_VENV) build/mmchat
	@$(PYTHON) -m venv $(DIST_VENV) || { \
	  rm -rf $(DIST_VENV); \
	  echo "Could not create the virtual environment $(DIST_VENV): on Debian/Ubuntu install the venv module with: sudo apt-get install python3-venv" >&2; \
	  exit 1; }
	@echo '*' > $(DIST_VENV)/.gitignore
	$(DIST_PY) -m pip install --quiet --disable-pip-version-check -r requirements-dist.txt
	@touch $@

$(DIST_BIN): $(DIST_STAMP) $(DIST_SOURCES)
	$(DIST_PY) -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build mmchat.spec
	@touch $@
	@ls -l $@

test-dist: venv
	$(VPY) -m pytest -q -m dist tests/test_dist.py

screenshots: venv
	$(VPY) docs/make_screenshots.py

bench: venv
	$(VPY) bench/run.py --full

clean:
	rm -rf $(VENV) .venv-dist build dist
