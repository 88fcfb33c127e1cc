# counterfactory — three commands matter: `make demo`, `make check` (the fast tests: nothing renders, trains,
# starts Ray or runs a notebook) and `make test` (every test; what CI runs). Each runs `make setup` first.
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONHASHSEED := 0
export RAY_AUTH_MODE ?= disabled
export RAY_USAGE_STATS_ENABLED ?= 0

.PHONY: setup check test demo bench clean

setup:
	@bash scripts/setup.sh

# markers registered in pyproject.toml; tests/test_tiers.py checks that they are the same five
HEAVY := render or train or ray or notebook or fullsize

check: setup
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not ($(HEAVY))" tests

# every test: two at a time, except the Ray ones, which run alone after (runner.address=auto joins any Ray
# cluster on the machine, so two of them at once could meet); each part prints its 20 slowest tests
test: setup
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=20 -m "not ray" tests
	$(PY) -m pytest -q --durations=20 -m ray tests

demo: setup
	$(PY) -m datagen.assets build
	$(PY) -m datagen.demo --out demo_out
	$(PY) -m training.demo_affect --data demo_out/void --heldout demo_out/void_humans --out demo_out/affect

bench: setup
	$(PY) benchmarks/render.py

clean:
	rm -rf demo_out .pytest_cache
