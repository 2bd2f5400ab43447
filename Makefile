# Switchboard: `make run` starts the hub on the embedded defaults, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test bench check lint clean browser promtool image-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/hub run --config config.toml

# Debian's Chromium for the browser tests (Playwright cannot download its own here).
browser:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's promtool for tests/deploy (`promtool check rules`): only the binary, taken
# out of the `prometheus` package into the virtualenv, so no Prometheus service is
# installed or started on the machine.
promtool: $(BIN)/promtool
$(BIN)/promtool: | $(BIN)/python
	@echo "installing Debian's promtool for the alert-rule tests"
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  (cd "$$tmp" && apt-get download -qq prometheus 2>/dev/null || \
	    { apt-get update -qq && apt-get download -qq prometheus; }); \
	  dpkg-deb --fsys-tarfile "$$tmp"/prometheus_*.deb | tar -x -C "$$tmp" ./usr/bin/promtool; \
	  install -m 0755 "$$tmp/usr/bin/promtool" $@

test: $(VENV)/.installed-dev browser promtool
	$(BIN)/pytest -q

# Builds the image on a local Debian base, runs the stack (host network), sends
# webchat messages through the proxy, kills a hub, tears down. Needs root and
# Debian's docker.io; not part of `make test`. See docs/deploy.md.
image-test:
	bash deploy/test/image-test.sh

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.webchat_load --clients 200 --messages 50
	$(BIN)/python -m bench.cost
	$(BIN)/python -m bench.cluster --clients 100 --messages 60 --rounds 3
	$(BIN)/python -m bench.llm_load --clients 100,300,1000 --mixed 1000
	$(BIN)/python -m bench.rss

check: $(VENV)/.installed
	$(BIN)/hub check --config config.toml

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
