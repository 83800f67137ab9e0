# The two quick-start commands and what they stand on. Every target installs what a
# fresh machine lacks first (Debian packages, the Python package, Kafka's jars, the
# collector build), so `make up` and `make test` work on a new machine as they are.

PYTHON ?= python3
export PIP_ROOT_USER_ACTION := ignore
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := .cache/installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
# True when `import aiops` finds this checkout (an editable install of another clone does not count).
INSTALLED_HERE := $(shell $(PYTHON) -c "import aiops, pathlib; print(pathlib.Path(aiops.__file__).resolve().is_relative_to(pathlib.Path('stream-processors').resolve()))" 2>/dev/null)

.PHONY: up down test lint install system-packages python-package prepare

## Start the whole local stack and show the first points flowing.
up: install
	$(PYTHON) -m aiops stack up
	$(PYTHON) -m aiops points tail --limit 10 --idle-timeout 30

## Stop the local stack.
down:
	$(PYTHON) -m aiops stack down

## Lint (ruff, pinned in pyproject.toml), then every test tier: unit, integration (real Kafka),
## e2e (the whole local stack), and the doctests.
test: install lint
	$(PYTHON) -m pytest

## ruff's lint rules and its formatting, as pyproject.toml configures them.
lint: python-package
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

install: system-packages python-package prepare

system-packages:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null && command -v prometheus-alertmanager >/dev/null || { \
	  echo "installing Prometheus and Alertmanager from Debian's packages"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    prometheus prometheus-alertmanager >/dev/null; }
	@command -v java >/dev/null && command -v mvn >/dev/null && command -v go >/dev/null || { \
	  echo "Java 17, Maven and Go are needed (apt-get install openjdk-17-jre-headless maven golang, or Go from go.dev)"; exit 1; }

python-package:
	@if [ "$(INSTALLED_HERE)" != True ] || [ ! -f $(STAMP) ]; then \
	  echo "installing the aiops package (editable) and its dependencies"; \
	  $(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev]' && \
	  mkdir -p .cache && touch $(STAMP); fi

## Resolve Kafka's jars and build the collector (cached after the first time).
prepare: python-package
	$(PYTHON) -m aiops stack prepare
