"""Output folders: the last step is atomic against what is at the destination at that moment, a
folder hgq_fpga did not write is never replaced, and staging folders of killed runs are cleaned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from hgq_fpga.folders import (StaleStagingRemoved, move_into_place, observe, remove_stale_staging,
                              staging_folder)
from hgq_fpga.ir import FirmwareBuilder

ROOT = Path(__file__).resolve().parents[1]


def ours(path: Path) -> bool:
    return (Path(path) / "MINE").is_file()


def write_output(folder: Path, text: str) -> None:
    (folder / "MINE").write_text(text)


def test_new_folder_is_placed(tmp_path):
    out = tmp_path / "out"
    seen = observe(out)
    with staging_folder(out) as s:
        write_output(s, "new")
        move_into_place(s, out, seen=seen, ours=ours)
    assert (out / "MINE").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]      # no staging folder or lock left


@pytest.mark.parametrize("appears", ["user folder", "empty folder", "file"])
def test_destination_that_appears_during_the_run_is_kept(tmp_path, appears):
    out = tmp_path / "out"
    seen = observe(out)
    with staging_folder(out) as s:
        write_output(s, "new")
        if appears == "user folder":
            out.mkdir()
            (out / "thesis.tex").write_text("years of work")
        elif appears == "empty folder":
            out.mkdir()
        else:
            out.write_text("a file")
        with pytest.raises(FileExistsError, match="appeared while"):
            move_into_place(s, out, seen=seen, ours=ours)
    if appears == "user folder":
        assert (out / "thesis.tex").read_text() == "years of work"
    elif appears == "empty folder":
        assert out.is_dir() and not any(out.iterdir())
    else:
        assert out.read_text() == "a file"


def test_second_of_two_concurrent_writers_fails(tmp_path):
    out = tmp_path / "out"
    seen_a, seen_b = observe(out), observe(out)
    with staging_folder(out) as a, staging_folder(out) as b:
        write_output(a, "a")
        write_output(b, "b")
        move_into_place(a, out, seen=seen_a, ours=ours)
        with pytest.raises(FileExistsError):
            move_into_place(b, out, seen=seen_b, ours=ours)
    assert (out / "MINE").read_text() == "a"


def test_earlier_output_is_replaced_in_one_step(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    write_output(out, "old")
    seen = observe(out)
    with staging_folder(out) as s:
        write_output(s, "new")
        move_into_place(s, out, seen=seen, ours=ours)
    assert (out / "MINE").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_foreign_folder_swapped_in_during_the_run_is_put_back(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    write_output(out, "old")
    seen = observe(out)
    with staging_folder(out) as s:
        write_output(s, "new")
        os.rename(out, tmp_path / "moved")
        out.mkdir()
        (out / "thesis.tex").write_text("years of work")
        for force in (False, True):
            with pytest.raises(FileExistsError, match="not written by hgq_fpga"):
                move_into_place(s, out, seen=seen, ours=ours, force=force)
            assert (out / "thesis.tex").read_text() == "years of work" and not (out / "MINE").exists()
            assert (s / "MINE").read_text() == "new"


def test_other_output_written_during_the_run_needs_force(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    write_output(out, "old")
    seen = observe(out)
    with staging_folder(out) as s:
        write_output(s, "new")
        os.rename(out, tmp_path / "moved")
        out.mkdir()
        write_output(out, "other run")
        with pytest.raises(FileExistsError, match="appeared while"):
            move_into_place(s, out, seen=seen, ours=ours)
        assert (out / "MINE").read_text() == "other run"
        move_into_place(s, out, seen=seen, ours=ours, force=True)
    assert (out / "MINE").read_text() == "new"


def test_nonempty_destination_without_ownership_test_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "x").write_text("keep")
    with staging_folder(out) as s:
        with pytest.raises(FileExistsError, match="refusing"):
            move_into_place(s, out)
    assert (out / "x").read_text() == "keep"


_HOLDER = textwrap.dedent("""
    import os, signal, sys, time
    sys.path.insert(0, {root!r})
    from hgq_fpga.folders import staging_folder
    with staging_folder(__import__("pathlib").Path({out!r})) as s:
        (s / "half").write_text("half-written")
        print(s, flush=True)
        if {kill}:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)
""")


def _holder(out: Path, kill: bool) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER.format(root=str(ROOT), out=str(out), kill=kill)],
                            stdout=subprocess.PIPE, text=True)
    return proc, Path(proc.stdout.readline().strip())


def test_staging_of_a_killed_run_is_removed_and_said(tmp_path):
    out = tmp_path / "out"
    proc, staging = _holder(out, kill=True)
    assert proc.wait(30) == -signal.SIGKILL
    assert (staging / "half").is_file()                     # kill -9 left it behind
    with pytest.warns(StaleStagingRemoved, match="killed"):
        with staging_folder(out):
            pass
    assert not staging.exists() and not list(tmp_path.iterdir())


def test_staging_of_a_live_run_and_unlocked_folders_are_kept(tmp_path):
    out = tmp_path / "out"
    foreign = tmp_path / ".out.staging-mine"                 # no lock file: not provably ours
    foreign.mkdir()
    proc, staging = _holder(out, kill=False)
    try:
        assert remove_stale_staging(out) == []
        assert (staging / "half").is_file() and foreign.is_dir()
    finally:
        proc.kill()
        proc.wait(30)
    time.sleep(0.1)
    with pytest.warns(StaleStagingRemoved):
        assert remove_stale_staging(out) == [staging]
    assert foreign.is_dir()


def test_firmware_save_never_replaces_a_user_folder(tmp_path):
    b = FirmwareBuilder()
    fw = b.build([b.relu(b.input("x", (2,), 1, 2, 2))])
    user = tmp_path / "notes"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a saved firmware"):
        fw.save(user)
    assert (user / "notes.txt").read_text() == "mine"
    fw.save(tmp_path / "fw")
    fw.save(tmp_path / "fw")                                # an earlier save is replaced
    assert sorted(p.name for p in (tmp_path / "fw").iterdir()) == [".hgq_fpga-files.json", "arrays.npz", "model.json"]
    np.testing.assert_array_equal(fw.predict(np.ones((1, 2))), np.ones((1, 2)))


def test_design_folder_created_during_convert_survives(tmp_path):
    """The race of the issue: a user folder appears at --out while the design is being built."""
    from conftest import build_hgq_mlp
    from hgq_fpga.app.design import build_design
    from hgq_fpga.checks.design_folder import DesignError

    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    out = tmp_path / "design"

    def user_creates_the_folder(_staging: Path) -> None:
        out.mkdir()
        (out / "results.root").write_text("user data")

    with pytest.raises(DesignError, match="appeared while"):
        build_design(build_hgq_mlp(3, 4, 2), x, out, extra_files=user_creates_the_folder)
    assert [p.name for p in out.iterdir()] == ["results.root"]
    assert (out / "results.root").read_text() == "user data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["design"]     # no staging left
