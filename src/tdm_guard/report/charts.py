"""Charts for the report, drawn with matplotlib (the `report` extra) as inline SVG.

Each chart is a string holding one `<svg>` element, ready to place in the page: no file, no
font or image fetched (text stays text, drawn in the page's own fonts), no XML prolog or
DOCTYPE. matplotlib's object API is used (`Figure`, not pyplot): no global state, no
display backend. Output is deterministic for the same figures (fixed hash salt, no date).
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence

COLOURS = {"allowed": "#2e7d32", "blocked": "#c62828", "reserved": "#ef6c00",
           "tagged": "#6a1b9a", "error": "#616161", "other": "#90a4ae",
           "not allowed": "#c62828"}
ACCENT = "#1565c0"


class ChartsUnavailable(RuntimeError):
    """matplotlib is not installed: `pip install "tdm-guard[report]"`."""


def _figure(width: float, height: float):  # -> matplotlib.figure.Figure
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise ChartsUnavailable("charts need matplotlib: pip install "
                                "\"tdm-guard[report]\"") from None
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "tdm-guard",
                                "font.family": "sans-serif", "font.size": 9})
    fig = Figure(figsize=(width, height), dpi=96)
    fig.set_layout_engine("constrained")
    return fig


def _svg(fig, title: str) -> str:
    out = io.StringIO()
    with warnings.catch_warnings():  # text stays text: the browser's fonts draw every glyph
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None, "Title": title},
                    transparent=True)
    text = out.getvalue()
    start = text.find("<svg")
    svg = text[start:]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    label = title.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


def _colour(name: str) -> str:
    return COLOURS.get(name, COLOURS["other"])


def _short(label: str, limit: int = 34) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "…"


def totals(counts: dict[str, int], title: str = "Decisions by outcome") -> str:
    """One stacked horizontal bar: the share of each outcome."""
    fig = _figure(7.2, 1.5)
    ax = fig.add_subplot()
    total = sum(counts.values()) or 1
    left = 0.0
    for name, n in counts.items():
        ax.barh([0], [n / total], left=[left], color=_colour(name), label=f"{name} {n:,}")
        left += n / total
    ax.set_xlim(0, 1)
    ax.set_yticks([])
    ax.xaxis.set_major_formatter(_percent())
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=max(1, len(counts)),
              frameon=False)
    _clean(ax, None)
    return _svg(fig, title)


def horizontal_bars(labels: Sequence[str], values: Sequence[int], title: str,
                    colour: str = ACCENT) -> str:
    fig = _figure(7.2, 0.5 + 0.28 * max(1, len(labels)))
    ax = fig.add_subplot()
    positions = list(range(len(labels)))[::-1]
    ax.barh(positions, values, color=colour)
    ax.set_yticks(positions, [_short(label) for label in labels])
    for y, v in zip(positions, values, strict=True):
        ax.text(v, y, f" {v:,}", va="center", fontsize=8)
    ax.set_xlim(0, (max(values) if values else 1) * 1.15 or 1)
    ax.set_title(title, loc="left")
    _clean(ax)
    return _svg(fig, title)


def stacked_bars(labels: Sequence[str], series: dict[str, Sequence[int]], title: str) -> str:
    """Horizontal bars, one per label, stacked by outcome (the top domains)."""
    fig = _figure(7.2, 0.6 + 0.28 * max(1, len(labels)))
    ax = fig.add_subplot()
    positions = list(range(len(labels)))[::-1]
    left = [0] * len(labels)
    for name, values in series.items():
        ax.barh(positions, values, left=left, color=_colour(name), label=name)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(positions, [_short(label) for label in labels])
    ax.set_title(title, loc="left")
    ax.legend(loc="lower left", bbox_to_anchor=(0.6, 1.0), frameon=False, ncol=len(series))
    _clean(ax)
    return _svg(fig, title)


def timeline(starts: Sequence[str], series: dict[str, Sequence[int]], title: str) -> str:
    """Decisions per time bucket, stacked by outcome."""
    fig = _figure(7.2, 2.6)
    ax = fig.add_subplot()
    positions = list(range(len(starts)))
    bottom = [0] * len(starts)
    for name, values in series.items():
        ax.bar(positions, values, bottom=bottom, color=_colour(name), label=name, width=0.9)
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    step = max(1, len(starts) // 6)
    ax.set_xticks(positions[::step], [starts[i] for i in positions[::step]], fontsize=7)
    ax.set_title(title, loc="left")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.08), frameon=False, ncol=len(series) or 1)
    _clean(ax, "y")
    return _svg(fig, title)


def _percent():  # -> matplotlib.ticker.Formatter
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)


def _clean(ax, integer_axis: str | None = "x") -> None:
    from matplotlib.ticker import MaxNLocator

    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if integer_axis == "x":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    elif integer_axis == "y":
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
