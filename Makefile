# SpeedTrade — `make run` (embedded demo) and `make test` (PostgreSQL + Redis) are the two
# commands that must always work from a fresh clone.
PYTHON ?= python3
-include local.mk  # per-checkout overrides (e.g. another database name); not committed

VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
WORKERS ?= 2

# Settings refuse to guess the environment (issue 16 item 11): every target says it. Tests say "test".
export SPEEDTRADE_ENV ?= development

# Services mode (tests, full stack). Override on the command line or in the environment.
export SERVICES_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/speedtrade
export SERVICES_REDIS_URL    ?= redis://127.0.0.1:6379/0
# Tests use their own Redis database so a running stack and a test run never meet.
export TEST_REDIS_URL        ?= redis://127.0.0.1:6379/1
# Tasks through RabbitMQ (running on every development machine and in CI); a vhost of your own in local.mk
# keeps two checkouts' workers apart. Set it empty to send tasks through SERVICES_REDIS_URL instead.
export SERVICES_BROKER_URL   ?= amqp://guest:guest@127.0.0.1:5672//
SERVICES_ENV = DATABASE_URL=$(SERVICES_DATABASE_URL) REDIS_URL=$(SERVICES_REDIS_URL) $(if $(SERVICES_BROKER_URL),CELERY_BROKER_URL=$(SERVICES_BROKER_URL))
TEST_ENV = DATABASE_URL=$(SERVICES_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) SPEEDTRADE_ENV=test CELERY_TASK_ALWAYS_EAGER=true

.PHONY: run test lint bench bench-quick run-services web worker beat feed engine migrate lock clean vendor

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# WeasyPrint (account documents as PDF) renders with Debian's Pango and HarfBuzz.
$(VENV)/.runtime-installed: requirements.txt constraints.txt | $(BIN)/python
	@test -e /usr/lib/$$(uname -m)-linux-gnu/libpangoft2-1.0.so.0 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	@touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.runtime-installed
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@

## Embedded default: SQLite, in-memory channel layer, in-process tasks, simulated feed.
run: $(VENV)/.runtime-installed
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python manage.py migrate --noinput
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python manage.py seed_demo
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python manage.py serve --demo --host $(HOST) --port $(PORT)

# The browser tests drive Debian's Chromium through Playwright (never a downloaded browser build).
CHROMIUM ?= /usr/bin/chromium
$(VENV)/.browser-installed:
	@test -x $(CHROMIUM) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium)
	@touch $@

# The proxy tests (speedtrade/tests/test_nginx.py) run Debian's nginx with deploy/nginx/ in front of the app.
NGINX ?= /usr/sbin/nginx
$(VENV)/.nginx-installed:
	@test -x $(NGINX) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx)
	@touch $@

## The whole suite against the real PostgreSQL and Redis, browser and proxy tests included.
test: $(VENV)/.dev-installed $(VENV)/.browser-installed $(VENV)/.nginx-installed
	@$(TEST_ENV) $(BIN)/python manage.py check_services
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

## ruff, the import contracts and types (pyproject.toml: [tool.importlinter], [tool.mypy]), migrations, the API schema.
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	@$(SERVICES_ENV) $(BIN)/python manage.py check_services
	$(SERVICES_ENV) $(BIN)/python manage.py makemigrations --check --dry-run
	$(SERVICES_ENV) $(BIN)/python manage.py spectacular --fail-on-warn --validate --file /dev/null

## Benchmarks (issue 10, bench/README.md): starts its own web server, worker and feed on BENCH_PORT (8180)
## against the database speedtrade_bench on the same PostgreSQL; SMOKE=1 runs every benchmark at tiny size.
bench: $(VENV)/.dev-installed
	BENCH_PG_URL=$(patsubst %/,%,$(dir $(SERVICES_DATABASE_URL))) $(BIN)/python -m bench $(if $(SMOKE),--smoke)

## The same steps at 10 s each, for iterating on a change (results in bench/results/quick.md, not committed).
bench-quick: $(VENV)/.dev-installed
	BENCH_PG_URL=$(patsubst %/,%,$(dir $(SERVICES_DATABASE_URL))) $(BIN)/python -m bench --quick

