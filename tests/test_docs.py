"""The manuals are tested (issue 29): README.md and every page of docs/ say only what exists.

* every ```python block parses, and every ``hgq_fpga`` name written in code (an import, a dotted
  name such as ``hgq_fpga.nn.ptq.quantize_float``) resolves;
* every ``hgq-fpga COMMAND --flag`` written in a ```bash block or in backticks names a command and
  flags of the click group ``hgq_fpga.app.cli.main`` (and ``DEMO_ARGS``, example scripts likewise);
* docs/cli.md's synopsis and option table of each command list exactly that command's options, so
  that a flag added to a command and not to the manual fails here (issue 35);
* every relative link points to an existing file (and heading), and so does every repository path
  written in backticks (``tests/test_hls_csim.py``);
* the README stays a front door: at most 250 lines, both commands in its first 40, a link to every
  manual, and a table of what is supported that names every layer, backend and board; what it says
  about the input quantizer's overflow default is what ``HQuantize`` does;
* docs/sweeps.md names every key a sweep spec may have.

Each check is a function from a page's text to a list of problems; ``test_*_catch_*`` run each on
a broken copy, so that none passes by finding nothing. Fast: nothing is trained or compiled.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import shlex
from pathlib import Path

import click
import pytest

from hgq_fpga.app.cli import main

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
CLI_PAGE = REPO / "docs" / "cli.md"
#: pages that other developers are still writing (issue 29); links to them are allowed until they
#: land, and the lead removes each from this set when it does
PENDING_PAGES: set[str] = set()
README_MAX_LINES = 250
COMMANDS_WITHIN = 40


def pages() -> list[Path]:
    return [README, *sorted((REPO / "docs").glob("*.md"))]


def page_id(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


# ------------------------------------------------------------------------------ reading Markdown

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
SPAN = re.compile(r"`([^`]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, code)`` of every fenced block."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def prose(text: str) -> str:
    """The text outside fenced blocks."""
    return FENCE.sub("", text)


def code_spans(text: str) -> list[str]:
    """Every inline code span outside fenced blocks, its line breaks as spaces."""
    return [" ".join(m.group(1).split()) for m in SPAN.finditer(prose(text))]


def links(text: str) -> list[str]:
    """The targets of the Markdown links outside code."""
    return LINK.findall(SPAN.sub("", prose(text)))


def anchor(heading: str) -> str:
    """The anchor GitHub (and markdown2's header ids) give a heading."""
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", heading.strip().lower()))


# ------------------------------------------------------------------------------ Python in the pages

DOTTED = re.compile(r"(?<![\w/.-])hgq_fpga(?:\.[A-Za-z_]\w*)+")   # not a file: reports/hgq_fpga.xml


def _not_names() -> set[str]:
    """Words of the form ``hgq_fpga.x`` that are file names and formats, not Python names."""
    from hgq_fpga.checks.design_folder import MANIFEST, MANIFEST_FORMAT

    return {MANIFEST, MANIFEST_FORMAT}


def resolve(dotted: str) -> str | None:
    """None if ``dotted`` names a module or an attribute of one; else what is missing."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        module = ".".join(parts[:n])
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            break
    else:
        return f"{dotted}: no such module"
    obj = importlib.import_module(module) if n < len(parts) else None
    for i, attribute in enumerate(parts[n:], n):
        try:
            obj = getattr(obj, attribute)
        except AttributeError:
            return f"{dotted}: {'.'.join(parts[:i])} has no {attribute!r}"
    return None


def python_problems(text: str) -> list[str]:
    """Python blocks that do not parse; ``hgq_fpga`` imports and names in any code that do not resolve."""
    problems, names = [], set()
    for language, code in fenced_blocks(text):
        if language == "python":
            try:
                tree = ast.parse(code)
            except SyntaxError as err:
                problems.append(f"python block does not parse: {err}")
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "hgq_fpga":
                    names.update(f"{node.module}.{alias.name}" for alias in node.names)
                elif isinstance(node, ast.Import):
                    names.update(a.name for a in node.names if a.name.split(".")[0] == "hgq_fpga")
        names.update(DOTTED.findall(code))
    for span in code_spans(text):
        names.update(DOTTED.findall(span))
    names -= _not_names()
    problems += [p for p in map(resolve, sorted(names)) if p]
    return problems


# ------------------------------------------------------------------------------ commands in the pages

def _segments(text: str) -> list[str]:
    """Shell command segments of the bash blocks and code spans (continuations joined, comments cut)."""
    chunks = [code.replace("\\\n", " ") for language, code in fenced_blocks(text) if language in ("bash", "sh")]
    lines = [line.split(" #")[0] for chunk in chunks for line in chunk.splitlines()]
    return [" ".join(s.split()) for piece in lines + code_spans(text) for s in re.split(r"&&|;|\|\|", piece)]


def _options(command: click.Command) -> set[str]:
    return {flag for p in command.params if isinstance(p, click.Option) for flag in p.opts + p.secondary_opts}


FLAG = re.compile(r"(?<![\w-])--?[a-z][a-z0-9-]*")


def _flags(words: str) -> list[str]:
    """Flags in ``words``, values of ``--flag=value`` and quoted arguments left out."""
    try:
        tokens = shlex.split(words)
    except ValueError:
        tokens = words.split()
    return [m.group(0) for t in tokens for m in [FLAG.match(t.strip("[]"))] if m]


def hgq_fpga_problems(text: str) -> list[str]:
    """Every ``hgq-fpga [GROUP FLAGS] COMMAND FLAGS`` must name a command and its flags."""
    problems = []
    group = _options(main) | {"-h", "--help"}
    for segment in _segments(text):
        words = segment.split()
        if not words or words[0].rsplit("/", 1)[-1] != "hgq-fpga":
            continue
        rest = " ".join(words[1:])
        lead = re.match(r"((?:\[?--?[a-z-]+\]?\s+)*)(\S*)(.*)", rest)
        before, name, after = lead.group(1), lead.group(2).strip("[]"), lead.group(3)
        problems += [f"{segment}: hgq-fpga has no option {f}" for f in _flags(before) if f not in group]
        if not name or name.isupper() or name == "...":     # a placeholder such as COMMAND
            problems += [f"{segment}: {f} is not an option of every command" for f in _flags(after)
                         if f not in ("-h", "--help")]
            continue
        command = main.commands.get(name)
        if command is None:
            problems.append(f"{segment}: hgq-fpga has no command {name!r}")
            continue
        allowed = _options(command) | {"-h", "--help"}
        problems += [f"{segment}: hgq-fpga {name} has no option {f}" for f in _flags(after) if f not in allowed]
    return problems


DEMO_ARGS = re.compile(r"DEMO_ARGS=\"([^\"]*)\"")
SCRIPT = re.compile(r"^(?:\S*python3?\s+)?(examples/\w+\.py)\b(.*)")


def _script_command(path: Path) -> click.Command:
    """The click command of an example script (its module imports nothing heavy at the top)."""
    spec = importlib.util.spec_from_file_location(f"docs_example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    [command] = [v for v in vars(module).values() if isinstance(v, click.Command)]
    return command


def script_problems(text: str) -> list[str]:
    """``make demo DEMO_ARGS="..."`` and ``python examples/X.py ...`` name flags those commands have."""
    from hgq_fpga.app.demo import cli as demo

    problems = []
    code = "\n".join([c for _, c in fenced_blocks(text)] + code_spans(text))
    for args in DEMO_ARGS.findall(code):
        problems += [f"DEMO_ARGS={args!r}: the demo has no option {f}" for f in _flags(args)
                     if f not in _options(demo) | {"--help"}]
    for segment in _segments(text):
        found = SCRIPT.match(segment)
        if found:
            path = REPO / found.group(1)
            if not path.is_file():
                problems.append(f"{segment}: no script {found.group(1)}")
                continue
            allowed = _options(_script_command(path)) | {"--help"}
            problems += [f"{segment}: {found.group(1)} has no option {f}" for f in _flags(found.group(2))
                         if f not in allowed]
    return problems


# ------------------------------------------------------------------------------ docs/cli.md

def _sections(text: str) -> dict[str, str]:
    """``## title`` -> the section's text, for every second-level heading."""
    parts = re.split(r"^## +(.+?)\s*$", text, flags=re.M)
    return {title: body for title, body in zip(parts[1::2], parts[2::2])}


def _bracketed(synopsis: str) -> dict[str, bool]:
    """Each flag of a synopsis -> whether it is inside brackets (optional)."""
    flags, depth = {}, 0
    for m in re.finditer(r"\[|\]|(?<![\w-])--[a-z][a-z0-9-]*", synopsis):
        token = m.group(0)
        depth += {"[": 1, "]": -1}.get(token, 0)
        if token.startswith("--"):
            flags[token] = depth > 0
    return flags


def _synopsis(section: str) -> str:
    blocks = [code for language, code in fenced_blocks(section) if language == "bash"]
    return blocks[0].replace("\\\n", " ") if blocks else ""


def _table_rows(section: str) -> dict[str, str]:
    """Option table rows: the flag of the first cell -> the whole row."""
    return {m.group(1): m.group(0) for m in re.finditer(r"^\| `(--[a-z][a-z0-9-]*)[^|]*\|.*$", section, re.M)}


def cli_page_problems(text: str) -> list[str]:
    """docs/cli.md against the click group: a section per command whose synopsis and table list
    exactly its options, required ones outside brackets, every choice of a choice option named."""
    problems = []
    sections = _sections(text)
    commands = {"hgq-fpga": main, **{f"hgq-fpga {name}": c for name, c in main.commands.items()}}
    for title in sorted(set(commands) - set(sections)):
        problems.append(f"docs/cli.md has no section '## {title}'")
    for title, command in commands.items():
        if title not in sections:
            continue
        options = {p.opts[-1]: p for p in command.params if isinstance(p, click.Option)}
        listed = _bracketed(_synopsis(sections[title]))
        rows = _table_rows(sections[title])
        for flag in sorted(set(options) - set(listed)):
            problems.append(f"{title}: synopsis misses {flag}")
        for flag in sorted(set(listed) - set(options)):
            problems.append(f"{title}: synopsis names {flag}, which the command does not have")
        for flag in sorted(set(options) - set(rows)):
            problems.append(f"{title}: the option table has no row for {flag}")
        for flag in sorted(set(rows) - set(options)):
            problems.append(f"{title}: the option table has a row for {flag}, which the command does not have")
        for flag, option in options.items():
            if flag in listed and listed[flag] == option.required:
                problems.append(f"{title}: {flag} is {'required' if option.required else 'optional'} "
                                f"but written {'in' if listed[flag] else 'outside'} brackets")
            if isinstance(option.type, click.Choice) and flag in rows:
                problems += [f"{title}: the row of {flag} does not name the choice {c!r}"
                             for c in option.type.choices if c not in rows[flag]]
    return problems


# ------------------------------------------------------------------------------ links

def link_problems(path: Path, text: str) -> list[str]:
    """Relative links (and their #anchors in Markdown pages) that point to nothing."""
    problems = []
    for target in links(text):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, fragment = target.partition("#")
        found = (path.parent / file).resolve() if file else path
        if not found.exists():
            if found.is_relative_to(REPO) and found.relative_to(REPO).as_posix() in PENDING_PAGES:
                continue
            problems.append(f"{page_id(path)}: link {target} points to no file")
        elif fragment and found.suffix == ".md":
            anchors = {anchor(h) for h in HEADING.findall(prose(found.read_text()))}
            if fragment not in anchors:
                problems.append(f"{page_id(path)}: link {target}: {found.name} has no heading #{fragment}")
    return problems


#: a code span naming a file of the repository: one of its source folders, then a path
REPO_PATH = re.compile(r"(?:tests|examples|docs|bench|hgq_fpga|templates|boards)/[\w./-]+")


def path_problems(text: str) -> list[str]:
    """Files of the repository named in code spans (``tests/test_hls_csim.py``) that do not exist."""
    return [f"no file {span}" for span in code_spans(text) if REPO_PATH.fullmatch(span) and not (REPO / span).exists()]


# ------------------------------------------------------------------------------ the front door

def readme_problems(text: str) -> list[str]:
    """The README's shape (issue 29): short, both commands early, a link to every manual."""
    lines = text.splitlines()
    problems = []
    if len(lines) > README_MAX_LINES:
        problems.append(f"README.md has {len(lines)} lines, more than {README_MAX_LINES}")
    top = "\n".join(lines[:COMMANDS_WITHIN])
    problems += [f"`{c}` is not within the first {COMMANDS_WITHIN} lines" for c in ("make demo", "make test")
                 if c not in top]
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in links(text)}
    manuals = {*(REPO / "docs").glob("*.md"), *(REPO / p for p in PENDING_PAGES)}
    problems += [f"README.md does not link {page_id(m)}" for m in sorted(manuals) if m.resolve() not in linked]
    return problems


