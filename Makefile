# counterfactory — two commands matter: `make demo` and `make test` (both run `make setup` first).
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONHASHSEED := 0
export RAY_AUTH_MODE ?= disabled
export RAY_USAGE_STATS_ENABLED ?= 0

.PHONY: setup test demo bench clean

setup:
	@bash scripts/setup.sh

test: setup
	$(PY) -m pytest -q tests

demo: setup
	$(PY) -m datagen.assets build
	$(PY) -m datagen.demo --out demo_out
	$(PY) -m training.demo_affect --data demo_out/void --heldout demo_out/void_humans --out demo_out/affect

bench: setup
	$(PY) benchmarks/render.py

clean:
	rm -rf demo_out .pytest_cache