## Services mode, one process each (docker-compose runs the same commands).
WORKER_CMD = $(SERVICES_ENV) $(BIN)/celery -A speedtrade worker --loglevel INFO --concurrency $(WORKERS)
BEAT_CMD   = $(SERVICES_ENV) $(BIN)/celery -A speedtrade beat --loglevel INFO
FEED_CMD   = $(SERVICES_ENV) $(BIN)/python manage.py run_feed $(if $(FEED_PROVIDER),--provider $(FEED_PROVIDER))
ENGINE_CMD = $(SERVICES_ENV) $(BIN)/python manage.py run_engine

## Creates the database when missing (check_services), then its tables.
migrate: $(VENV)/.runtime-installed
	$(SERVICES_ENV) $(BIN)/python manage.py check_services
	$(SERVICES_ENV) $(BIN)/python manage.py migrate --noinput

web: migrate
	$(SERVICES_ENV) $(BIN)/python manage.py serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

worker: $(VENV)/.runtime-installed
	$(WORKER_CMD)

beat: $(VENV)/.runtime-installed
	$(BEAT_CMD)

# web, worker, beat, the feed and the order engine as children of one shell. Ctrl-C reaches every process of the terminal's
# group at once (each installs its own handler): the shell only waits for them. A SIGTERM sent to the shell
# alone is passed on once. When the web server ends for any reason, the others are stopped. (make itself
# then reports the interrupt, as it does for any target stopped with Ctrl-C.)
run-services: migrate
	@echo "Starting web, worker, beat, the feed and the order engine against PostgreSQL + Redis (Ctrl-C stops all)."
	$(SERVICES_ENV) $(BIN)/python manage.py seed_demo
	@pids=""; \
	trap 'trap "" INT TERM; wait; exit 0' INT; \
	trap 'trap "" INT TERM; kill -TERM $$pids 2>/dev/null; wait; exit 0' TERM; \
	$(WORKER_CMD) & pids="$$pids $$!"; \
	$(BEAT_CMD) & pids="$$pids $$!"; \
	$(FEED_CMD) & pids="$$pids $$!"; \
	$(ENGINE_CMD) & pids="$$pids $$!"; \
	$(SERVICES_ENV) $(BIN)/python manage.py serve --demo --host $(HOST) --port $(PORT) --workers $(WORKERS) & \
	web=$$!; pids="$$pids $$web"; \
	wait $$web; status=$$?; trap "" INT TERM; kill -TERM $$pids 2>/dev/null; wait; exit $$status

lock: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip freeze --exclude-editable > constraints.txt

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache

## Market data feed (services mode): FEED_PROVIDER=simulated|alpaca|ccxt:<exchange>; stops on SIGTERM.
feed: $(VENV)/.runtime-installed
	$(FEED_CMD)

## The order engine (services mode): paper acceptance and fills, the other venues' outbox; stops on SIGTERM.
engine: $(VENV)/.runtime-installed
	$(ENGINE_CMD)

## Front-end libraries (package.json, pinned; package-lock.json) copied into static/vendor/ with their
## licences. The copies are committed: the app never needs npm or a CDN to run.
VENDOR_TMP ?= $(or $(TMPDIR),/tmp)/speedtrade-vendor
vendor:
	rm -rf $(VENDOR_TMP) && mkdir -p $(VENDOR_TMP)
	cp package.json package-lock.json $(VENDOR_TMP)/
	cd $(VENDOR_TMP) && npm ci --ignore-scripts --no-audit --no-fund
	rm -rf static/vendor && mkdir -p static/vendor/htmx static/vendor/lightweight-charts
	cp $(VENDOR_TMP)/node_modules/htmx.org/dist/htmx.min.js $(VENDOR_TMP)/node_modules/htmx.org/LICENSE static/vendor/htmx/
	cp $(VENDOR_TMP)/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js \
	   $(VENDOR_TMP)/node_modules/lightweight-charts/LICENSE\
	   static/vendor/lightweight-charts/
	cp $(VENDOR_TMP)/node_modules/htmx.org/package.json static/vendor/htmx/
	cp $(VENDOR_TMP)/node_modules/lightweight-charts/package.json static/vendor/lightweight-charts/
	@# fancy-canvas (MIT, bundled into the standalone build) ships no LICENSE file; its package.json names it.
	cp $(VENDOR_TMP)/node_modules/fancy-canvas/package.json static/vendor/lightweight-charts/fancy-canvas.package.json
	rm -rf $(VENDOR_TMP)