def supported_problems(text: str) -> list[str]:
    """The README's table of what is supported names every layer, backend and built-in board."""
    from hgq_fpga.backends.common.board import known_boards
    from hgq_fpga.backends.registry import backend_names
    from hgq_fpga.nn.layers import LAYER_SET

    section = _sections(text).get("What is supported", "")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| (\w[\w ]*?) \|(.*)\|$", section, re.M)}
    want = {"layers": [c.__name__ for c in LAYER_SET], "backends": backend_names(), "boards": list(known_boards())}
    return [f"the supported table's {row} row does not name {name}" for row, names in want.items()
            for name in names if f"`{name}`" not in rows.get(row, "")]


def default_overflow_problems(text: str) -> list[str]:
    """What the README says an input quantizer does with an overflow is what HQuantize does."""
    from hgq_fpga.nn.layers import HQuantize

    said = re.search(r"`HQuantize` overflows with `(\w+)`", text)
    actual = HQuantize().oq.overflow_mode
    if said is None:
        return ["README.md does not say how HQuantize overflows by default"]
    return [] if said.group(1) == actual else [f"README.md says HQuantize overflows with {said.group(1)}, "
                                               f"it does with {actual}"]


def sweep_keys_problems(text: str) -> list[str]:
    """docs/sweeps.md's key table names every key a sweep spec may have."""
    from hgq_fpga.app.sweep.spec import RUN_DEFAULTS, TOP_ONLY

    rows = "\n".join(line.split("|")[1] for line in text.splitlines() if line.startswith("| `"))
    return [f"docs/sweeps.md's key table misses {key}" for key in sorted({*RUN_DEFAULTS, *TOP_ONLY})
            if f"`{key}`" not in rows]


