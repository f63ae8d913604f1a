"""The HLS backend as the registry knows it (:mod:`hgq_fpga.backends.registry`)."""

from __future__ import annotations

from pathlib import Path

from hgq_fpga.backends.hls.project import HLSProject
from hgq_fpga.backends.hls.writer import write_project


class HLSBackend:
    """Vitis HLS C++ with ``ap_fixed`` types; the C simulation is compiled with g++.

    Projects it writes or opens build exactly the text HLS synthesises (``macs="ap_fixed"``), so a
    verification checks what goes to the FPGA; ``synth`` runs Vitis HLS, which a design leaves to
    the user (``make synth`` in the project: hours, and a licence).
    """

    name = "hls"
    description = "Vitis HLS C++ (ap_fixed), C simulation with g++"
    synth_in_design = False

    def write_project(self, fw, out_dir: str | Path, **options) -> HLSProject:
        options.setdefault("macs", "ap_fixed")
        return write_project(fw, out_dir, **options)

    def open_project(self, fw, path: str | Path) -> HLSProject:
        return HLSProject(fw, path, macs="ap_fixed")

    def require_tools(self, synth: bool = False) -> None:
        from hgq_fpga.backends.common.toolchain import find_ap_types_include, find_compiler

        find_compiler()
        find_ap_types_include()
        if synth:
            from hgq_fpga.backends.hls.synth import find_hls_tool

            find_hls_tool()


BACKEND = HLSBackend()
