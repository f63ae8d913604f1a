"""What a user runs: the ``hgq-fpga`` command line, design folders, the demo, data files and
reports. The top of the import graph: it may use every other part of hgq_fpga."""
