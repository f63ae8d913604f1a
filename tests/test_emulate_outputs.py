"""``hgq-fpga emulate`` on a design with several outputs: one ``.npz`` array per output, named as
the firmware IR names its outputs; ``.npy`` stays the format of a single output."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

import hgq_fpga
from hgq_fpga.app.cli import main
from hgq_fpga.checks.design_folder import FIRMWARE_DIR, MANIFEST, MANIFEST_FORMAT, MANIFEST_VERSION
from hgq_fpga.nn.layers import HDense, HQuantize


@pytest.fixture(scope="module")
def two_output_design(tmp_path_factory):
    """A design folder (run record + firmware IR: all that emulate reads) of a two-headed model."""
    root = tmp_path_factory.mktemp("emulate")
    keras.utils.set_random_seed(1)
    inp = keras.Input((6,))
    hidden = HDense(5, activation="relu")(HQuantize()(inp))
    model = keras.Model(inp, [HDense(3, name="head_a")(hidden), HDense(2, name="head_b")(hidden)])
    x = np.random.default_rng(1).normal(size=(64, 6)).astype(np.float32)
    hgq_fpga.calibrate(model, x)
    fw = hgq_fpga.to_firmware(model)
    design = root / "design"
    fw.save(design / FIRMWARE_DIR)
    (design / MANIFEST).write_text(json.dumps({"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION,
                                               "name": "two", "firmware": FIRMWARE_DIR, "backends": {}}))
    np.save(root / "x.npy", x)
    return design, root, fw, x


def test_several_outputs_go_to_one_npz_array_each(two_output_design):
    design, root, fw, x = two_output_design
    assert len(fw.outputs) == 2
    result = CliRunner().invoke(main, ["emulate", str(design), "--data", str(root / "x.npy"),
                                       "--out", str(root / "pred.npz")])
    assert result.exit_code == 0, result.output
    saved = np.load(root / "pred.npz")
    assert saved.files == list(fw.outputs)             # named and ordered as the firmware's outputs
    for name, expected in zip(fw.outputs, fw.predict(x)):
        assert np.array_equal(saved[name], expected)
    assert [saved[n].shape for n in saved.files] == [(64, 3), (64, 2)]
    assert not list(root.glob(".pred*"))                # no partial file left


def test_several_outputs_refuse_npy_and_say_what_to_write(two_output_design):
    design, root, fw, _ = two_output_design
    result = CliRunner().invoke(main, ["emulate", str(design), "--data", str(root / "x.npy"),
                                       "--out", str(root / "pred.npy")])
    assert result.exit_code == 1
    assert "has 2 outputs" in result.output and "pred.npz" in result.output
    assert not (root / "pred.npy").exists()
    bad = CliRunner().invoke(main, ["emulate", str(design), "--data", str(root / "x.npy"),
                                    "--out", str(root / "pred.txt")])
    assert bad.exit_code == 1 and "must end in .npy (one output) or .npz" in bad.output
