# Two commands for a newcomer: `make run` (everything on this machine) and `make test`.
# Both install what is missing first and reuse what is there (stamps under .stamps/).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
PORTAL_SOURCES := $(shell find frontend/src frontend/public -type f 2>/dev/null) \
	$(wildcard frontend/index.html frontend/*.config.* frontend/package.json)

.PHONY: help run test install chromium lint clean

help:
	@echo "make run   - install what is missing, then start the whole system on this machine"
	@echo "make test  - install what is missing, then run every test"
	@echo "make deploy PROFILE=<aws profile> REGION=<region> - deploy to your AWS account (docs/deploy.md)"

run: install
	$(VENV)/bin/tmux-builder up

test: install
	$(VENV)/bin/ruff check tmux_builder control_plane agent tests
	$(VENV)/bin/mypy
	cd frontend && npm run --silent lint && npm test --silent
	$(VENV)/bin/pytest

install: $(STAMPS)/python $(STAMPS)/node $(STAMPS)/portal chromium

$(STAMPS)/python: pyproject.toml
	@mkdir -p $(STAMPS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[agent,local,dev]'
	@touch $@

$(STAMPS)/node: package.json package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	@test -x node_modules/.bin/claude
	@touch $@

$(STAMPS)/frontend-deps: frontend/package.json frontend/package-lock.json
	@mkdir -p $(STAMPS)
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMPS)/portal: $(STAMPS)/frontend-deps $(PORTAL_SOURCES)
	cd frontend && npm run --silent build
	@touch $@

chromium:
	@scripts/ensure-chromium.sh

lint: install
	$(VENV)/bin/ruff check tmux_builder control_plane agent tests
	$(VENV)/bin/ruff format --check tmux_builder control_plane agent tests
	$(VENV)/bin/mypy

clean:
	rm -rf $(STAMPS) $(VENV) node_modules frontend/node_modules frontend/dist .tmux-builder

# ------------------------------------------------------------------ deploying to an AWS account
# docs/deploy.md explains every variable; docs/first-admin-token.md what comes next. Nothing here
# prints a secret: the outputs are names, ARNs and URLs, and the admin token stays in Secrets
# Manager.
#   make deploy PROFILE=my-admin REGION=eu-west-1 [STACK=tmux-builder] [AGENT_VPC=... ...]
PROFILE ?=
REGION ?=
STACK ?= tmux-builder
# The SAM CLI lives in its own virtualenv (docs/deploy.md): found on PATH, in ~/.venvs/aws-sam,
# or in .venv-sam (the one the template tests install).
SAM ?= $(or $(shell command -v sam 2>/dev/null),$(wildcard $(HOME)/.venvs/aws-sam/bin/sam),$(wildcard $(CURDIR)/.venv-sam/bin/sam),sam)
AWS_CLI ?= aws
SAM_BUILD_DIR ?= .aws-sam/build
AGENT_BUILD_DIR ?= build/agent
PORTAL_DIST := frontend/dist
# Template parameters, passed only when set. A parameter you do not pass keeps the value the stack
# has (the template's default on the first deploy): `make deploy` reads the stack's parameters
# first, so a later deploy never turns the agent hosts off by forgetting AGENT_VPC.
APP_NAME ?=
AGENT_VPC ?=
AGENT_SUBNETS ?=
AGENT_AMI ?=
AGENT_INSTANCE_TYPE ?=
AGENT_MIN ?=
AGENT_MAX ?=
AGENT_DESIRED ?=
AGENT_CONCURRENCY ?=
MODEL_API_KEY_SECRET ?=
ALARM_EMAIL ?=
PORTAL_URL ?=
# Any other parameter, as Key=Value words: PARAMS="PipelineLogLevel=ALL LogRetentionDays=90"
PARAMS ?=
# CONFIRM=1: sam deploy shows the change set and waits for a yes before it changes anything.
CONFIRM ?=

AWS_ARGS = --profile $(PROFILE) --region $(REGION)
PARAMETER_OVERRIDES = $(strip $(filter-out %=,\
	AppName=$(APP_NAME) \
	VpcId=$(AGENT_VPC) \
	AgentSubnetIds=$(AGENT_SUBNETS) \
	AgentAmiId=$(AGENT_AMI) \
	AgentInstanceType=$(AGENT_INSTANCE_TYPE) \
	AgentMinSize=$(AGENT_MIN) \
	AgentMaxSize=$(AGENT_MAX) \
	AgentDesiredCapacity=$(AGENT_DESIRED) \
	AgentConcurrency=$(AGENT_CONCURRENCY) \
	ModelApiKeySecretArn=$(MODEL_API_KEY_SECRET) \
	AlarmEmail=$(ALARM_EMAIL) \
	PortalUrl=$(PORTAL_URL)) $(PARAMS))
STACK_OUTPUT = $(AWS_CLI) cloudformation describe-stacks $(AWS_ARGS) --stack-name $(STACK) \
	--output text --query "Stacks[0].Outputs[?OutputKey=='$(1)'].OutputValue"

.PHONY: package deploy deploy-portal outputs check-sam check-aws check-account

check-sam:
	@command -v $(SAM) >/dev/null 2>&1 || { echo "make: the SAM CLI ('$(SAM)') is not installed: see docs/deploy.md, Prerequisites (or pass SAM=/path/to/sam)" >&2; exit 1; }

check-aws:
	@command -v $(AWS_CLI) >/dev/null 2>&1 || { echo "make: the AWS CLI ('$(AWS_CLI)') is not installed: see docs/deploy.md, Prerequisites (or pass AWS_CLI=/path/to/aws)" >&2; exit 1; }

check-account: check-sam check-aws
	@test -n "$(PROFILE)" -a -n "$(REGION)" || { echo "make: PROFILE and REGION are required, e.g. make $(firstword $(MAKECMDGOALS) deploy) PROFILE=my-admin REGION=eu-west-1 (docs/deploy.md)" >&2; exit 1; }
	@$(AWS_CLI) sts get-caller-identity $(AWS_ARGS) --query Account --output text >/dev/null || { echo "make: the AWS CLI cannot use profile '$(PROFILE)': sign in first (aws sso login --profile $(PROFILE)), see docs/deploy.md" >&2; exit 1; }

# Offline: the functions' code bundle (build/lambda/), the agent hosts' package (build/agent/),
# then `sam build` (which installs the functions' dependencies into .aws-sam/build).
package: check-sam
	$(PYTHON) scripts/package.py lambda
	$(PYTHON) scripts/package.py agent --out $(AGENT_BUILD_DIR)
	$(SAM) build --template-file template.yaml --build-dir $(SAM_BUILD_DIR)

# 1. The stack's current parameters, overridden by the ones given here. 2. The agent package to
# the artifacts bucket (after the stack exists, on the first deploy), its key as AgentPackageKey:
# a new package rolls the agent hosts. 3. sam deploy. 4. On the first deploy, PortalUrl from the
# new distribution and a second, quick sam deploy (client links point into the portal).
# 5. The portal. 6. The outputs.
deploy: check-account package $(STAMPS)/portal
	@set -euo pipefail; \
	template_parameters="$$(awk '/^[A-Za-z]/ { inside = ($$0 == "Parameters:") } \
		inside && /^  [A-Za-z0-9]+:/ { sub(/^ +/, ""); sub(/:.*/, ""); print }' template.yaml)"; \
	params="$$($(AWS_CLI) cloudformation describe-stacks $(AWS_ARGS) --stack-name $(STACK) \
		--query 'Stacks[0].Parameters[].[ParameterKey,ParameterValue]' --output text 2>/dev/null \
		| awk -F '\t' -v known="$$(echo $$template_parameters)" \
			'BEGIN { split(known, names, " "); for (i in names) keep[names[i]] = 1 } \
			NF == 2 && ($$1 in keep) && $$2 != "" && $$2 != "None" { print $$1 "=" $$2 }' || true)"; \
	for word in $(PARAMETER_OVERRIDES); do params="$$params"$$'\n'"$$word"; done; \
	param() { printf '%s\n' "$$params" | awk -v key="$$1" 'index($$0, key "=") == 1 { value = substr($$0, length(key) + 2) } END { print value }'; }; \
	agent_package="$$($(PYTHON) scripts/package.py agent --out $(AGENT_BUILD_DIR))"; \
	agent_key="releases/$${agent_package##*/}"; \
	params="$$params"$$'\n'"AgentPackageKey=$$agent_key"; \
	upload_agent_package() { \
		$(AWS_CLI) s3api head-object $(AWS_ARGS) --bucket "$$1" --key "$$agent_key" >/dev/null 2>&1 || \
		$(AWS_CLI) s3 cp "$$agent_package" "s3://$$1/$$agent_key" $(AWS_ARGS) --only-show-errors; }; \
	sam_deploy() { \
		$(SAM) deploy --template-file $(SAM_BUILD_DIR)/template.yaml --stack-name $(STACK) $(AWS_ARGS) \
			--capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND \
			--resolve-s3 --s3-prefix $(STACK) --no-fail-on-empty-changeset \
			$(if $(CONFIRM),--confirm-changeset,--no-confirm-changeset) \
			--parameter-overrides $$(printf '%s\n' "$$params" | awk -F '=' 'NF > 1 { last[$$1] = $$0 } END { for (key in last) print last[key] }'); }; \
	bucket="$$($(call STACK_OUTPUT,ArtifactsBucket) 2>/dev/null || true)"; \
	if [ -n "$$bucket" ] && [ "$$bucket" != None ]; then upload_agent_package "$$bucket"; fi; \
	if [ -z "$$(param PortalUrl)" ]; then \
		url="$$($(call STACK_OUTPUT,PortalUrl) 2>/dev/null || true)"; \
		if [ -n "$$url" ] && [ "$$url" != None ]; then params="$$params"$$'\n'"PortalUrl=$$url"; fi; \
	fi; \
	sam_deploy; \
	upload_agent_package "$$($(call STACK_OUTPUT,ArtifactsBucket))"; \
	if [ -z "$$(param PortalUrl)" ]; then \
		params="$$params"$$'\n'"PortalUrl=$$($(call STACK_OUTPUT,PortalUrl))"; \
		echo "make: first deploy: setting PortalUrl=$$(param PortalUrl) so that client links point into the portal"; \
		sam_deploy; \
	fi
	$(upload-portal)
	$(show-outputs)

