# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt constraints.txt | cksum | cut -d' ' -f1)
STAGE ?= dev

.PHONY: run emulator test lint typecheck unit token user console bench clean deploy destroy package webhook-listen
# Only what is given on make's command line: the shell's own $USER (root, say) must never pick
# whose token is printed, nor a stray $GROUP or $STAGE in the environment where it lands.
cli = $(if $(filter command line,$(origin $(1))),$($(1)),$(2))
# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required" if sys.version_info < (3, 11) else 0)'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
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

deploy: $(STAMP)  ## deploy a stage to AWS: make deploy STAGE=dev
	$(PY) -m infra.deploy deploy --stage $(STAGE)

destroy: $(STAMP)  ## remove a stage from AWS (asks first on prod): make destroy STAGE=dev
	$(PY) -m infra.deploy destroy --stage $(STAGE)

# The Lambda runtime ships the AWS SDK: PIP_NO_DEPS packages requirements.txt exactly.
package: $(STAMP)  ## build the stage's SAM template and zip into build/package-$(STAGE)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} PIP_NO_DEPS=1 \
		$(VENV)/bin/chalice package --stage $(STAGE) --merge-template infra/event-sources.json build/package-$(STAGE)
	@ls -l build/package-$(STAGE)/deployment.zip

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .devstack
