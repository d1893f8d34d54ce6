# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000

.PHONY: run test bench synth package lint clean fuzz

$(VENV)/.installed: requirements.txt requirements-dev.txt infra/requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q -r infra/requirements.txt
	@touch $@

run: $(VENV)/.installed ## serve the API with its sandbox on 127.0.0.1:$(PORT)
	PORT=$(PORT) $(PY) tools/run_local.py

test: $(VENV)/.installed ## install what tests need and run them
	$(PY) -m pytest -n 2 -q $(PYTEST_ARGS)

fuzz: $(VENV)/.installed ## schemathesis over HTTP on a fresh `make run` (seeded; FUZZ_EXAMPLES per operation, >= 5,000 cases)
	$(PY) tools/fuzz.py --serve $${FUZZ_EXAMPLES:-150} $${FUZZ_SEED:-1}

bench: $(VENV)/.installed ## print the benchmark figures
	$(PY) -m bench

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache chalice.out infra/cdk.out

# ---- infrastructure (infra/, docs/deploy.md) ---------------------------------------------------------------------
STAGE  ?= dev
PACKAGE_STAGE ?= prod
DIST   := dist

$(VENV)/.infra-installed: infra/requirements.txt $(VENV)/.installed
	$(PY) -m pip install -q -r infra/requirements.txt
	@touch $@

synth: $(VENV)/.infra-installed ## synthesise the CDK app (no AWS account needed) into infra/cdk.out; STAGE=dev|prod|dev,prod
	$(PY) infra/app.py -c stage=$(STAGE) -o infra/cdk.out
	@echo "templates: $$(ls infra/cdk.out/*.template.json)"; rm -rf infra/chalice.out

package: $(VENV)/.infra-installed ## build the Lambda deployment zip with `chalice package`; print it against the 12 MiB budget
	rm -rf $(DIST)/chalice-package
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-cn-north-1} $(VENV)/bin/chalice package --stage $(PACKAGE_STAGE) $(DIST)/chalice-package
	@$(PY) tools/package_budget.py $(DIST)/chalice-package/deployment.zip
