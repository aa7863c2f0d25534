# The two quick-start commands (README): `make run` (the main job) and `make test` (the tests).
# System packages come first (pyscard builds against libpcsclite-dev while tox installs the
# project), then a local virtualenv with tox, then tox builds the project's environment.
VENV := .venv
TOX := $(VENV)/bin/tox

.PHONY: run test bench lint system-deps
system-deps:
	bash scripts/install-system-deps

$(TOX): | system-deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check "tox>=4.20"

run: system-deps $(TOX)
	$(TOX) -e run

test: system-deps $(TOX)
	$(TOX) -e tests

bench: system-deps $(TOX)
	$(TOX) -e bench

lint: $(TOX)
	$(TOX) -e lint
