"""The hgq_fpga benchmarks (bench/README.md): ``python -m bench suite [--quick]`` (``make bench``),
``python -m bench run NAME``, ``python -m bench render``.

* :mod:`bench.studies` - one package per study: its run, its BENCHMARKS.md section, its figures;
* :mod:`bench.common` - what studies share (data, models, training, statistics, the store, figures);
* :mod:`bench.contenders` - the peer tools compared against (HGQ2, alkaid, QKeras), in their own venvs;
* :mod:`bench.render` - BENCHMARKS.md from bench/results.json, the one store of every number;
* :mod:`bench.suite`, :mod:`bench.cli` - the suite's run and the commands.
"""
