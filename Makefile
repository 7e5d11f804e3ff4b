# The two commands of the README. Each creates or refreshes .venv (when pyproject.toml changes),
# installs ferkit with what it needs, then runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT := demo-out

.PHONY: demo test test-all bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,dlib,parquet,imbalance,serve,compress]'
	touch $(STAMP)

# Analyse the bundled sample photo: results JSON and an annotated copy in demo-out/.
demo: $(STAMP)
	$(BIN)/ferkit analyze src/ferkit/samples/astronaut.png --out $(DEMO_OUT)/astronaut.json --annotate $(DEMO_OUT) --overwrite
	@echo "results: $(DEMO_OUT)/astronaut.json   annotated image: $(DEMO_OUT)/astronaut.png"

# Fast tests; tests needing the shared datasets run when they are present and skip (with the reason) if not.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -rs

# Everything, including slow tests (training on real data).
test-all: $(STAMP)
	$(BIN)/python -m pytest -q -rs

bench: $(STAMP)
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/inference_throughput.py
	$(BIN)/python benchmarks/analyze_throughput.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
