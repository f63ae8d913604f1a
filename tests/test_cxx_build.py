"""The shared C++ build step: ap_fixed code compiles, is cached, and failures say what is wrong."""

import ctypes

import pytest

from hgq_fpga.backends.common.cxx_build import CompileError, compile_cpp
from hgq_fpga.backends.common.toolchain import ToolchainError

SOURCE = r'''
#include "ap_fixed.h"
extern "C" double cast_rnd_sat(double x) { return ap_fixed<6,3,AP_RND,AP_SAT>(x).to_double(); }
'''


def test_shared_library_runs_ap_fixed_and_is_cached(tmp_path):
    src = tmp_path / "cast.cpp"
    src.write_text(SOURCE)
    lib_path = compile_cpp([src], cache_dir=tmp_path / "cache")
    lib = ctypes.CDLL(str(lib_path))
    lib.cast_rnd_sat.restype = ctypes.c_double
    lib.cast_rnd_sat.argtypes = [ctypes.c_double]
    assert lib.cast_rnd_sat(0.0625) == 0.125   # tie rounds up
    assert lib.cast_rnd_sat(100.0) == 3.875    # saturates at 2**2 - 2**-3
    mtime = lib_path.stat().st_mtime_ns
    assert compile_cpp([src], cache_dir=tmp_path / "cache") == lib_path
    assert lib_path.stat().st_mtime_ns == mtime


def test_compile_error_quotes_the_compiler(tmp_path):
    src = tmp_path / "bad.cpp"
    src.write_text("int main() { return undefined_symbol; }\n")
    with pytest.raises(CompileError, match="undefined_symbol"):
        compile_cpp([src], kind="executable", cache_dir=tmp_path / "cache")


def test_missing_compiler_says_what_to_install(tmp_path, monkeypatch):
    src = tmp_path / "cast.cpp"
    src.write_text(SOURCE)
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no g++ here
    with pytest.raises(ToolchainError, match="apt-get install g\\+\\+"):
        compile_cpp([src], cache_dir=tmp_path / "cache")


def test_missing_source_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.cpp"):
        compile_cpp([tmp_path / "nope.cpp"], cache_dir=tmp_path / "cache")


def test_dependencies_are_part_of_the_cache_key(tmp_path):
    """A header the source includes changes the build even when the source does not."""
    (tmp_path / "value.h").write_text("#define VALUE 1\n")
    src = tmp_path / "v.cpp"
    src.write_text('#include "value.h"\nextern "C" int value() { return VALUE; }\n')
    build = dict(cache_dir=tmp_path / "cache", include_dirs=[tmp_path],
                 depends=[tmp_path / "value.h"])
    first = compile_cpp([src], **build)
    (tmp_path / "value.h").write_text("#define VALUE 2\n")
    second = compile_cpp([src], **build)
    assert first != second
    assert ctypes.CDLL(str(second)).value() == 2
