# One command to see it (`make demo`), one to prove it (`make test`). Both install what is
# missing first: Debian packages, a virtualenv with requirements.txt, Kafka's jars from Maven.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := redis-server chromium kcat
STAMP := $(VENV)/.requirements-installed

.PHONY: install system-packages demo test unit clean-state

install: $(STAMP) system-packages
	@$(PY) -m localkafka jars

system-packages:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v kcat >/dev/null || missing="$$missing kcat"; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

demo: install
	@$(PY) -m localkafka.demo run

test: install
	@$(PY) -m pytest

unit: $(STAMP)
	@$(PY) -m pytest tests/unit

clean-state:
	@$(PY) -m localkafka stop --all || true
	rm -rf .localkafka
