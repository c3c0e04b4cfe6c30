# One command to see it (`make demo`), one to prove it (`make test`). Both install what is
# missing first: Debian packages, a virtualenv with requirements.txt, Kafka's jars from Maven,
# Prometheus' promtool (unpacked from Debian's package; it tests docs/prometheus-rules.yml).
# `make test` also installs requirements-dev.txt and runs the lint, format and type checks
# (`make check`) before the tests: any finding fails it.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
DEV_STAMP := $(VENV)/.dev-requirements-installed

.PHONY: install system-packages demo check test unit clean-state vendor

install: $(STAMP) system-packages
	@$(PY) -m localkafka jars
	@$(PY) -m localkafka promtool >/dev/null

system-packages:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
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

# Checks first; then four passes at the same time (tests/all_passes.py): integration tests on SQLite
# and on a throwaway PostgreSQL (each in two processes), browser tests, unit tests. Each process has its
# own broker, Redis and worker, and much of a pass is spent waiting on them, so they share two cores well.
test: install check
	@$(PY) tests/all_passes.py

unit: $(STAMP)
	@$(PY) -m pytest tests/unit

clean-state:
	@$(PY) -m localkafka stop --all || true
	rm -rf .localkafka

# Scripts vendored (committed) from npm, so pages and tests need no CDN: `make vendor` re-fetches exactly
# these pinned packages and refuses one unless its sha512 matches the integrity npm published.
# $(call npm_vendor,package,version,integrity,directory,files inside the package)
define npm_vendor
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	tgz="$$tmp/$(1)-$(2).tgz" && \
	(cd "$$tmp" && npm pack --silent "$(1)@$(2)" >/dev/null) && \
	got=$$(node -e 'const c = require("crypto"), fs = require("fs"); \
	  process.stdout.write("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$$tgz") && \
	if [ "$$got" != "$(3)" ]; then \
	  echo "$(1)@$(2) from npm has integrity $$got, expected $(3): not vendored."; exit 1; \
	fi && \
	tar -xzf "$$tgz" -C "$$tmp" && mkdir -p $(4) && \
	(cd "$$tmp/package" && cp $(5) "$(CURDIR)/$(4)/") && \
	(cd $(4) && sha256sum $(notdir $(5)) > SHA256SUMS) && \
	echo "Vendored $(1)@$(2) ($(3)) into $(4); git diff shows what changed."
endef

# The charting library, served with the pages.
UPLOT_VERSION := 1.6.32
UPLOT_INTEGRITY := sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==
UPLOT_DIR := groups/static/groups/vendor/uplot-$(UPLOT_VERSION)
# The API's browsable docs at /api/docs/ (groups/api/docs.py).
SWAGGER_UI_VERSION := 5.35.0
SWAGGER_UI_INTEGRITY := sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
SWAGGER_UI_DIR := groups/static/groups/vendor/swagger-ui-$(SWAGGER_UI_VERSION)
# The accessibility checker the browser tests inject into every page; never served by the console.
AXE_VERSION := 4.14.1
AXE_INTEGRITY := sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==
AXE_DIR := tests/browser/vendor/axe-core-$(AXE_VERSION)

vendor:
	$(call npm_vendor,uplot,$(UPLOT_VERSION),$(UPLOT_INTEGRITY),$(UPLOT_DIR),dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE)
	$(call npm_vendor,swagger-ui-dist,$(SWAGGER_UI_VERSION),$(SWAGGER_UI_INTEGRITY),$(SWAGGER_UI_DIR),swagger-ui-bundle.js swagger-ui.css swagger-ui.css.map LICENSE NOTICE)
	$(call npm_vendor,axe-core,$(AXE_VERSION),$(AXE_INTEGRITY),$(AXE_DIR),axe.min.js LICENSE)
