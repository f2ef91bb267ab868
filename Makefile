# The two commands: `make run` (set up everything, serve the portal on the dev cluster)
# and `make test` (the whole suite). Every step is idempotent and skips work already done.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
CLUSTER := etc/devcluster/cluster.sh
PYTEST_ARGS ?=
# Tests start hundreds of Python processes (portal servers, workers, the CLI): each loads
# the portal's modules from their bytecode cache instead of compiling them again.
unexport PYTHONDONTWRITEBYTECODE

# PostgreSQL is the production database (SQLite the embedded default): these tests also run
# on a real one, a private server etc/devcluster/pgtest.sh starts (one database, emptied
# before each test, so they run one at a time). About 2.5 minutes.
PG_TESTS := tests/unit/portal/test_migrations.py tests/unit/jobs/test_jobs_submit_reliability.py \
	tests/integration/jobs/test_jobs_batch_cluster.py tests/integration/projects/test_projects_cluster.py \
	tests/integration/wallet/test_wallet_cluster.py tests/integration/portal/test_worker_cache.py

# The integration tests, again against Slurm 24.11 (Debian 13's, in a root on this Debian 12
# machine: etc/devcluster/slurm2411.sh, `cluster.sh start-2411`): the Slurm adapter, batch
# jobs, Jupyter sessions (1+1 through the proxy, terminal, SSH, custom images), projects and
# accounts (sacctmgr), the wallet, the worker. Not the multi-node tests (a 22.05 cluster of
# their own) nor the chaos test (it stops the shared 22.05 slurmdbd and MariaDB).
TESTS_2411 := tests/integration --ignore=tests/integration/multinode \
	--ignore=tests/integration/portal/test_chaos_short.py

.PHONY: test-2411 test-postgres run test venv frontend translations translations-update system cluster image lint bench \
	stop clean

run: venv frontend translations cluster image
	@bash etc/run-portal.sh

test: venv frontend translations cluster image lint
	@$(BIN)/python -c 'import sys; print("python", sys.version.split()[0])'
	$(BIN)/pytest -n 2 --dist loadgroup -m "not disruptive" $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-postgres
	@# Tests that freeze or restart cluster daemons run alone, after the rest.
	$(BIN)/pytest -m disruptive $(PYTEST_ARGS) || [ $$? -eq 5 ]
	@$(MAKE) --no-print-directory test-2411

test-2411: venv image
	@bash $(CLUSTER) start-2411
	PORTAL_TEST_SLURM=2411 $(BIN)/pytest -n 2 --dist loadgroup -m "not disruptive" $(TESTS_2411) $(PYTEST_ARGS)
	PORTAL_TEST_SLURM=2411 $(BIN)/pytest -m disruptive $(TESTS_2411) $(PYTEST_ARGS) || [ $$? -eq 5 ]

test-postgres: venv cluster
	URL=$$(bash etc/devcluster/pgtest.sh start) && PORTAL_TEST_DATABASE_URL=$$URL \
	  $(BIN)/pytest -m "not disruptive" $(PG_TESTS) $(PYTEST_ARGS)

system:
	@bash $(CLUSTER) install
	@command -v chromium >/dev/null && fc-list | grep -qi wqy && test -x /usr/sbin/sshd && \
	  command -v ssh >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq chromium fonts-wqy-zenhei openssh-server openssh-client >/dev/null; }

venv: system $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-dev.txt setup.cfg
	@test -x $(BIN)/python || python3 -m venv $(VENV) || { \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

frontend: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

translations: venv
	@$(BIN)/pybabel compile -d portal/translations >/dev/null

# After adding strings: refresh the catalogue, then translate the new entries in the .po file.
translations-update: venv
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o portal/translations/messages.pot .
	$(BIN)/pybabel update -i portal/translations/messages.pot -d portal/translations -w 100

cluster: system
	@bash $(CLUSTER) start

image: system
	@bash $(CLUSTER) image
	@bash $(CLUSTER) image-jupyter

lint: venv
	$(BIN)/ruff check .

bench: venv cluster
	$(BIN)/python bench/submit_overhead.py

stop:
	-@bash etc/run-portal.sh stop
	@bash $(CLUSTER) stop

clean:
	rm -rf $(VENV) node_modules
