"""Firmware backends: each turns a :class:`hgq_fpga.ir.model.FirmwareModel` into a project for a tool.

* :mod:`.registry` - the one interface: ``get_backend(name)``, the ``Backend`` and ``Project``
  protocols, and ``register_backend`` for a backend of another package;
* :mod:`.common` - what every backend shares: boards and the clock check, the C++ toolchain and its
  build cache, the ``ap_types`` headers, the jinja2 templates, the synthesis figures;
* :mod:`.hls` - ``hls``: Vitis HLS C++ with ``ap_fixed`` types, and its C simulation;
* :mod:`.rtl` - ``rtl``: pipelined Verilog (constant weights as adder graphs), its Verilator simulation and Yosys synthesis;
* :mod:`.emulator` - ``cpp``: a standalone C++ emulator library for software outside Python.

Backends read only the IR: they never import Keras or TensorFlow.
"""
