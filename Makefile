# hgq_fpga: every target installs what it needs into .venv first (idempotent, quick when done).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.hgq_fpga-installed

.PHONY: install install-rtl-tools test test-all demo demo-particles verify report docs bench bench-seeds clean

$(STAMP): pyproject.toml requirements-qkeras.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip 'setuptools>=77'   # 77: SPDX licence strings (pyproject.toml)
	$(PY) -m pip install --quiet -e '.[dev,jax]'   # jax: tests/test_keras_backends.py trains under JAX too
	# QKeras 0.9 for the importer, without its declared dependencies (see requirements-qkeras.txt)
	$(PY) -m pip install --quiet --no-deps -r requirements-qkeras.txt
	touch $(STAMP)

install: $(STAMP)

# Verilator and Yosys for the RTL backend (hgq_fpga.backends.rtl), pinned Debian 12 packages.
# Installed with apt-get when missing and we are root; otherwise a message says what to run.
RTL_TOOLS := verilator=5.006-3 yosys=0.23-6
install-rtl-tools:
	@if command -v verilator >/dev/null 2>&1 && command -v yosys >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(RTL_TOOLS); \
	else \
	  echo "Error: the RTL backend needs Verilator and Yosys: run 'sudo apt-get install $(RTL_TOOLS)' (Debian 12)" >&2; exit 2; \
	fi

test: $(STAMP) install-rtl-tools
	$(PY) -m pytest -q -n 2 --durations=25   # the slowest cases, to keep CI under 20 minutes

test-all: $(STAMP) install-rtl-tools
	$(PY) -m pytest -q -n 2 -m ''

# Train an HGQ MLP on the bundled digits, write verified vu9p firmware to build/demo/ (HLS project,
# and RTL in build/demo/rtl/ synthesized with Yosys). Options go through DEMO_ARGS, e.g.
# `make demo DEMO_ARGS="--epochs 20"` or DEMO_ARGS="--backend hls" (no Verilator/Yosys needed).
DEMO_ARGS ?=
demo: $(STAMP) install-rtl-tools
	$(PY) -m hgq_fpga.app.demo $(DEMO_ARGS)

# The CLI from a fresh shell, without activating .venv:
#   make verify DIR=build/demo DATA=build/demo/data/test.npz ARRAY=x
#   make report DIR=build/demo
verify: $(STAMP)
	@test -n "$(DIR)" -a -n "$(DATA)" || { echo "Error: usage: make verify DIR=<design folder> DATA=<file> [ARRAY=<name>]" >&2; exit 2; }
	$(VENV)/bin/hgq-fpga verify $(DIR) --data $(DATA) $(if $(ARRAY),--array $(ARRAY),)

report: $(STAMP)
	@test -n "$(DIR)" || { echo "Error: usage: make report DIR=<design folder>" >&2; exit 2; }
	$(VENV)/bin/hgq-fpga report $(DIR)

# The manuals (README.md, docs/*.md) and the API reference from the docstrings (pdoc, from the dev extra)
# into build/docs/ (generated, not checked in): `make docs`, then open build/docs/index.html. Fails if
# pdoc warns (a module that does not import, a broken docstring or annotation).
DOCS_DIR ?= build/docs
docs: $(STAMP)
	$(PY) docs/api.py $(DOCS_DIR)

# Benchmarks (Fashion-MNIST from Debian's dataset-fashion-mnist): `make bench`, or `make bench QUICK=1`.
FASHION := /usr/share/datasets/fashion-mnist
bench: $(STAMP)
	@test -d $(FASHION) || apt-get install -y dataset-fashion-mnist || \
	  { echo "Error: make bench needs Debian's dataset-fashion-mnist: run 'sudo apt-get install dataset-fashion-mnist'" >&2; exit 2; }
	$(PY) -m bench suite $(if $(QUICK),--quick,)

# The resource study over 3 seeds on the sweep engine (Dask, one worker per core), resumable:
# `make bench-seeds` (full: its finished runs are committed in bench/studies/seeded_full/runs/, so later
# sittings resume; stored in bench/results.json) or `make bench-seeds QUICK=1` (runs, results.json and
# BENCHMARKS.md in build/bench_seeds/).
bench-seeds: $(STAMP)
	@test -d $(FASHION) || apt-get install -y dataset-fashion-mnist || \
	  { echo "Error: make bench-seeds needs Debian's dataset-fashion-mnist" >&2; exit 2; }
	$(PY) -m bench run $(if $(QUICK),seeded --preset quick --out build/bench_seeds,seeded_full)

clean:
	rm -rf build dist *.egg-info .pytest_cache

# A Deep Sets jet tagger on the toy jets (synthetic, examples/particles/data.py): trained with the HGQ
# recipe, verified Keras = emulator = C++ on the test split, written to build/particles/deep_sets.
PARTICLE_ARGS ?=
demo-particles: $(STAMP)
	$(PY) -m examples.particles.train deep_sets --events 6000 --epochs 20 --out build/particles/deep_sets $(PARTICLE_ARGS)
