# hgq_fpga: every target installs what it needs into .venv first (idempotent, quick when done).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.hgq_fpga-installed

.PHONY: install test test-all demo bench bench-seeds clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n 2

test-all: $(STAMP)
	$(PY) -m pytest -q -n 2 -m ''

# Train an HGQ MLP on the bundled digits, write a verified vu9p HLS project to build/demo/.
# Options go through DEMO_ARGS, e.g. `make demo DEMO_ARGS="--epochs 20"`.
DEMO_ARGS ?=
demo: $(STAMP)
	$(PY) -m hgq_fpga.demo $(DEMO_ARGS)

# Benchmarks (Fashion-MNIST from Debian's dataset-fashion-mnist): `make bench`, or `make bench QUICK=1`.
FASHION := /usr/share/datasets/fashion-mnist
bench: $(STAMP)
	@test -d $(FASHION) || apt-get install -y dataset-fashion-mnist || \
	  { echo "make bench needs Debian's dataset-fashion-mnist: run 'sudo apt-get install dataset-fashion-mnist'" >&2; exit 2; }
	$(PY) -m bench $(if $(QUICK),--quick,)

# The resource study over 3 seeds on the sweep engine (Dask, one worker per core), resumable:
# `make bench-seeds` or `make bench-seeds QUICK=1`; results in build/bench_seeds/seeded_study.json.
bench-seeds: $(STAMP)
	@test -d $(FASHION) || apt-get install -y dataset-fashion-mnist || \
	  { echo "make bench-seeds needs Debian's dataset-fashion-mnist" >&2; exit 2; }
	$(PY) -m bench.seeded_study $(if $(QUICK),--quick,)

clean:
	rm -rf build dist *.egg-info .pytest_cache
