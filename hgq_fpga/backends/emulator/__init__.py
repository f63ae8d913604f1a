"""C++ emulator export: a self-contained, bit-exact C++17 library of a firmware for software
outside Python (e.g. an experiment's trigger simulation).

>>> export_emulator("build/fw", "build/fw_emu")      # a design folder, IR folder or FirmwareModel
>>> # cd build/fw_emu && make && make test

:mod:`.export` writes the folder (reusing the HLS backend's plan and firmware templates),
:mod:`.aptypes` bundles the ap_types headers with their licence, :mod:`.library` builds a folder
and calls it from Python (tests, benchmarks).
"""

from hgq_fpga.backends.emulator.export import export_emulator, is_emulator_folder

__all__ = ["export_emulator", "is_emulator_folder"]
