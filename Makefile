# Developer entry points. `make test` and `make demo` set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMVENV := .venv-sam
CDKVENV := .venv-cdk
MOTOVENV := .venv-moto
MCPVENV := .venv-mcp
OIDC_PROVIDER := tests/oidc_provider
NODE_STAMP := $(OIDC_PROVIDER)/node_modules/.installed
DYNALITE := tests/dynalite
DYNALITE_STAMP := $(DYNALITE)/node_modules/.installed

# Lambda target: python3.13 on arm64 (see template.yaml).
LAMBDA_PYTHON   ?= 3.13
LAMBDA_PLATFORM ?= --platform manylinux_2_34_aarch64 --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64

.PHONY: help setup test lint unit quick fuzz bench keys dist package layer release examples unit-py313 demo serve events lock sam sam-build clean artifacts-dir runtime build-AuthorizerFunction build-ResourceMetadataFunction build-WhoAmIFunction build-ClaimsLayer

## make help: every target with its one-line description (the ## lines of this file)
help:
	@sed -n 's/^## make \([^:]*\): \(.*\)/\1|\2/p' $(MAKEFILE_LIST) | awk -F'|' '{ printf "  %-14s %s\n", $$1, $$2 }'

setup: $(STAMP) $(NODE_STAMP) $(DYNALITE_STAMP)

# Python 3.11+ first: an older one fails here, before a venv exists for later runs to reuse.
# A venv whose install fails is removed for the same reason. The .pth file puts the
# checkout on the venv's path, so `python -m authorizer_tools` works from any folder.
CHECKOUT_PTH := import pathlib, sys, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "apigw-oidc-authorizer-checkout.pth").write_text(sys.argv[1] + "\n")
$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "make: $(PYTHON) is $$($(PYTHON) --version 2>&1 || echo missing); this project needs Python 3.11 or newer: make $(MAKECMDGOALS) PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		-r requirements.txt -r requirements-dev.txt || { rm -rf $(VENV); exit 1; }
	$(BIN)/python -c '$(CHECKOUT_PTH)' "$(CURDIR)"
	touch $(STAMP)

## make test: lint, type-check, template lint, a real `sam build`, the examples, then the whole pytest suite with branch-coverage floors
test: lint sam-build examples unit

