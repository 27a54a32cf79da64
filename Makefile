# Two commands matter: `make run` and `make test`. Everything else supports them.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench profile chaos soak fuzz clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	@# System packages the tests use: PostgreSQL server binaries (the API tests start a
	@# private server on loopback), Chromium (dashboard tests), Node.js (template parity test),
	@# podman with runc, catatonit (--init) and debootstrap (the container image test)
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	for tool in podman runc catatonit debootstrap; do \
		command -v $$tool >/dev/null || missing="$$missing $$tool"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@$(PY) -c 'import venv, ensurepip' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/hanami serve --host 127.0.0.1 --port 11418

test: install
	$(BIN)/ruff check --force-exclude src tests benchmarks deploy
	$(BIN)/ruff format --check src tests benchmarks deploy
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check --force-exclude src tests benchmarks deploy
	$(BIN)/ruff format --check src tests benchmarks deploy

bench: install
	cd benchmarks && ../$(BIN)/python run_all.py --output ../BENCHMARKS.md --data ../../shared/data/mnist

# flame graphs (py-spy) of the server answering the GET mix of benchmarks/server.py
profile: install
	cd benchmarks && ../$(BIN)/python profile_get.py ../docs/performance/get-after.svg ../../shared/data/mnist
	cd benchmarks && ../$(BIN)/python profile_direct.py ../docs/performance/direct-after.svg ../../shared/data/mnist

# kill -9 trials over a mixed workload, SQLite and PostgreSQL: nothing acknowledged is lost
CHAOS_TRIALS ?= 30
chaos: install
	cd benchmarks && ../$(BIN)/python chaos.py --trials $(CHAOS_TRIALS)

# a long mixed load: errors, RSS slope (MB/min) and open descriptors of the server
SOAK_SECONDS ?= 600
soak: install
	cd benchmarks && ../$(BIN)/python soak.py --duration $(SOAK_SECONDS)

# schemathesis against the live server, SQLite and PostgreSQL, 60 examples per operation
# (`make test` runs 10)
FUZZ_EXAMPLES ?= 60
fuzz: install
	HANAMI_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -s \
		tests/server/test_server_schemathesis.py -k test_schemathesis

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
