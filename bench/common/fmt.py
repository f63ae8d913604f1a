"""Numbers as BENCHMARKS.md prints them, and its markdown tables."""

from __future__ import annotations

from typing import Any, Iterable, Sequence


def fmt_int(v: Any) -> str:
    """``1234567`` → ``1,234,567``; ``None`` → ``n/a``."""
    return "n/a" if v is None else f"{int(round(v)):,}"


def fmt_pct(v: Any) -> str:
    """An accuracy in [0, 1] as a percentage with two decimals."""
    return "n/a" if v is None else f"{100 * v:.2f} %"


def fmt_ratio(v: Any) -> str:
    """A ratio as ``5.3×``."""
    return "n/a" if v is None else f"{v:.2f}×"


def fmt_num(v: Any) -> str:
    """Any scalar, compactly: ints with separators, floats with 4 significant digits."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:.4g}"
    return str(v)


def fmt_stat(stat: dict | None, scale: float = 1.0, digits: int = 1, spread: str = "std") -> str:
    """``mean ± spread`` of a statistic over seeds (``spread``: its "std" or "se"), "(one seed)" where
    there is no spread, "n/a" where there is no mean."""
    if not stat or stat.get("mean") is None:
        return "n/a"
    if stat.get("n") == 1 or stat.get(spread) is None:   # (older records stored a spread of 0 for one seed)
        return f"{scale * stat['mean']:.{digits}f} (one seed)"
    return f"{scale * stat['mean']:.{digits}f} ± {scale * stat[spread]:.{digits}f}"


def verdict(ok: Any) -> str:
    """✅ / ❌ / — for True / False / unknown."""
    return "—" if ok is None else ("✅" if ok else "❌")


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub markdown table (cells are already strings)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)
