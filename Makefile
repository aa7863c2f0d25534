# The two quick-start commands (README): `make run` (the main job) and `make test` (the tests).
# Both bootstrap a local virtualenv with tox; tox installs the system packages and the project.
VENV := .venv
TOX := $(VENV)/bin/tox

$(TOX):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check "tox>=4.20"

.PHONY: run test bench lint
run: $(TOX)
	$(TOX) -e run

test: $(TOX)
	$(TOX) -e tests

bench: $(TOX)
	$(TOX) -e bench

lint: $(TOX)
	$(TOX) -e lint
