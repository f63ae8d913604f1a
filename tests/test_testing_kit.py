"""``hgq_fpga.checks.testing`` and the CI-facing commands: ``assert_bit_exact`` passes exact designs and
names the first wrong value and layer otherwise; the ``hgq_fpga_design`` fixture works in a user's
own pytest run; ``hgq-fpga verify --junit`` and ``hgq-fpga export-emulator`` on a design folder."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner

from hgq_fpga.backends.emulator.library import EmulatorLibrary
from hgq_fpga.app.cli import main
from hgq_fpga.app.design import build_design
from hgq_fpga.checks.design_folder import open_design
from hgq_fpga.checks.junit import write_junit
from hgq_fpga.checks.testing import assert_bit_exact
from test_verify import OffByOneLSB, _calibrated_mlp, _flip_one_weight

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

USER_TEST = '''
import numpy as np, pytest
from hgq_fpga.checks.testing import assert_bit_exact

@pytest.mark.hgq_fpga_design({design!r})
def test_firmware_is_bit_exact(hgq_fpga_design):
    assert_bit_exact(hgq_fpga_design, np.load({data!r}))   # Keras = emulator = C++
'''


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    root = tmp_path_factory.mktemp("kit")
    env = pytest.MonkeyPatch()
    env.setenv("HGQ_FPGA_CACHE", str(root / "cache"))
    model, x = _calibrated_mlp(seed=3)
    result = build_design(model, x[:200], root / "design", name="kit")
    assert result.ok
    np.save(root / "holdout.npy", x[200:])
    yield root / "design", model, x[200:], result.firmware
    env.undo()


def test_assert_bit_exact_passes_a_design_folder_and_a_model(design):
    path, model, x, fw = design
    report = assert_bit_exact(path, x)                       # Keras, emulator and the C simulation
    assert report.ok and report.emulator_vs_csim == 0 and report.samples == len(x)
    assert assert_bit_exact(open_design(path), x, csim=False).emulator_vs_csim is None
    assert assert_bit_exact(model, x).keras_vs_emulator == 0


def test_assert_bit_exact_names_the_first_value_and_layer(design):
    path, model, x, fw = design
    with pytest.raises(AssertionError) as err:
        assert_bit_exact(model, x, firmware=_flip_one_weight(fw, "hidden_acc"))
    text = str(err.value)
    assert "not bit-exact" in text and "first: sample" in text
    assert "first diverging layer: 'hidden'" in text
    # the firmware alone against another implementation: the value, and why no layer is named
    with pytest.raises(AssertionError, match=r"sample 5, output '.+' element \[1\]: emulator"):
        assert_bit_exact(fw, x, project=OffByOneLSB(fw, sample=5, element=1))
    with pytest.raises(ValueError, match="needs project="):
        assert_bit_exact(fw, x)


def test_fixture_in_a_users_own_pytest_run(design, pytester):
    path, _, _, _ = design
    pytester.makeconftest('pytest_plugins = ["hgq_fpga.checks.testing"]')
    pytester.makepyfile(test_user=USER_TEST.format(design=str(path), data=str(path.parent / "holdout.npy")))
    pytester.makepyfile(test_option='''
def test_from_the_command_line(hgq_fpga_design):
    assert hgq_fpga_design.name == "kit" and hgq_fpga_design.firmware().outputs
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", f"--hgq-fpga-design={path}")
    result.assert_outcomes(passed=2)
    # without a folder the fixture fails and says how to name one
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "test_option.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no design folder given*--hgq-fpga-design DIR*"])


def test_verify_writes_junit_and_a_failing_report_fails_there_too(design, tmp_path):
    path, model, x, fw = design
    xml = tmp_path / "ci" / "report.xml"
    result = CliRunner().invoke(main, ["verify", str(path), "--data", str(path.parent / "holdout.npy"),
                                       "--junit", str(xml)])
    assert result.exit_code == 0, result.output
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    assert [c.get("name") for c in suite.iter("testcase")] == ["Keras vs emulator", "emulator vs C++"]
    import hgq_fpga
    bad = hgq_fpga.verify(model, x, firmware=_flip_one_weight(fw, "hidden_acc"))
    suite = ET.parse(write_junit(bad, tmp_path / "bad.xml")).getroot().find("testsuite")
    assert suite.get("failures") == "1"
    failure = suite.find("testcase").find("failure")
    assert failure is not None and "first diverging layer: 'hidden'" in failure.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.xml", "ci"]      # no temp file left


def test_export_emulator_command_on_a_design_folder(design, tmp_path):
    path, _, x, fw = design
    emu = tmp_path / "emu"
    result = CliRunner().invoke(main, ["export-emulator", str(path), "--out", str(emu)])
    assert result.exit_code == 0, result.output
    assert (emu / "include" / "kit.h").is_file()             # named after the design
    make = subprocess.run(["make", "-C", str(emu), "test", "CXXFLAGS=-O1 -Werror"], capture_output=True,
                          text=True)
    assert make.returncode == 0, make.stdout + make.stderr
    assert_bit_exact(fw, x, project=EmulatorLibrary(emu))    # the library == the emulator
    again = CliRunner().invoke(main, ["export-emulator", str(path), "--out", str(emu)])
    assert again.exit_code == 1 and "replace=True" in again.output
    assert CliRunner().invoke(main, ["export-emulator", str(path), "--out", str(emu), "--force"]).exit_code == 0
