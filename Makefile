PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test install bench clean

# The main job: an LSTM forecaster on the shipped Mauna Loa CO2 series (about a minute on
# 2 cores): prints holdout metrics beside the seasonal-naive baseline, writes runs/demo/.
demo: $(VENV)/.demo-installed
	$(VENV)/bin/rnnkit demo

# The test suite: installs rnnkit with its test extras (PyTorch as the reference) and runs pytest.
test: $(VENV)/.installed
	$(PY) -m pytest -q

install: $(VENV)/.installed

# rnnkit against torch.nn on this machine (a few minutes; see docs/benchmarks.md).
bench: $(VENV)/.installed
	$(PY) -m benchmarks.rnn

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(PY)
	$(PY) -m pip install -e ".[demo]"
	touch $@

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -e ".[test]"
	touch $@ $(VENV)/.demo-installed

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
