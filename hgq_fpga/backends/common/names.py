"""The design's name: one check for every place it becomes an identifier (the HLS top function, the
RTL top module, the C prefix of the emulator library) and a file name."""

from __future__ import annotations

import re

#: C and C++ keywords and the C library names the generated sources use
CPP_KEYWORDS = frozenset("""
    alignas alignof and and_eq asm auto bitand bitor bool break case catch char char16_t char32_t
    class compl const constexpr const_cast continue decltype default delete do double
    dynamic_cast else enum explicit export extern false float for friend goto if inline int long
    mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public
    register reinterpret_cast return short signed sizeof static static_assert static_cast struct
    switch template this thread_local throw true try typedef typeid typename union unsigned using
    virtual void volatile wchar_t while xor xor_eq main printf fopen fclose fscanf
""".split())

#: Verilog-2005 and SystemVerilog keywords that Verilator refuses as a module name
VERILOG_KEYWORDS = frozenset("""
    always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign
    default defparam design disable edge else end endcase endconfig endfunction endgenerate endmodule
    endprimitive endspecify endtable endtask event for force forever fork function generate genvar
    highz0 highz1 if ifnone incdir include initial inout input instance integer join large liblist
    library localparam macromodule medium module nand negedge nmos nor noshowcancelled not notif0
    notif1 or output parameter pmos posedge primitive pull0 pull1 pulldown pullup
    pulsestyle_ondetect pulsestyle_onevent rcmos real realtime reg release repeat rnmos rpmos rtran
    rtranif0 rtranif1 scalared showcancelled signed small specify specparam strong0 strong1 supply0
    supply1 table task time tran tranif0 tranif1 tri tri0 tri1 triand trior trireg unsigned use uwire
    vectored wait wand weak0 weak1 while wire wor xnor xor
    bit byte logic int shortint longint class interface package program property sequence struct
    typedef enum union void string chandle import export final return break continue
""".split())

#: the longest design name: it is part of file and folder names (``NAME_prj``, ``NAME_firmware.h``)
MAX_LENGTH = 64

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def check_design_name(name: str, option: str = "name") -> str:
    """``name`` if it can name the design in every backend, else a ValueError that names ``option``
    (the caller's spelling: ``--name`` on the command line) and says why."""
    why = None
    if not isinstance(name, str) or not _IDENT.match(name):
        why = "it must start with an ASCII letter and hold only letters, digits and '_'"
    elif len(name) > MAX_LENGTH:
        why = f"it has {len(name)} characters, more than {MAX_LENGTH} (it is part of file names)"
    elif name in CPP_KEYWORDS:
        why = "it is a C++ keyword or a C library name the sources use"
    elif name in VERILOG_KEYWORDS:
        why = "it is a Verilog keyword"
    elif name.startswith("ap_"):
        why = "names starting with 'ap_' belong to the ap_types headers"
    elif "__" in name:
        why = "names with '__' are reserved in C++"
    if why:
        raise ValueError(f"{option} {name!r} cannot name the design: {why}")
    return name