# ------------------------------------------------------------------------------ the pages

@pytest.mark.parametrize("path", pages(), ids=page_id)
def test_python_blocks_parse_and_names_resolve(path):
    assert python_problems(path.read_text()) == []


@pytest.mark.parametrize("path", pages(), ids=page_id)
def test_commands_and_flags_exist(path):
    text = path.read_text()
    assert hgq_fpga_problems(text) + script_problems(text) == []


@pytest.mark.parametrize("path", pages(), ids=page_id)
def test_relative_links_and_named_files_exist(path):
    assert link_problems(path, path.read_text()) + path_problems(path.read_text()) == []


def test_cli_page_lists_every_option_of_every_command():
    assert cli_page_problems(CLI_PAGE.read_text()) == []


def test_readme_is_a_front_door():
    text = README.read_text()
    assert readme_problems(text) + supported_problems(text) + default_overflow_problems(text) == []


def test_sweep_page_names_every_spec_key():
    assert sweep_keys_problems((REPO / "docs" / "sweeps.md").read_text()) == []


def test_pending_pages_are_still_pending():
    """Once a page in PENDING_PAGES lands, it must leave the allow-list (then it is checked like any)."""
    assert [p for p in sorted(PENDING_PAGES) if (REPO / p).exists()] == []


def test_the_pages_hold_what_the_checks_read():
    """The checks have material: code, commands, links and the cli.md sections are found at all."""
    text = "\n".join(p.read_text() for p in pages())
    assert sum(language == "python" for language, _ in fenced_blocks(text)) >= 10
    assert sum(s.startswith("hgq-fpga ") for s in _segments(text)) >= 30
    assert len(links(text)) >= 30
    assert len(DOTTED.findall(text)) >= 50
    assert len(_table_rows(_sections(CLI_PAGE.read_text())["hgq-fpga convert"])) == \
        len([p for p in main.commands["convert"].params if isinstance(p, click.Option)])


