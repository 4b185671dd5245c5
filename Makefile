# Single source of truth for set-up, build, test, bench and demo. Every target installs what it needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/tools/solcx
export PYTHONHASHSEED := 0

.PHONY: setup browser build abi lint test test-forge test-py fuzz slither demo bench bench-gas bench-node bench-network bench-surface bench-scale deploy-local clean

setup: $(VENV)/.installed $(VENV)/.solcx-path node_modules/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

# ape-solidity finds solc only through SOLCX_BINARY_PATH (py-solc-x; no config key): this .pth makes every
# python of the venv default it to tools/solcx, so `source .venv/bin/activate && ape compile` works in a
# fresh shell with nothing exported (an exported value still wins). tests/integration/test_ape_cli.py
$(VENV)/.solcx-path: $(VENV)/.installed
	$(PY) -c 'import sys, sysconfig, pathlib; pathlib.Path(sysconfig.get_paths()["purelib"], "mlra_solcx.pth").write_text("import os; os.environ.setdefault(\"SOLCX_BINARY_PATH\", %r)\n" % sys.argv[1])' "$(CURDIR)/tools/solcx"
	@touch $@

# The dashboard's real-browser test drives Debian's chromium with chromium-driver (no browser download:
# it would fail offline). Installed once from Debian's packages; as root, or through sudo otherwise.
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

build: setup
	forge build

# Refresh the ABIs + bytecode shipped in the package (oracle_node/chain/abi/, committed) from forge's
# out/; tests/unit/test_abi_package.py fails until a contract change has been exported and committed.
abi: build
	$(PY) -m scripts.abi

lint: setup
	$(VENV)/bin/ruff check oracle_node tests scripts bench
	$(VENV)/bin/ruff format --check oracle_node tests scripts bench
	$(VENV)/bin/lint-imports

test-forge: build
	FOUNDRY_PROFILE=ci forge test

test-py: build browser
	HYPOTHESIS_PROFILE=ci $(VENV)/bin/pytest -q

# Property tests with fresh random draws and more examples (Python: hypothesis; Solidity: forge
# with a random seed and 10,000 runs): what `make test` fixes, explored. Not part of CI.
fuzz: build
	HYPOTHESIS_PROFILE=fuzz $(VENV)/bin/pytest -q $$(grep -rl "from hypothesis" tests --include='test_*.py')
	FOUNDRY_PROFILE=fuzz forge test

test: lint test-forge test-py slither

# No high or medium finding may stand (lows and informational ones are explained in the README).
slither: build
	$(VENV)/bin/slither . --config-file slither.config.json --fail-medium

demo: build
	$(PY) -m scripts.demo

bench: bench-gas bench-node bench-network bench-surface

bench-gas: build
	$(PY) -m bench.gas --out bench/gas.json

bench-node: setup
	$(PY) -m bench.node --out bench/node.json

bench-network: build
	$(PY) -m bench.network --out bench/network.json

# 8 markets x 2 levels on the bundled real prices, serial against a local Ray on this machine's cores
# (about 5 minutes on 2 cores, so not part of `bench`); docs/scale.md
bench-scale: setup
	$(PY) -m bench.scale --out bench/scale.json

# Reads the shared Deribit snapshots in ../shared/data/options (not shipped with the package).
bench-surface: setup
	$(PY) -m bench.surface --out bench/surface.json

deploy-local: build
	$(PY) -m scripts.deploy_local

clean:
	rm -rf out cache .build $(VENV) node_modules
