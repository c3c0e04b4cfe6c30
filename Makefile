# One command to see it (`make demo`), one to prove it (`make test`). Both install what is
# missing first: Debian packages, a virtualenv with requirements.txt, Kafka's jars from Maven.
# `make test` also installs requirements-dev.txt and runs the lint, format and type checks
# (`make check`) before the tests: any finding fails it.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := redis-server chromium kcat postgresql
STAMP := $(VENV)/.requirements-installed
DEV_STAMP := $(VENV)/.dev-requirements-installed

.PHONY: install system-packages demo check test unit clean-state vendor vendor-uplot vendor-swagger-ui

install: $(STAMP) system-packages
	@$(PY) -m localkafka jars

system-packages:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v kcat >/dev/null || missing="$$missing kcat"; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

$(DEV_STAMP): requirements-dev.txt $(STAMP)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $(DEV_STAMP)

demo: install
	@$(PY) -m localkafka.demo run

check: $(DEV_STAMP)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy groups console

# Checks first; unit tests once; then integration tests on SQLite (with the browser tests) and on a
# throwaway PostgreSQL at the same time: each pass has its own broker, Redis and worker, and most of
# a pass is spent waiting on them, so two passes share two cores well. The PostgreSQL pass's output
# is kept in a file and printed after the SQLite pass's.
test: install check
	@$(PY) -m pytest tests/unit
	@$(PY) tests/both_databases.py

unit: $(STAMP)
	@$(PY) -m pytest tests/unit

clean-state:
	@$(PY) -m localkafka stop --all || true
	rm -rf .localkafka

# The charting library, vendored (committed) so pages need no CDN; `make vendor` re-fetches exactly
# this pinned package from npm and refuses it unless its sha512 matches the integrity npm published.
UPLOT_VERSION := 1.6.32
UPLOT_INTEGRITY := sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==
UPLOT_DIR := groups/static/groups/vendor/uplot-$(UPLOT_VERSION)
# The API's browsable docs at /api/docs/ (groups/api/docs.py), vendored the same way.
SWAGGER_UI_VERSION := 5.35.0
SWAGGER_UI_INTEGRITY := sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
SWAGGER_UI_DIR := groups/static/groups/vendor/swagger-ui-$(SWAGGER_UI_VERSION)

vendor: vendor-uplot vendor-swagger-ui

vendor-uplot:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	tgz="$$tmp/uplot-$(UPLOT_VERSION).tgz" && \
	(cd "$$tmp" && npm pack --silent "uplot@$(UPLOT_VERSION)" >/dev/null) && \
	got=$$(node -e 'const c = require("crypto"), fs = require("fs"); \
	  process.stdout.write("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$$tgz") && \
	if [ "$$got" != "$(UPLOT_INTEGRITY)" ]; then \
	  echo "uplot@$(UPLOT_VERSION) from npm has integrity $$got, expected $(UPLOT_INTEGRITY): not vendored."; exit 1; \
	fi && \
	tar -xzf "$$tgz" -C "$$tmp" && mkdir -p $(UPLOT_DIR) && \
	cp "$$tmp/package/dist/uPlot.iife.min.js" "$$tmp/package/dist/uPlot.min.css" "$$tmp/package/LICENSE" $(UPLOT_DIR)/ && \
	(cd $(UPLOT_DIR) && sha256sum uPlot.iife.min.js uPlot.min.css LICENSE > SHA256SUMS) && \
	echo "Vendored uplot@$(UPLOT_VERSION) ($(UPLOT_INTEGRITY)) into $(UPLOT_DIR); git diff shows what changed."

vendor-swagger-ui:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	tgz="$$tmp/swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz" && \
	(cd "$$tmp" && npm pack --silent "swagger-ui-dist@$(SWAGGER_UI_VERSION)" >/dev/null) && \
	got=$$(node -e 'const c = require("crypto"), fs = require("fs"); \
	  process.stdout.write("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$$tgz") && \
	if [ "$$got" != "$(SWAGGER_UI_INTEGRITY)" ]; then \
	  echo "swagger-ui-dist@$(SWAGGER_UI_VERSION) from npm has integrity $$got, expected $(SWAGGER_UI_INTEGRITY): not vendored."; exit 1; \
	fi && \
	tar -xzf "$$tgz" -C "$$tmp" && mkdir -p $(SWAGGER_UI_DIR) && \
	cp "$$tmp/package/swagger-ui-bundle.js" "$$tmp/package/swagger-ui.css" "$$tmp/package/LICENSE" "$$tmp/package/NOTICE" $(SWAGGER_UI_DIR)/ && \
	(cd $(SWAGGER_UI_DIR) && sha256sum swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE > SHA256SUMS) && \
	echo "Vendored swagger-ui-dist@$(SWAGGER_UI_VERSION) ($(SWAGGER_UI_INTEGRITY)) into $(SWAGGER_UI_DIR); git diff shows what changed."
