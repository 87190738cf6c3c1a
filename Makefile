PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: test install clean demo

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[test]"
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -q

# the main job: an LSTM forecaster on the shipped CO2 series, about a minute; writes runs/demo/
demo: install
	$(VENV)/bin/rnnkit demo

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