deploy-portal: check-account $(STAMPS)/portal
	$(upload-portal)

outputs: check-account
	$(show-outputs)

# The portal's files to its bucket (hashed assets cached for a year, the rest revalidated), then
# an invalidation of its CloudFront distribution so that browsers get the new index.html now.
define upload-portal
@set -euo pipefail; \
bucket="$$($(call STACK_OUTPUT,PortalBucket))"; distribution="$$($(call STACK_OUTPUT,PortalDistributionId))"; \
if [ -z "$$bucket" ] || [ "$$bucket" = None ] || [ -z "$$distribution" ] || [ "$$distribution" = None ]; then \
	echo "make: stack '$(STACK)' in $(REGION) has no PortalBucket/PortalDistributionId outputs: run make deploy first" >&2; exit 1; fi; \
echo "Uploading the portal to s3://$$bucket, then invalidating distribution $$distribution"; \
$(AWS_CLI) s3 sync $(PORTAL_DIST)/assets "s3://$$bucket/assets" $(AWS_ARGS) --only-show-errors \
	--cache-control "public,max-age=31536000,immutable"; \
$(AWS_CLI) s3 sync $(PORTAL_DIST) "s3://$$bucket" $(AWS_ARGS) --only-show-errors --delete \
	--exclude "assets/*" --cache-control "no-cache"; \
$(AWS_CLI) s3 sync $(PORTAL_DIST)/assets "s3://$$bucket/assets" $(AWS_ARGS) --only-show-errors --delete; \
$(AWS_CLI) cloudfront create-invalidation $(AWS_ARGS) --distribution-id "$$distribution" --paths "/*" \
	--query Invalidation.Id --output text
endef

define show-outputs
$(AWS_CLI) cloudformation describe-stacks $(AWS_ARGS) --stack-name $(STACK) \
	--query "Stacks[0].Outputs[].[OutputKey,OutputValue]" --output table
endef
