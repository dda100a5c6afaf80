# Two commands do all the set-up: `make run` and `make test`.
# The venv's Python is the functions' Lambda runtime (Chalice deploys on the Python it runs
# under): python3.13 where it exists (on PATH, or installed through pyenv but not selected),
# else python3.12, else python3 (3.11+ is enough for local use and the tests; `make deploy`
# to AWS needs 3.12+).
PYTHON_CANDIDATES := python3.13 $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13) python3.12 python3
ifndef PYTHON
PYTHON := $(firstword $(foreach p,$(PYTHON_CANDIDATES),$(shell $(p) -c 'import sys; print("$(p)" if sys.version_info >= (3, 11) else "")' 2>/dev/null)))
endif
VENV := .venv
PY := $(VENV)/bin/python
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
STAMP := $(VENV)/.installed-$(shell (echo $(PYTHON_VERSION); cat requirements.txt requirements-dev.txt constraints.txt) | cksum | cut -d' ' -f1)
STAGE ?= dev

.PHONY: run emulator test lint typecheck unit token user console bench bench-venv clean deploy destroy package webhook-listen backfill-search
# Only what is given on make's command line: the shell's own $USER (root, say) must never pick
# whose token is printed, nor a stray $GROUP or $STAGE in the environment where it lands.
cli = $(if $(filter command line,$(origin $(1))),$($(1)),$(2))
# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The benchmark's cold-start and warm children run on the Lambda runtime's Python (3.13) when
# this machine has one (found by bench/interpreter.py: $$BENCH_PYTHON, python3.13 on PATH, or
# pyenv), in their own venv holding what Lambda has: requirements.txt, the runtime's SDK (boto3),
# and Chalice without its CLI's dependencies (the package ships only chalice/app.py).
BENCH_VENV := .venv-bench313
BENCH_PYTHON ?= $(shell $(PYTHON) -m bench.interpreter)
BENCH_STAMP := $(BENCH_VENV)/.installed-$(shell cat requirements.txt constraints.txt | cksum | cut -d' ' -f1)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (3.13 to deploy on the newest runtime)" >&2; exit 1; }
	@$(PY) -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(PYTHON_VERSION)")' 2>/dev/null \
		|| { rm -rf $(VENV) && echo "creating $(VENV) with $(PYTHON) ($(PYTHON_VERSION))" >&2 && $(PYTHON) -m venv $(VENV); }
	@echo "installing dependencies into $(VENV) ..." >&2
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt >&2
	@rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)  ## start the local stack: emulator + chalice local on 127.0.0.1:8000
	@$(PY) -m devstack run

emulator: $(STAMP)  ## only the AWS emulator, provisioned, with the event pump: then `.venv/bin/chalice local --stage local`
	@$(PY) -m devstack emulator

console: $(STAMP)  ## serve the browser console against a deployed stage: make console STAGE=dev
	@$(PY) -m devstack console --stage $(STAGE)

token: $(STAMP)  ## print an ID token: make token USER=alice [GROUP=admins], or STAGE=dev USER=you@example.com
	@$(PY) -m devstack token --user "$(call cli,USER)" --group "$(call cli,GROUP)" --stage "$(call cli,STAGE,local)"

user: $(STAMP)  ## create a user: make user STAGE=dev EMAIL=you@example.com [GROUP=admins] (or STAGE=local)
	@$(PY) -m devstack user --email "$(call cli,EMAIL)" --group "$(call cli,GROUP)" --stage "$(STAGE)"

LISTEN_PORT ?= 8787
webhook-listen: $(STAMP)  ## a loopback receiver that verifies and prints webhooks: make webhook-listen SECRET=whsec_...
	@$(PY) -m devstack.webhook_listen --secret "$(SECRET)" --port "$(LISTEN_PORT)"

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests ..." >&2
	$(SUDO) apt-get update -qq >&2
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2

test: lint typecheck $(CHROMIUM)  ## lint, type-check and run every test (unit, integration, e2e, browser)
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit --no-cov

# USER_POOL_ID + APP_CLIENT_ID: use a user pool made elsewhere instead of the stack's own.
POOL_ARGS := $(if $(USER_POOL_ID),--user-pool-id "$(USER_POOL_ID)" --app-client-id "$(APP_CLIENT_ID)")
# DEPLOY_FROM_GITHUB=owner/name: also create the role GitHub Actions on that repository's main
# branch assumes to deploy (README "Deploy on every push"); later deploys keep it.
GITHUB_ARGS := $(if $(DEPLOY_FROM_GITHUB),--github-repository "$(DEPLOY_FROM_GITHUB)")

deploy: $(STAMP)  ## deploy a stage to AWS: make deploy STAGE=dev
	$(PY) -m infra.deploy deploy --stage $(STAGE) --project-dir "$(CURDIR)" $(POOL_ARGS) $(GITHUB_ARGS)

backfill-search: $(STAMP)  ## index people written before search existed (once, after deploying search)
	$(PY) -m infra.backfill_search --stage $(STAGE)

destroy: $(STAMP)  ## remove a stage from AWS (asks first on prod): make destroy STAGE=dev
	$(PY) -m infra.deploy destroy --stage $(STAGE) --project-dir "$(CURDIR)"

# The same package as `make deploy` (infra/deploy.py `package` does what `chalice` does there),
# with the event-source settings of infra/event_sources.py merged in.
package: $(STAMP)  ## build the stage's SAM template and zip into build/package-$(STAGE)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} \
		$(PY) -m infra.deploy package --stage $(STAGE) --project-dir "$(CURDIR)" --out build/package-$(STAGE)
	@ls -l build/package-$(STAGE)/deployment.zip

$(BENCH_STAMP): requirements.txt constraints.txt
	@if [ -z "$(BENCH_PYTHON)" ]; then \
		echo "bench: no python3.13 found (set BENCH_PYTHON=...): the children run on $(PY) instead" >&2; \
	else \
		rm -rf $(BENCH_VENV) && $(BENCH_PYTHON) -m venv $(BENCH_VENV); \
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