lint: $(STAMP) $(MCPVENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy --strict --python-executable $(MCPVENV)/bin/python tests/mcp/server.py tests/mcp/client.py
	$(BIN)/cfn-lint template.yaml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

# The end-to-end tests run the artifacts in the Lambda runtime emulator, which SAM CLI ships.
# Branch coverage of the whole suite, subprocesses included, with two floors: the runtime
# package (what is deployed) and everything measured. A partial run checks neither.
# The suite on two workers (pytest-xdist; CI has two cores); PARALLEL= runs it in one process.
# Tests share nothing a worker could break for another: each finds its own runtimes, ports
# and temporary folders, and builds of one artifact wait for each other (a file lock).
PARALLEL ?= -n 2
COVERAGE_FLOOR_RUNTIME := 97
COVERAGE_FLOOR_ALL := 93
unit: $(STAMP) $(NODE_STAMP) $(DYNALITE_STAMP) $(SAMVENV)/.installed $(MOTOVENV)/.installed $(MCPVENV)/.installed
	rm -f .coverage .coverage.*
	$(BIN)/pytest $(PARALLEL) --cov --cov-report=
	$(BIN)/coverage report --fail-under=$(COVERAGE_FLOOR_ALL)
	@printf 'runtime package (authorizer/) branch coverage, floor $(COVERAGE_FLOOR_RUNTIME)%%: '
	@$(BIN)/coverage report --include='authorizer/*' --format=total --fail-under=$(COVERAGE_FLOOR_RUNTIME)

# The real OpenID provider the integration tests run (panva/oidc-provider, locked).
$(NODE_STAMP): $(OIDC_PROVIDER)/package-lock.json
	npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund --silent
	touch $@

# DynamoDB's API on loopback (dynalite, locked), beside moto's, for the shared replay store.
$(DYNALITE_STAMP): $(DYNALITE)/package-lock.json
	npm ci --prefix $(DYNALITE) --no-audit --no-fund --silent
	touch $@

## make quick: the fast loop: the runtime's and the tools' tests on both cores, without SAM CLI, npm or moto (about a minute)
quick: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider $(PARALLEL) -m "not deployment and not integration"

## make fuzz: the property tests with thousands of examples each (about ten minutes)
fuzz: $(STAMP) $(NODE_STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -p no:cacheprovider tests/runtime/test_arbitrary_input.py \
		tests/runtime/test_route_rules.py::test_a_cached_policy_answers_every_route_like_a_fresh_evaluation \
		tests/runtime/test_rules_file.py::test_any_rules_document_gets_a_rule_set_or_one_config_error

## make dist: the wheel and sdist in dist/ (console script authorizer-tools), checked by twine
# Only the previous wheel and sdist are removed: make package and make layer write their zips
# into the same folder (the Terraform example reads the function zip from there).
DIST ?= dist
dist: $(STAMP)
	rm -f $(DIST)/apigw_oidc_authorizer-*.whl $(DIST)/apigw_oidc_authorizer-*.tar.gz
	$(BIN)/python -m build --no-isolation --outdir $(DIST) .
	$(BIN)/twine check --strict $(DIST)/apigw_oidc_authorizer-*

## make package: the function's deployment zips for arm64 and x86_64 in dist/ (3.13 bytecode, .sha256 beside)
package: $(STAMP)
	$(BIN)/python -m authorizer_tools.package function --out $(DIST)

## make layer: a Lambda layer per architecture in dist/ (python/authorizer: the claims reader and the verifier)
layer: $(STAMP)
	$(BIN)/python -m authorizer_tools.package layer --out $(DIST)

## make release: every artefact of this version in release/VERSION/ (zips and layers for both architectures, wheel, sdist), with SHA256SUMS and a CycloneDX SBOM
VERSION = $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' authorizer/__init__.py)
RELEASE_DIR ?= release/$(VERSION)
release: $(STAMP)
	rm -rf $(RELEASE_DIR)
	$(MAKE) --no-print-directory package layer dist DIST=$(RELEASE_DIR)
	$(BIN)/python -m authorizer_tools.release $(RELEASE_DIR)

# jsii silences its end-of-life banner only for the Node.js major versions this lists.
NODE_MAJOR = $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
## make examples: lint every example template (cfn-lint, sam validate) and synthesise the CDK app with the pinned CDK
EXAMPLE_TEMPLATES := examples/all-shapes.yaml examples/sam-application/template.yaml
examples: export SAM_CLI_TELEMETRY = 0
examples: $(STAMP) $(SAMVENV)/.installed $(CDKVENV)/.installed
	$(BIN)/cfn-lint $(EXAMPLE_TEMPLATES)
	for template in $(EXAMPLE_TEMPLATES); do $(SAMVENV)/bin/sam validate --lint --template $$template || exit 1; done
	rm -rf .aws-sam/cdk.out
	cd examples/cdk && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=$(NODE_MAJOR) JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 CDK_OUTDIR=$(CURDIR)/.aws-sam/cdk.out \
		$(CURDIR)/$(CDKVENV)/bin/python app.py
	$(BIN)/cfn-lint .aws-sam/cdk.out/*.template.json --ignore-checks=W3005  # W3005: a DependsOn CDK writes
	$(BIN)/python examples/cdk/check.py .aws-sam/cdk.out

# A local S3 for the sam package test (moto's server, on loopback).
$(MOTOVENV)/.installed: requirements-moto.txt
	$(PYTHON) -m venv $(MOTOVENV)
	$(MOTOVENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		-r requirements-moto.txt || { rm -rf $(MOTOVENV); exit 1; }
	touch $@

# The official MCP SDK, as the OAuth client of the protected-resource tests (#24).
$(MCPVENV)/.installed: requirements-mcp.txt
	$(PYTHON) -m venv $(MCPVENV)
	$(MCPVENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		-r requirements-mcp.txt || { rm -rf $(MCPVENV); exit 1; }
	touch $@

$(CDKVENV)/.installed: requirements-cdk.txt
	$(PYTHON) -m venv $(CDKVENV)
	$(CDKVENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		-r requirements-cdk.txt || { rm -rf $(CDKVENV); exit 1; }
	touch $@

## make keys: pin the issuers' key sets into rules/keys.json, bundled by sam build (PARAMETERS="Issuer=https://... Audience=...")
KEYS_FILE ?= rules/keys.json
keys: $(STAMP)
	$(BIN)/python -m authorizer_tools keys pin --parameter KeysFile=$(KEYS_FILE) $(foreach p,$(PARAMETERS),--parameter $(p))

## make bench: the regression benchmarks (about two minutes); writes docs/benchmarks.md, fails over budget (RECORD=1 records)
bench: $(STAMP) $(MOTOVENV)/.installed $(DYNALITE_STAMP)
	$(BIN)/python -m benchmarks --page docs/benchmarks.md $(if $(RECORD),--record)

## make unit-py313: the suite again on Python 3.13, the Lambda runtime, less the deployment artefacts' tests (CI runs this too)
PY313 ?= $(shell for p in $$(PYENV_VERSION=3.13.0 pyenv which python3 2>/dev/null) python3.13; do \
	$$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && echo $$p && break; done)
unit-py313: $(NODE_STAMP) $(DYNALITE_STAMP) $(SAMVENV)/.installed $(MOTOVENV)/.installed $(MCPVENV)/.installed
	@test -n "$(PY313)" || { echo "no Python 3.13 found: make unit-py313 PY313=/path/to/python3.13"; exit 1; }
	test -f .venv-py313/.installed -a .venv-py313/.installed -nt requirements-dev.txt || { \
		$(PY313) -m venv .venv-py313 && \
		.venv-py313/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		-r requirements.txt -r requirements-dev.txt && touch .venv-py313/.installed; }
	.venv-py313/bin/python -c '$(CHECKOUT_PTH)' "$(CURDIR)"
	.venv-py313/bin/python --version
	.venv-py313/bin/pytest -p no:cacheprovider $(PARALLEL) -m "not deployment"

## make runtime: Python 3.13 with awslambdaric (the Lambda runtime client) in .venv-runtime/
runtime: .venv-runtime/.installed

.venv-runtime/.installed: requirements-runtime.txt
	@test -n "$(PY313)" || { echo "no Python 3.13 found: make runtime PY313=/path/to/python3.13" >&2; exit 1; }
	rm -rf .venv-runtime
	$(PY313) -m venv .venv-runtime
	.venv-runtime/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		-r requirements-runtime.txt || { rm -rf .venv-runtime; exit 1; }
	touch $@

## make demo: a loopback issuer, fresh tokens, every sample event through the real handler
demo: $(STAMP) $(SAMVENV)/.installed
	$(BIN)/python -m authorizer_tools.demo

## make serve: the template's APIs on 127.0.0.1:3000 (REST) and :3001 (HTTP) for the dev issuer
SERVE_PARAMS ?= --parameter Issuer=http://127.0.0.1:8765 --parameter Audience=https://api.example.test
serve: $(STAMP) $(SAMVENV)/.installed
	$(BIN)/python -m authorizer_tools serve $(SERVE_PARAMS)

## make events: rewrite events/ from the generator; with TOKEN=..., write events/local/ instead
events: $(STAMP)
ifdef TOKEN
	$(BIN)/python -m authorizer_tools events events/local --token "$(TOKEN)"
else
	$(BIN)/python -m authorizer_tools events events
endif

## make lock: re-pin requirements*.txt from requirements*.in (needs uv)
lock:
	uv pip compile requirements.in --universal --python-version 3.11 --generate-hashes -o requirements.txt
	uv pip compile requirements-dev.in --python-version 3.11 --generate-hashes --no-strip-extras -o requirements-dev.txt
	uv pip compile requirements-sam.in --python-version 3.11 --generate-hashes -o requirements-sam.txt
	uv pip compile requirements-runtime.in --universal --python-version 3.13 --generate-hashes -o requirements-runtime.txt
	uv pip compile requirements-cdk.in --python-version 3.11 --generate-hashes -o requirements-cdk.txt
	uv pip compile requirements-moto.in --python-version 3.11 --generate-hashes -o requirements-moto.txt
	uv pip compile requirements-mcp.in --universal --python-version 3.11 --generate-hashes --no-strip-extras -o requirements-mcp.txt

## make sam-build: the real SAM CLI builds the template; the artifact is then inspected
sam-build: export SAM_CLI_TELEMETRY = 0
sam-build: $(STAMP) $(SAMVENV)/.installed
	$(SAMVENV)/bin/sam validate --lint --template template.yaml
	$(SAMVENV)/bin/sam build --build-in-source --template template.yaml --build-dir .aws-sam/build
	$(BIN)/python -m authorizer_tools.local.artifact .aws-sam/build/AuthorizerFunction

## make sam: the pinned SAM CLI in .venv-sam/ (then `. .venv-sam/bin/activate`, or .venv-sam/bin/sam)
sam: $(SAMVENV)/.installed

$(SAMVENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAMVENV)
	$(SAMVENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r requirements-sam.txt
	touch $@

# --- Called by `sam build` (BuildMethod: makefile) with ARTIFACTS_DIR set. ---------------
# Only the authorizer package and its pinned runtime wheels for the Lambda platform, with
# bytecode compiled by the runtime's own Python version when one is at hand: Lambda's file
# system is read-only, so without it every cold start compiles every module again.
LAMBDA_COMPILER ?= $(shell for p in $$(PYENV_VERSION=$(LAMBDA_PYTHON).0 pyenv which python3 2>/dev/null) \
	python$(LAMBDA_PYTHON); do $$p -c 'import sys; sys.exit(sys.version_info[:2] != tuple(map(int, "$(LAMBDA_PYTHON)".split("."))))' \
	2>/dev/null && echo $$p && break; done)
# Where Lambda puts the code (a layer's is /opt/python): the path tracebacks show, recorded in
# the bytecode instead of the build folder's, so that the same sources give the same bytes.
LAMBDA_CODE_ROOT ?= /var/task
# Run by `sam build`, which sets ARTIFACTS_DIR; without it these would write into /.
build-AuthorizerFunction build-ResourceMetadataFunction build-WhoAmIFunction build-ClaimsLayer: | artifacts-dir

artifacts-dir:
	@test -n "$(ARTIFACTS_DIR)" || { echo "make: ARTIFACTS_DIR is not set: sam build runs this target (or: make $(MAKECMDGOALS) ARTIFACTS_DIR=/some/empty/dir)" >&2; exit 1; }

build-AuthorizerFunction:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		--only-binary=:all: --implementation cp --python-version $(LAMBDA_PYTHON) $(LAMBDA_PLATFORM) \
		--target "$(ARTIFACTS_DIR)" -r requirements.txt
	cp -R authorizer rules "$(ARTIFACTS_DIR)/"
	rm -rf "$(ARTIFACTS_DIR)"/bin "$(ARTIFACTS_DIR)"/*.dist-info/RECORD
	find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
	@if [ -n "$(LAMBDA_COMPILER)" ]; then \
		PYTHONHASHSEED=0 $(LAMBDA_COMPILER) -m compileall -q -j 0 --invalidation-mode unchecked-hash \
			-s "$(ARTIFACTS_DIR)" -p $(LAMBDA_CODE_ROOT) "$(ARTIFACTS_DIR)" >/dev/null; \
	else echo "note: no Python $(LAMBDA_PYTHON) here: shipping without bytecode (slower cold starts)"; fi

# The claims reader as a layer for downstream functions (python/authorizer on the path).
# The metadata function runs the same artifact (its second entry point, authorizer.wellknown).
build-ResourceMetadataFunction: build-AuthorizerFunction

build-ClaimsLayer:
	mkdir -p "$(ARTIFACTS_DIR)/python/authorizer"
	cp authorizer/__init__.py authorizer/claims.py "$(ARTIFACTS_DIR)/python/authorizer/"

# The example downstream function: the stdlib-only claims reader and the handler.
build-WhoAmIFunction:
	mkdir -p "$(ARTIFACTS_DIR)/authorizer"
	cp authorizer/__init__.py authorizer/claims.py "$(ARTIFACTS_DIR)/authorizer/"
	cp examples/whoami/app.py "$(ARTIFACTS_DIR)/whoami.py"

clean:
	rm -rf $(VENV) $(SAMVENV) $(CDKVENV) $(MOTOVENV) $(MCPVENV) .venv-py313 .venv-runtime .aws-sam .mypy_cache .pytest_cache .ruff_cache .hypothesis
