"""Built-in boards, aliases, user YAML files and the errors for unknown boards."""

import pytest

from hgq_fpga.backends.common.board import UnknownBoardError, known_boards, load_board

REQUIRED_BOARDS = {"vu9p", "vu13p", "ku115", "zcu102", "pynq-z2", "alveo-u250"}


def test_every_required_board_is_built_in():
    assert REQUIRED_BOARDS <= set(known_boards())


def test_vu9p_is_the_hgq_part():
    board = load_board("vu9p")
    assert board.part == "xcvu9p-flga2104-2L-e"
    assert board.resources["DSP"] == 6840


@pytest.mark.parametrize("name", ["VU9P", "xcvu9p", "xcvu9p-flga2104-2L-e"])
def test_names_aliases_and_parts_resolve(name):
    assert load_board(name).name == "vu9p"


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(UnknownBoardError) as err:
        load_board("vu99")
    message = str(err.value)
    assert "vu99" in message
    for name in REQUIRED_BOARDS:
        assert name in message


def test_user_yaml_file(tmp_path):
    path = tmp_path / "myboard.yaml"
    path.write_text(
        "part: xc7a35tcpg236-1\nfamily: artix7\nclock_period_ns: 10\nclock_uncertainty: '12.5%'\n"
        "resources: {LUT: 20800, FF: 41600, DSP: 90, BRAM_18K: 100}\n")
    board = load_board(path)
    assert (board.name, board.part, board.resources["DSP"]) == ("myboard", "xc7a35tcpg236-1", 90)
    assert board.utilisation({"DSP": 45}) == {"DSP": 0.5}


def test_user_yaml_missing_fields_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("part: xc7a35t\n")
    with pytest.raises(UnknownBoardError, match="family"):
        load_board(path)


def test_missing_user_file_is_named(tmp_path):
    with pytest.raises(UnknownBoardError, match="does not exist"):
        load_board(tmp_path / "nope.yaml")


#: name -> (part, family, LUT, FF, DSP, BRAM_18K) from the AMD data sheets.
DATASHEET = {
    "vu9p": ("xcvu9p-flga2104-2L-e", "virtexuplus", 1182240, 2364480, 6840, 4320),
    "vu13p": ("xcvu13p-flga2577-2-e", "virtexuplus", 1728000, 3456000, 12288, 5376),
    "ku115": ("xcku115-flvb2104-2-e", "kintexu", 663360, 1326720, 5520, 4320),
    "zcu102": ("xczu9eg-ffvb1156-2-e", "zynquplus", 274080, 548160, 2520, 1824),
    "pynq-z2": ("xc7z020clg400-1", "zynq", 53200, 106400, 220, 280),
    "alveo-u250": ("xcu250-figd2104-2L-e", "virtexuplus", 1728000, 3456000, 12288, 5376),
}


@pytest.mark.parametrize("name", sorted(DATASHEET))
def test_board_fields_match_the_data_sheet(name):
    board = load_board(name)
    part, family, lut, ff, dsp, bram = DATASHEET[name]
    assert (board.part, board.family) == (part, family)
    assert {k: board.resources[k] for k in ("LUT", "FF", "DSP", "BRAM_18K")} == \
        {"LUT": lut, "FF": ff, "DSP": dsp, "BRAM_18K": bram}
    assert 1.0 <= board.clock_period_ns <= 10.0
    assert board.clock_uncertainty.endswith("%") and float(board.clock_uncertainty[:-1]) > 0
