# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt constraints.txt | cksum | cut -d' ' -f1)
STAGE ?= dev

.PHONY: run test lint typecheck unit token bench bench-venv clean deploy destroy package

# The benchmark's cold-start and warm children run on the Lambda runtime's Python (3.13) when
# this machine has one (found by bench/interpreter.py: $$BENCH_PYTHON, python3.13 on PATH, or
# pyenv), in their own venv holding what Lambda has: requirements.txt, the runtime's SDK (boto3),
# and Chalice without its CLI's dependencies (the package ships only chalice/app.py).
BENCH_VENV := .venv-bench313
BENCH_PYTHON ?= $(shell $(PYTHON) -m bench.interpreter)
BENCH_STAMP := $(BENCH_VENV)/.installed-$(shell cat requirements.txt constraints.txt | cksum | cut -d' ' -f1)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required" if sys.version_info < (3, 11) else 0)'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing dependencies into $(VENV) ..." >&2
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt >&2
	@rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)  ## start the local stack: emulator + chalice local on 127.0.0.1:8000
	@$(PY) -m devstack run

token: $(STAMP)  ## print an ID token: make token USER=alice [GROUP=admins]
	@$(PY) -m devstack token --user "$(USER)" --group "$(GROUP)"

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

test: lint typecheck  ## lint, type-check and run every test (unit, integration, e2e)
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit --no-cov

deploy: $(STAMP)  ## deploy a stage to AWS: make deploy STAGE=dev
	$(PY) -m infra.deploy deploy --stage $(STAGE)

destroy: $(STAMP)  ## remove a stage from AWS (asks first on prod): make destroy STAGE=dev
	$(PY) -m infra.deploy destroy --stage $(STAGE)

# The Lambda runtime ships the AWS SDK: PIP_NO_DEPS packages requirements.txt exactly.
package: $(STAMP)  ## build the stage's SAM template and zip into build/package-$(STAGE)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} PIP_NO_DEPS=1 \
		$(VENV)/bin/chalice package --stage $(STAGE) --merge-template infra/event-sources.json build/package-$(STAGE)
	@ls -l build/package-$(STAGE)/deployment.zip

$(BENCH_STAMP): requirements.txt constraints.txt
	@if [ -z "$(BENCH_PYTHON)" ]; then \
		echo "bench: no python3.13 found (set BENCH_PYTHON=...): the children run on $(PY) instead" >&2; \
	else \
		test -x $(BENCH_VENV)/bin/python || $(BENCH_PYTHON) -m venv $(BENCH_VENV); \
		echo "installing the bench runtime into $(BENCH_VENV) ($(BENCH_PYTHON)) ..." >&2; \
		$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
			-r requirements.txt boto3 -c constraints.txt >&2 && \
		$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
			--no-deps chalice -c constraints.txt >&2 && \
		rm -f $(BENCH_VENV)/.installed-* && touch $@; \
	fi

bench-venv: $(BENCH_STAMP)  ## the python3.13 venv the benchmark children run on

bench: $(STAMP) $(BENCH_STAMP)  ## measure (about 6 minutes); writes bench/RESULTS.md
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .devstack
