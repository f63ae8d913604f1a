"""The hgq_fpga benchmark suite: ``python -m bench [--quick]`` (``make bench [QUICK=1]``).

Modules, one job each:

* :mod:`bench.data` - Fashion-MNIST from Debian's ``dataset-fashion-mnist`` (or tiny synthetic data);
* :mod:`bench.models`, :mod:`bench.uniform` - the MLP and CNN, as HGQ or uniform-width models;
* :mod:`bench.resource_study` - accuracy against exact EBOPs, HGQ against uniform widths;
* :mod:`bench.pareto` - Pareto fronts and the EBOPs ratio at matched accuracy;
* :mod:`bench.exactness` - Keras = emulator = C simulation on the whole test set;
* :mod:`bench.speed` - runs ``bench_training``, ``bench_emulator``, ``bench_csim`` and checks targets;
* :mod:`bench.machine` - what the run ran on;
* :mod:`bench.results`, :mod:`bench.plots`, :mod:`bench.report` - results.json, PNGs, BENCHMARKS.md;
* :mod:`bench.config`, :mod:`bench.suite` - the full / quick / smoke sizes and the driver.
"""
