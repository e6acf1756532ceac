# qwengraph developer entry points. Every target sets up what it needs from scratch.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCAL_STAMP := $(VENV)/.installed-local
SMOKE_MODEL ?= qwen2.5-coder-0.5b
PACKAGES := agents tools graphs prompts
DEMO_PROMPT ?= A company's revenue grows 15% a year from \$$2M in 2020. Will it reach \$$5M by 2025? If not, what yearly growth rate would it need?

.PHONY: setup setup-local setup-transformers setup-ray system-deps test test-ray lint demo demo-replay smoke doctor clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	# BFCL's own checker and harness code, for the tests that prove ours agree with it. --no-deps:
	# its dependencies are every provider SDK, and its checker is only read, never imported at run time.
	$(BIN)/python -m pip install -q --no-deps bfcl-eval==2026.3.23
	touch $(STAMP)

setup: $(STAMP)

## setup-local: the in-process llama.cpp engine (compiles once, ~10 min on 2 cores; pip caches the wheel)
$(LOCAL_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e ".[dev,local]"
	touch $(LOCAL_STAMP)

setup-local: $(LOCAL_STAMP)

## setup-transformers: the in-process Transformers engine on the CPU build of torch, installed first
## so the extra's torch requirement is already met (PyPI's default Linux build is CUDA, several GB).
## The +cpu build comes from the PyTorch index: TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_CPU ?= torch==2.13.0+cpu
TORCH_INDEX ?=
setup-transformers: setup
	$(BIN)/python -m pip install -q "$(TORCH_CPU)" $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -e ".[dev,transformers]"

## setup-ray: the Ray executor of `qwengraph batch` (the ray extra, ~240 MB; not in the dev setup)
RAY_STAMP := $(VENV)/.installed-ray
$(RAY_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e ".[dev,ray]"
	touch $(RAY_STAMP)

setup-ray: $(RAY_STAMP)

## system-deps: bubblewrap (code-runner sandbox), PostgreSQL (memory suite), Graphviz (graph drawings), Chromium (trace browser test), via apt when root
system-deps:
	@if command -v bwrap >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v dot >/dev/null && command -v chromium >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap postgresql graphviz chromium >/dev/null; \
	else echo "note: without bubblewrap, postgresql, graphviz and chromium the sandbox, PostgreSQL, SVG drawing and trace-browser tests are skipped"; fi

## test: the offline test suite (replayed cassettes; no model server, no network)
test: setup system-deps
	$(BIN)/pytest

## test-ray: `batch --executor ray` on a real local Ray cluster (slow; make test skips it without Ray)
test-ray: setup-ray
	$(BIN)/pytest tests/batch/test_ray.py -p no:cacheprovider

## lint: ruff (lint + format) and mypy strict on the four packages
lint: setup
	$(BIN)/ruff check $(PACKAGES) tests
	$(BIN)/ruff format --check $(PACKAGES) tests
	$(BIN)/mypy

## demo: install the embedded local model (once) and run a real agent on it
demo: setup-local
	$(BIN)/qwengraph models install qwen2.5-coder-1.5b
	$(BIN)/qwengraph run "$(DEMO_PROMPT)"

## demo-replay: the recorded demo, offline in seconds: no compile, no model download
demo-replay: setup
	$(BIN)/qwengraph run "$(DEMO_PROMPT)" --replay tests/cassettes/local/demo_worked_stream.json

## smoke: real agent runs on the real local engine (0.5B model): fails on a crash or a wrong answer
smoke: setup-local
	$(BIN)/qwengraph models install $(SMOKE_MODEL)
	$(BIN)/qwengraph doctor --model local:$(SMOKE_MODEL)
	QWENGRAPH_SMOKE_MODEL=local:$(SMOKE_MODEL) $(BIN)/pytest -m live tests/smoke -p no:cacheprovider

## doctor: check this machine for the main job
doctor: setup
	$(BIN)/qwengraph doctor

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
