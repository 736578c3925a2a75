# Quick start: `make run` (set up + run the pipeline on the embedded broker), `make test` (everything CI runs).
SHELL := bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
LATEST := .venv-latest
# One lock for the whole dependency set (runtime + dev, hashed, every platform), one for the image.
DEV_LOCK := requirements/dev.lock
RUNTIME_LOCK := requirements/runtime.lock
COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --upgrade --custom-compile-command "make lock"
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: setup run demo test lint unit integration gate lock test-latest crash-loop clean

# The virtualenv holds exactly what the locks say (uv pip sync removes anything else), so every
# machine runs the same packages; uv itself comes from a hashed lock of its own.
$(BIN)/uv: requirements/bootstrap.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r $<
	@touch $@

$(BIN)/supportflow: pyproject.toml $(DEV_LOCK) requirements/helm-sdkpy.lock | $(BIN)/uv
	$(BIN)/uv pip sync --quiet --python $(BIN)/python --require-hashes $(DEV_LOCK)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@# helm-sdkpy declares Python>=3.12, but its Lint and Install work on 3.11; only the chart test uses it.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --ignore-requires-python --require-hashes \
		-r requirements/helm-sdkpy.lock
	@touch $@

setup: $(BIN)/supportflow

run: setup  ## the service on the embedded broker, replaying the bundled samples; Ctrl-C stops it
	$(BIN)/supportflow run --replay-samples

demo: setup  ## one-shot: every bundled ticket through the pipeline, then a summary
	$(BIN)/supportflow demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy supportflow schemas processors streams connectors evals

unit: setup
	$(BIN)/pytest -q -m "not integration"

integration: setup
	$(BIN)/pytest -q -m integration

gate: setup  ## release gate: the golden set through the live pipeline against docs' floors
	$(BIN)/supportflow eval golden --gate --rate 20

test: lint  ## lint + type check + the release gate + every test suite (unit, integration, slow)
	$(MAKE) gate
	$(BIN)/pytest -q -ra

lock: $(BIN)/uv  ## re-resolve every dependency to the newest version pyproject allows, with hashes
	$(COMPILE) --universal --python-version 3.11 pyproject.toml --extra dev -o $(DEV_LOCK)
	@# The image's lock is the runtime subset of the dev lock: same versions, fewer packages.
	$(COMPILE) --universal --python-version 3.11 pyproject.toml --constraint $(DEV_LOCK) -o $(RUNTIME_LOCK)
	echo uv | $(COMPILE) --universal --python-version 3.11 - --constraint $(DEV_LOCK) -o requirements/bootstrap.lock
	echo helm-sdkpy==0.1.32 | $(COMPILE) --python-version 3.12 --no-deps - -o requirements/helm-sdkpy.lock
	@echo "locks refreshed: review 'git diff requirements/', then run make test"

test-latest: $(BIN)/uv  ## drift check: the unit suite on the newest allowed versions, in $(LATEST)
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(COMPILE) --universal --python-version 3.11 pyproject.toml --extra dev -o $(LATEST)/latest.lock
	@echo "packages whose newest allowed version differs from $(DEV_LOCK) (lock | newest):"
	@diff --side-by-side --suppress-common-lines \
		<(grep -E '^[A-Za-z0-9]' $(DEV_LOCK) | cut -d' ' -f1-3) \
		<(grep -E '^[A-Za-z0-9]' $(LATEST)/latest.lock | cut -d' ' -f1-3) && echo "  none" || true
	$(BIN)/uv pip install --quiet --python $(LATEST)/bin/python --no-deps --require-hashes -r $(LATEST)/latest.lock
	$(BIN)/uv pip install --quiet --python $(LATEST)/bin/python --no-deps -e .
	$(LATEST)/bin/pip install --quiet --disable-pip-version-check --no-deps --ignore-requires-python \
		--require-hashes -r requirements/helm-sdkpy.lock
	$(LATEST)/bin/pytest -q -p no:cacheprovider -m "not integration"

RUNS ?= 50
CASE ?= joining
crash-loop: setup  ## RUNS consecutive SIGKILL runs of the crash test CASE (a -k expression); tallies lost tickets
	@mkdir -p reports/crash-loop; passed=0; \
	for i in $$(seq $(RUNS)); do \
	  log=reports/crash-loop/$$(date +%Y%m%dT%H%M%S)-$$i.log; \
	  if $(BIN)/pytest -q -s -p no:cacheprovider --basetemp=$${log%.log} tests/integration/test_worker_crash.py \
	    -k "$(CASE)" > $$log 2>&1; \
	  then passed=$$((passed + 1)); verdict=pass; else verdict=FAIL; fi; \
	  echo "run $$i/$(RUNS) $$verdict: $$(grep -h 'tickets decided' $$log | tr '\n' ' ')"; \
	done; echo "$$passed of $(RUNS) runs passed (logs in reports/crash-loop/)"; test $$passed -eq $(RUNS)

clean:
	rm -rf $(VENV) $(LATEST) .supportflow build *.egg-info
