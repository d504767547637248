# One entry point for set-up, the demo, tests, lint and benchmarks. Every target installs what it needs.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
APT_PACKAGES := chromium docker-compose espeak-ng pocketsphinx-testdata
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

.PHONY: install system-deps demo test test-fast lint bench

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch/torchvision first: these exact builds are the ones open_clip's torchvision works with here
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Debian packages the tests use: a browser for UI tests, compose validation, speech synthesis and
# LibriVox utterances for ASR tests. Installed only when missing.
system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; \
	fi

demo: install
	$(BIN)/mmrag index samples/files
	$(BIN)/mmrag search "a cup of coffee"
	$(BIN)/mmrag search "is the footbridge open"

test: install system-deps
	$(OFFLINE) $(BIN)/pytest -q

test-fast: install
	$(OFFLINE) $(BIN)/pytest -q -m "unit"

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/mypy core indexing retrieval rerank generation app ui

bench: install
	$(OFFLINE) $(PY) -m benchmarks.run_all
