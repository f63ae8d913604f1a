"""Output folders that appear in one step and never cost the user a file.

Writers build into a hidden sibling folder (same file system, so the last step is a rename):

>>> seen = observe(out)                       # what is at out now
>>> with staging_folder(out) as staging:      # .NAME.staging-XXXX, locked while this process lives
...     write(staging)
...     move_into_place(staging, out, seen=seen, ours=is_mine)

The final step is atomic against whatever is at ``out`` *at that moment*, not only at the start:

* where nothing (or an empty folder) was at ``out``, the rename refuses to replace anything that
  appeared since (Linux ``renameat2(RENAME_NOREPLACE)``);
* where an earlier output was, the two folders are exchanged in one step (``RENAME_EXCHANGE``) and
  the one swapped out is checked: it must be ``ours`` (written by hgq_fpga) and, unless ``force``,
  the very folder seen at the start. Otherwise it is swapped back and nothing is lost.

Each staging folder has a sibling ``.lock`` file that its writer holds an ``flock`` on. A writer
killed with ``kill -9`` loses the lock with its life, so a later writer can prove the folder stale
and remove it (with a :class:`StaleStagingRemoved` warning); a folder whose lock is held, or that
has no lock file, is never touched.

Every output folder lists the files hgq_fpga wrote into it (:data:`WRITTEN`). When an earlier output
is replaced, whatever a user added to it (``make synth`` results, a ``BuildFile.xml``) is moved into
the new one at the same place, and a :class:`UserFilesKept` warning names it: nothing the user owns is
deleted. :func:`write_file` writes one file the same way: in one step, with the user's umask, and
never over an existing file unless asked.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_LOCK_SUFFIX = ".lock"


#: the list of the files hgq_fpga wrote into an output folder (hidden, in the folder itself)
WRITTEN = ".hgq_fpga-files.json"


class StaleStagingRemoved(UserWarning):
    """A staging folder left by a killed run was removed."""


class UserFilesKept(UserWarning):
    """Files a user added to an earlier output were moved into the output that replaced it."""


def default_mode(folder: bool = False) -> int:
    """The permissions a new file (or folder) gets under the user's umask: temporary files made with
    :mod:`tempfile` are private (0600/0700) and must be given these before they become outputs."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


def write_file(path: str | Path, content: str | bytes | Callable[[Path], None], *, replace: bool = False,
               option: str = "replace=True") -> Path:
    """Write one file in one step: a hidden sibling, renamed into place, with the user's umask.

    ``content`` is the text or bytes, or a function that writes a given path. An existing ``path``
    is replaced only with ``replace`` (``option`` says how the user asks for it, e.g. ``--force``);
    a file that appears meanwhile is never replaced without it either.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name")
    if path.exists() and not replace:
        raise FileExistsError(f"{path} exists; pass {option} to replace it")
    fd, name = _hidden_sibling(path, lambda: tempfile.mkstemp(prefix=f".{path.name}.",
                                                              suffix=f".partial{path.suffix}", dir=path.parent))
    tmp = Path(name)
    try:
        os.close(fd)
        os.chmod(tmp, default_mode())
        if callable(content):
            content(tmp)
        elif isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content)
        if replace:
            os.replace(tmp, path)
        else:
            _rename_noreplace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _hidden_sibling(target: Path, make: Callable[[], tuple]) -> tuple:
    """``make()`` a hidden sibling of ``target`` in its folder (created if missing); an error that
    names ``target``, not the hidden file, when the folder cannot be written."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return make()
    except PermissionError:
        raise PermissionError(f"cannot write {target}: permission denied in {target.parent}") from None
    except OSError as e:
        raise OSError(e.errno, f"cannot write {target}: {e.strerror}") from None


def _files(folder: Path) -> list[str]:
    """Every file and link below ``folder`` (relative, sorted), empty folders included as ``dir/``."""
    found = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        found += [(rel / f).as_posix() for f in files]
        found += [(rel / d).as_posix() + "/" for d in dirs if not os.listdir(Path(root) / d)]
    return sorted(f for f in found if f != WRITTEN)


