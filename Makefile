# The commands users type. Each builds its own environment from the lockfile first,
# so a fresh machine needs only Python 3.11+ and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
STACK ?= dev
STACKS := $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml))

# Use an installed uv when there is one; otherwise bootstrap a pinned one next to the repo.
UV := $(or $(shell command -v uv 2>/dev/null),.bootstrap/bin/uv)
RUN := $(UV) run --frozen --no-sync

.PHONY: help env plan policy policies test lint unit bench app verify rollback services clean
.PHONY: capacity cost prices

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.bootstrap/bin/uv:
	python3 -m venv .bootstrap
	.bootstrap/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: uv.lock pyproject.toml app/pyproject.toml | $(UV)
	@$(UV) sync --frozen --quiet
	@touch $@

env: .venv/.synced ## build the environment from uv.lock

plan: env ## print what STACK (default dev) would create, no account needed
	@$(RUN) python -m tooling.plan --stack $(STACK)

policy: env ## run the policy pack offline against STACK's resources
	$(RUN) python -m tooling.policy_check --stack $(STACK)

policies: env ## run the policy pack offline against every stack
	@set -e; for s in $(STACKS); do $(RUN) python -m tooling.policy_check --stack $$s; done

services: ## start local PostgreSQL and Redis if they are down
	@scripts/ensure-services.sh

lint: env ## ruff, the service's import layers, the Dockerfile (hadolint) and the workflows (actionlint, schemas, zizmor, project rules)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports --no-cache --no-logo
	$(RUN) hadolint app/Dockerfile
	$(RUN) python -m tooling.lint_workflows

unit: env services ## the test suite (infra under mocks, policy, app against real PostgreSQL/Redis)
	$(RUN) pytest

test: lint unit policies ## everything CI runs

bench: env services ## load benchmark of the reservation service (see README); BENCH_ARGS="--help" for options
	$(RUN) python -m bench.run $(BENCH_ARGS)

capacity: env ## tasks, Redis, database, Kafka and ALB load per sale window of STACK, from measured capacity
	@$(RUN) python -m tooling.capacity --stack $(STACK) $(if $(RATE),--attempts-per-second $(RATE))

cost: env ## monthly cost estimate of STACK per resource, and the extra of each sale window
	@$(RUN) python -m tooling.cost --stack $(STACK)

prices: env ## refresh capacity/prices.yaml from the AWS Price List API (needs AWS credentials); REGION=...
	@$(RUN) python -m tooling.prices $(if $(REGION),--region $(REGION))

# RESERVATION_DEV_MODE supplies an insecure development JWT secret when JWT_SECRET is unset (local only).
APP_ENV := RESERVATION_DEV_MODE=1 \
	DATABASE_URL=$${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0}

app: env services ## run the reservation service locally against local PostgreSQL and Redis
	$(APP_ENV) $(RUN) reservation migrate
	$(APP_ENV) $(RUN) reservation serve --host 127.0.0.1

verify: env ## check a live deployment of STACK (needs AWS credentials)
	$(RUN) python -m tooling.verify --stack $(STACK)

rollback: env ## roll SERVICE of STACK back: stop its deployment, or go to the previous revision (AWS)
	$(RUN) python -m tooling.rollback --stack $(STACK) --service "$(SERVICE)"

clean: ## remove the local environments
	rm -rf .venv .bootstrap .pytest_cache .ruff_cache
