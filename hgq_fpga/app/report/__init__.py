"""Reports of a converted design: ``report.md``, ``report.json`` and PNG figures.

* :func:`summarize` - per-layer bit widths, pruning, EBOPs and latency from the firmware IR;
* :func:`write_report` - the report files of a design (with training and synthesis data if known);
* :mod:`hgq_fpga.pareto` - the accuracy/EBOPs front of a training run and the model choice;
* :mod:`hgq_fpga.app.report.console` - the rich summary table printed by ``make demo`` and the CLI.

Only numpy and matplotlib are needed: no Keras or TensorFlow import happens here.
"""

from hgq_fpga.pareto import ParetoPoint, choose, front_from_checkpoint
from hgq_fpga.app.report.stats import BitStats, DesignStats, LayerStats, summarize
from hgq_fpga.app.report.writer import write_report

__all__ = ["summarize", "write_report", "DesignStats", "LayerStats", "BitStats", "ParetoPoint",
           "choose", "front_from_checkpoint"]