# ------------------------------------------------------------------------------ each check can fail

def broken(path: Path, old: str, new: str) -> str:
    """``path``'s text with ``old`` (which must be there) replaced by ``new``."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {page_id(path)}"
    return text.replace(old, new, 1)


#: (check, a broken page text, the problems it must report): every kind of mistake each check exists for
BROKEN_TEXTS = [
    (python_problems, "```python\nx = (1,\n```\n",
     ["python block does not parse: '(' was never closed (<unknown>, line 1)"]),
    (python_problems, "```python\nfrom hgq_fpga.nn.importers import from_qkeras\n```\n",
     ["hgq_fpga.nn.importers.from_qkeras: hgq_fpga.nn.importers has no 'from_qkeras'"]),
    (python_problems, "after `import hgq_fpga.nn.importers.fixed_quantizer`, which ...",
     ["hgq_fpga.nn.importers.fixed_quantizer: hgq_fpga.nn.importers has no 'fixed_quantizer'"]),
    (python_problems, "```python\nimport hgq_fpga.verification\n```\n",
     ["hgq_fpga.verification: hgq_fpga has no 'verification'"]),
    (python_problems, "```python\nimport hgq_fpga\nhgq_fpga.convert(model)\n```\n",
     ["hgq_fpga.convert: hgq_fpga has no 'convert'"]),
    (python_problems, "```python\nfrom hgq_fpga.nn.layers import HDense\n```\n", []),
    (hgq_fpga_problems, "```bash\nhgq-fpga frobnicate DIR\n```\n",
     ["hgq-fpga frobnicate DIR: hgq-fpga has no command 'frobnicate'"]),
    (hgq_fpga_problems, "run `hgq-fpga verify DIR --data DATA --samples 9`",
     ["hgq-fpga verify DIR --data DATA --samples 9: hgq-fpga verify has no option --samples"]),
    (hgq_fpga_problems, "```bash\ncd x && hgq-fpga convert m.keras \\\n    --calib a.npy --tb-data b\n```\n",
     ["hgq-fpga convert m.keras --calib a.npy --tb-data b: hgq-fpga convert has no option --tb-data"]),
    (hgq_fpga_problems, "`hgq-fpga --verbose report DIR`",
     ["hgq-fpga --verbose report DIR: hgq-fpga has no option --verbose"]),
    (hgq_fpga_problems, "`hgq-fpga --debug convert M --from qkeras --input-type 'ap_fixed<16,6>'`", []),
    (path_problems, "as `tests/test_keras_corpus.py` and `tests/test_corpus.py` check",
     ["no file tests/test_corpus.py"]),
    (sweep_keys_problems, "| key | meaning |\n| --- | --- |\n| `data` | ... |\n",
     [f"docs/sweeps.md's key table misses {key}" for key in
      ("architecture", "batch_size", "beta", "callbacks", "epochs", "grid", "ii", "init_widths", "learning_rate",
       "model_args", "n_calibration", "name", "runs", "seed", "seeds", "tolerance")]),
    (script_problems, '`make demo DEMO_ARGS="--backend hls --fast"`',
     ["DEMO_ARGS='--backend hls --fast': the demo has no option --fast"]),
    (script_problems, "`python examples/jet_tagging.py jets.csv --epochs 3 --gpus 2`",
     ["python examples/jet_tagging.py jets.csv --epochs 3 --gpus 2: examples/jet_tagging.py has no option --gpus"]),
]


@pytest.mark.parametrize("check, text, problems", BROKEN_TEXTS,
                         ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(BROKEN_TEXTS)])
def test_checks_catch_broken_code_and_commands(check, text, problems):
    assert check(text) == problems


def test_cli_page_check_catches_a_missing_or_stray_flag():
    """The issue-35 case: a flag the command has (--check-array) missing from the manual."""
    missing = broken(CLI_PAGE, "[--check-array NAME] ", "")
    assert cli_page_problems(missing) == ["hgq-fpga convert: synopsis misses --check-array"]
    no_row = broken(CLI_PAGE, "| `--check-array NAME` |", "| check array |")
    assert cli_page_problems(no_row) == ["hgq-fpga convert: the option table has no row for --check-array"]
    stray = broken(CLI_PAGE, "[--junit REPORT.xml]", "[--junit REPORT.xml] [--samples N]")
    assert cli_page_problems(stray) == ["hgq-fpga verify: synopsis names --samples, which the command does not have"]
    optional = broken(CLI_PAGE, "hgq-fpga emulate DIR --data DATA --out PRED.npy",
                      "hgq-fpga emulate DIR [--data DATA] --out PRED.npy")
    assert cli_page_problems(optional) == ["hgq-fpga emulate: --data is required but written in brackets"]
    choice = broken(CLI_PAGE, "| `--search easyquant\\|minmax` | `--from float`: how each binary point is "
                              "chosen (default `easyquant`) |", "| `--search METHOD` | default `easyquant` |")
    assert cli_page_problems(choice) == ["hgq-fpga convert: the row of --search does not name the choice 'minmax'"]
    gone = broken(CLI_PAGE, "## hgq-fpga boards", "## boards")
    assert cli_page_problems(gone) == ["docs/cli.md has no section '## hgq-fpga boards'"]


def test_link_check_catches_missing_files_and_headings():
    page = REPO / "docs" / "training.md"
    assert link_problems(page, "see [x](nothing.md) and [y](../README.md)") == [
        "docs/training.md: link nothing.md points to no file"]
    assert link_problems(page, "see [x](method.md#no-such-heading)") == [
        "docs/training.md: link method.md#no-such-heading: method.md has no heading #no-such-heading"]
    assert link_problems(page, "[x](model_files.md) [y](https://example.org/a.md) `[z](gone.md)`") == []
    assert link_problems(README, "[x](docs/other_page.md)") == ["README.md: link docs/other_page.md points to no file"]


def test_readme_checks_catch_a_long_readme_and_late_commands():
    text = README.read_text()
    assert readme_problems(text + "\n" * 80) == [f"README.md has {len(text.splitlines()) + 80} lines, "
                                                 f"more than {README_MAX_LINES}"]
    late = "\n" * 40 + text
    assert [p for p in readme_problems(late) if "more than" not in p] == ["`make demo` is not within the first 40 lines",
                                     "`make test` is not within the first 40 lines"]
    assert readme_problems(broken(README, "(docs/sweeps.md)", "(docs/sweep.md)")) == [
        "README.md does not link docs/sweeps.md"]
    assert supported_problems(broken(README, "`HReshape`, ", "")) == [
        "the supported table's layers row does not name HReshape"]
    assert supported_problems(broken(README, "`cpp`: a standalone", "a standalone")) == [
        "the supported table's backends row does not name cpp"]
    assert default_overflow_problems(broken(README, "`HQuantize` overflows with `SAT`",
                                            "`HQuantize` overflows with `WRAP`")) == [
        "README.md says HQuantize overflows with WRAP, it does with SAT"]
