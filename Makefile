# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000

.PHONY: run test bench synth package lint clean fuzz browser screenshots

$(VENV)/.installed: requirements.txt requirements-dev.txt infra/requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3 (chalice package)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q -r infra/requirements.txt
	@touch $@

run: $(VENV)/.installed ## serve the API with its sandbox on 127.0.0.1:$(PORT)
	PORT=$(PORT) $(PY) tools/run_local.py

test: $(VENV)/.installed browser ## install what tests need and run them
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

package: $(VENV)/.infra-installed ## build the Lambda deployment zip with `chalice package`, slim it; print it against the 12 MiB budget
	rm -rf $(DIST)/chalice-package
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-cn-north-1} $(VENV)/bin/chalice package --stage $(PACKAGE_STAGE) $(DIST)/chalice-package
	@$(PY) tools/slim_package.py $(DIST)/chalice-package/deployment.zip  # what the CDK stack deploys too
	@$(PY) tools/package_budget.py $(DIST)/chalice-package/deployment.zip

# ---- the H5 page's browser tests (tests/browser/, chalicelib/h5/) ----------------------------------------------------
# Debian's Chromium and a CJK font (so pages and screenshots show Chinese), installed once when missing (CI runs as
# root on a clean machine). Playwright drives /usr/bin/chromium; its own browser download is never used.
browser: ## install Debian's chromium and a CJK font when missing
	@if command -v chromium >/dev/null 2>&1 && command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh | grep -q .; then :; \
	else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "installing Debian chromium and fonts-noto-cjk for the browser tests"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk \
	  || echo "WARNING: could not install chromium/fonts-noto-cjk; tests/browser will fail until they are installed"; \
	fi

screenshots: $(VENV)/.installed browser ## rewrite docs/screenshots/*.png (390x844, normal and 长辈模式) from make run
	$(PY) -m tests.browser.screenshots