def _written(folder: Path) -> set[str] | None:
    """The files hgq_fpga listed as written in ``folder``, or None for a folder without the list."""
    try:
        return set(json.loads((folder / WRITTEN).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _carry_user_files(old: Path, new: Path) -> list[str]:
    """Move the files a user added to ``old`` into ``new`` (same relative place); return them.

    Without a list of written files (an output of an earlier hgq_fpga), every file that the new
    output does not have counts as the user's. A user's file whose place the new output takes is
    kept beside it as ``NAME.user``.
    """
    ours = _written(old)
    fresh = set(_files(new))
    kept = []
    for rel in _files(old):
        if (rel in ours) if ours is not None else (rel in fresh):
            continue
        src, dst = old / rel.rstrip("/"), new / rel.rstrip("/")
        if rel.endswith("/"):
            dst.mkdir(parents=True, exist_ok=True)
        else:
            while os.path.lexists(dst):
                dst = dst.with_name(dst.name + ".user")
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.rename(src, dst)
        kept.append(rel)
    return kept


@dataclass(frozen=True)
class Seen:
    """What was at a destination when a write started."""

    exists: bool
    empty: bool = True
    identity: tuple[int, int] | None = None


def observe(out: Path) -> Seen:
    """Record what is at ``out`` now: nothing, an empty folder, or a folder (with its inode)."""
    out = Path(out)
    try:
        st = os.stat(out)
    except FileNotFoundError:
        return Seen(False)
    empty = out.is_dir() and not any(out.iterdir())
    return Seen(True, empty, (st.st_dev, st.st_ino))


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2``; False where the system or file system does not offer it."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def _rename_noreplace(src: Path, dst: Path) -> None:
    try:
        if _renameat2(src, dst, _RENAME_NOREPLACE):
            return
    except FileExistsError:
        raise FileExistsError(f"{dst} appeared while this output was being written; it was left "
                              "untouched") from None
    # no renameat2: a directory rename still refuses a non-empty target; an empty one is the only
    # thing that can be lost, and that only if it appears in the last instant
    if os.path.lexists(dst):
        raise FileExistsError(f"{dst} appeared while this output was being written; it was left untouched")
    os.rename(src, dst)


def move_into_place(staging: Path, out: Path, *, seen: Seen | None = None,
                    ours: Callable[[Path], bool] | None = None, force: bool = False) -> None:
    """Put the folder ``staging`` at ``out`` in one step (see the module docstring).

    Args:
        seen: what was at ``out`` when the write started (default: what is there now).
        ours: whether a folder is one that may be replaced (written by hgq_fpga); without it, a
            non-empty ``out`` is never replaced.
        force: replace an earlier output even if it is not the one seen at the start (it must
            still be ``ours``).

    Files a user added to the replaced output are moved into the new one (a :class:`UserFilesKept`
    warning names them); the replaced output's own files go.

    Raises:
        FileExistsError: ``out`` holds something that may not be replaced; it is left as it is.
    """
    staging, out = Path(staging), Path(out)
    seen = observe(out) if seen is None else seen
    (staging / WRITTEN).write_text(json.dumps(_files(staging), indent=0) + "\n")
    if not seen.exists or seen.empty:
        if seen.exists:
            try:
                os.rmdir(out)               # only an empty folder goes; fails if files arrived
            except FileNotFoundError:
                pass
            except OSError:
                raise FileExistsError(f"{out} was filled while this output was being written; it "
                                      "was left untouched") from None
        _rename_noreplace(staging, out)
        return
    if ours is None:
        raise FileExistsError(f"{out} exists and is not empty; refusing to replace it")
    if not _renameat2(staging, out, _RENAME_EXCHANGE):
        _replace_without_exchange(staging, out, seen, ours, force)
        return
    old = staging                            # after the exchange, the earlier folder is here
    now = os.stat(old)
    same = (now.st_dev, now.st_ino) == seen.identity
    if not ours(old) or not (same or force):
        _renameat2(staging, out, _RENAME_EXCHANGE)   # put it back, untouched
        why = ("it was not written by hgq_fpga" if not ours(out) else
               "it appeared while this output was being written (use force to replace it)")
        raise FileExistsError(f"refusing to replace {out}: {why}")
    _retire(old, out)


def _retire(old: Path, out: Path) -> None:
    """Remove the replaced output ``old`` once the user's files in it are moved into ``out``."""
    kept = _carry_user_files(old, out)
    if kept:
        shown = ", ".join(kept[:5]) + (f" and {len(kept) - 5} more" if len(kept) > 5 else "")
        warnings.warn(f"kept {len(kept)} file(s) that hgq_fpga did not write in {out}: {shown}",
                      UserFilesKept, stacklevel=3)
    shutil.rmtree(old, ignore_errors=True)


def _replace_without_exchange(staging: Path, out: Path, seen: Seen, ours, force: bool) -> None:
    """Best effort where ``RENAME_EXCHANGE`` is missing: move the earlier folder aside, check it,
    then rename; anything that fails the check is moved back."""
    retired = out.with_name(f".{out.name}.replaced-{os.getpid()}")
    os.rename(out, retired)
    st = os.stat(retired)
    if not ours(retired) or not (force or (st.st_dev, st.st_ino) == seen.identity):
        os.rename(retired, out)
        raise FileExistsError(f"refusing to replace {out}: it is not the hgq_fpga output seen at the start")
    try:
        _rename_noreplace(staging, out)
    except OSError:
        os.rename(retired, out)
        raise
    _retire(retired, out)


def check_replaceable(out: Path, replace: bool, ours: Callable[[Path], bool], what: str) -> None:
    """Refuse early, before any work, an ``out`` that holds something: unless ``replace`` is given
    and ``ours`` recognises it as an earlier output (``what``, e.g. ``"RTL project"``) of hgq_fpga.

    The final :func:`move_into_place` checks again, atomically, against what is there then.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not replace:
            raise FileExistsError(f"{out} exists and is not empty; choose a new folder, remove it, or "
                                  f"pass replace=True (which replaces only an hgq_fpga {what})")
        if not ours(out):
            raise FileExistsError(f"{out} exists, is not empty and was not written by hgq_fpga (it is "
                                  f"not an hgq_fpga {what}); refusing to replace it: choose a new folder")


def remove_stale_staging(out: Path) -> list[Path]:
    """Remove the staging folders of ``out`` whose writer is provably dead; return them.

    Proof is the writer's ``flock`` on the sibling lock file: the kernel releases it when the
    process dies, however it dies. A lock that is still held, or a folder without a lock file, is
    left alone.
    """
    out = Path(out)
    removed = []
    try:
        locks = sorted(out.parent.glob(f".{out.name}.staging-*{_LOCK_SUFFIX}"))
    except OSError:
        return removed
    for lock in locks:
        try:
            fd = os.open(lock, os.O_RDWR)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue                      # its writer is alive
            folder = lock.with_name(lock.name[:-len(_LOCK_SUFFIX)])
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
                warnings.warn(f"removed {folder}: the staging folder of an earlier run that was "
                              "killed before it finished", StaleStagingRemoved, stacklevel=3)
            lock.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return removed


@contextmanager
def staging_folder(out: Path) -> Iterator[Path]:
    """A new hidden sibling folder of ``out`` to build it in, locked while this process lives.

    Stale staging folders of killed runs are removed first. On exit the staging folder is removed
    if it is still there (after :func:`move_into_place` it holds nothing of the user's: either it
    is gone, or it holds the earlier output that was replaced).
    """
    out = Path(out)
    _hidden_sibling(out, lambda: None)
    remove_stale_staging(out)
    while True:
        fd, lock_name = _hidden_sibling(out, lambda: tempfile.mkstemp(prefix=f".{out.name}.staging-",
                                                                      suffix=_LOCK_SUFFIX, dir=out.parent))
        fcntl.flock(fd, fcntl.LOCK_EX)
        lock = Path(lock_name)
        try:
            still_there = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            still_there = False
        if still_there:                       # a cleaner may have taken it before our flock
            break
        os.close(fd)
    folder = lock.with_name(lock.name[:-len(_LOCK_SUFFIX)])
    try:
        folder.mkdir()
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        lock.unlink(missing_ok=True)
        os.close(fd)
