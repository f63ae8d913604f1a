"""II > 1 in the HLS backend: the top function's PIPELINE pragma and each Dense/Conv's multiplier
allocation follow ``ii`` (as hls4ml's reuse factor does), and the C simulation still equals the
emulator bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hgq_fpga.backends.hls.writer import write_project
from test_hls_csim import _data, arch_conv, arch_mlp


def test_pipeline_and_allocation_follow_ii_and_csim_equals_the_emulator(tmp_path):
    rng = np.random.default_rng(3)
    fw = arch_mlp(rng)
    dense = [op for op in fw.ops if op.kind == "dense"]
    prj = write_project(fw, tmp_path / "p", ii=4)
    cpp = (prj.path / "firmware" / "myproject.cpp").read_text()
    assert "#pragma HLS PIPELINE II=4" in cpp and "PIPELINE II=1" not in cpp
    assert cpp.count("#pragma HLS ALLOCATION operation instances=mul limit=") == len(dense)
    assert json.loads((prj.path / "project.json").read_text())["ii"] == 4
    assert "initiation interval 4" in (prj.path / "README.md").read_text()
    prj.compile()
    for x in _data(fw, rng, 100):
        assert np.array_equal(prj.predict(x), fw.predict(x))


def test_per_layer_ii_pipelines_the_top_at_the_largest(tmp_path):
    fw = arch_conv(np.random.default_rng(4), 1, "same", 1)
    conv = next(op.name for op in fw.ops if op.kind == "conv")
    prj = write_project(fw, tmp_path / "p", ii={conv: 3})
    assert "#pragma HLS PIPELINE II=3" in (prj.path / "firmware" / "myproject.cpp").read_text()
    with pytest.raises(ValueError, match="ii names layer 'nope'"):
        write_project(fw, tmp_path / "q", ii={"nope": 2})
    assert not (tmp_path / "q").exists()
