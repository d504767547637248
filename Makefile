# One entry point for set-up, the demo, tests, lint and benchmarks. Every target installs what it needs.
#   make demo   lean install (what the CLI, API and UI need), then index and search samples/files
#   make test   + the test extra and the Debian packages the tests use, then the whole suite offline
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

# torch/torchvision go first, pinned to builds that work together and with open_clip. On aarch64 PyPI has a
# CPU build (~0.7 GB). On x86_64 the only torchvision that imports is the one built against PyPI's CUDA torch
# (~5.5 GB with its nvidia-* libraries): the CPU torch wheel has no matching torchvision on PyPI
# (torchvision::nms is missing), and PyTorch's own CPU index is not reachable from every machine.
# Override with e.g. `make demo TORCH="torch==2.9.1 torchvision==0.24.1 --index-url https://download.pytorch.org/whl/cpu"`.
ifeq ($(shell uname -m),aarch64)
TORCH ?= torch==2.9.1 torchvision==0.24.1
else
TORCH ?= torch==2.14.1 torchvision==0.29.1
endif

# Debian packages the tests use, and why (installed only when missing; root or sudo only then).
APT_WHY := \
  chromium:the_UI_tests_drive_Streamlit_in_a_headless_browser \
  docker-compose:the_compose_tests_validate_docker-compose.yml_offline \
  espeak-ng:the_speech_tests_synthesise_known_sentences \
  pocketsphinx-testdata:the_ASR_tests_transcribe_real_LibriVox_utterances
APT_PACKAGES := $(foreach p,$(APT_WHY),$(firstword $(subst :, ,$(p))))

.PHONY: install install-test system-deps demo test test-fast lint bench

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test,lint,llm]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || printf '%s ' $$p; done); \
	missing=$${missing% }; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "make test needs these Debian packages, which are missing:"; \
	for item in $(APT_WHY); do p=$${item%%:*}; case " $$missing " in *" $$p "*) \
	  echo "  $$p: $$(echo $${item#*:} | tr _ ' ')";; esac; done; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo=sudo; else \
	  echo "not root and no sudo: run  apt-get install -y $$missing  as root, then make test again"; exit 1; fi; \
	echo "installing with: $$sudo apt-get install -y $$missing"; \
	$$sudo apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q $$missing >/dev/null

demo: install
	$(BIN)/mmrag index samples/files
	$(BIN)/mmrag search "a cup of coffee"
	$(BIN)/mmrag search "is the footbridge open"

# Tests that need the big evaluation sets (marker eval_data) run when $$MMRAG_EVAL_DATA or ../shared/data
# holds them, and are deselected with one line saying why otherwise.
test: install-test system-deps
	$(OFFLINE) $(BIN)/pytest -q

test-fast: install-test system-deps
	$(OFFLINE) $(BIN)/pytest -q -m "unit"

lint: install-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/mypy core indexing retrieval rerank generation evaluation app ui

bench: install
	$(PY) -m pip install -q -e '.[bench]'
	$(OFFLINE) $(PY) -m benchmarks.run_all
