# Quick start: `make run` (set up + run the pipeline on the embedded broker), `make test` (everything CI runs).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: setup run demo test lint unit integration gate clean

$(BIN)/supportflow: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@# helm-sdkpy declares Python>=3.12, but its helm Lint works on 3.11; only the chart test uses it.
	$(BIN)/pip install --quiet --ignore-requires-python helm-sdkpy==0.1.32
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

clean:
	rm -rf $(VENV) .supportflow build *.egg-info
