# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000

.PHONY: run test bench synth package lint clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

run: $(VENV)/.installed ## serve the API with its sandbox on 127.0.0.1:$(PORT)
	PORT=$(PORT) $(PY) tools/run_local.py

test: $(VENV)/.installed ## install what tests need and run them
	$(PY) -m pytest -n 2 -q $(PYTEST_ARGS)

bench: $(VENV)/.installed ## print the benchmark figures
	$(PY) -m bench

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache chalice.out infra/cdk.out
