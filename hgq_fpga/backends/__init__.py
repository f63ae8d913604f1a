"""Firmware backends: each turns a :class:`hgq_fpga.ir.FirmwareModel` into a project for a tool.

* :mod:`.common` - what every backend shares: boards, the C++ toolchain, atomic folder writes;
* :mod:`.hls` - Vitis / Vivado HLS C++ with ``ap_fixed`` types, and its C simulation.

Backends read only the IR: they never import Keras or TensorFlow.
"""
