"""``perfbudget html``: one self-contained page, a chart per test in inline SVG.

No network, no CDN, no external file: styles, charts and the small script are inline.
Every name from the history is escaped.
"""

from __future__ import annotations

import errno
import html
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from .baseline import baseline_rows
from .files import write_text_atomic
from .history import History, SavedRuns
from .metrics import format_metric, metric
from .stats import median
from .summary_row import SummaryRow
from .units import format_count

__all__ = ["ReportError", "render_report", "write_report"]

WIDTH, HEIGHT = 560, 180
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 28
LINES = {"p50": ("#1f6feb", ""), "p95": ("#8250df", "5 3")}
MEMORY_COLOR = "#1a7f37"
#: The metrics whose limits a chart draws: those it draws the values of.
_DRAWN_METRICS = frozenset([*LINES, "memory"])
LIMIT_COLOR = "#cf222e"
BAND_COLOR = "#d0d7de"

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1f2328; }
h1 { font-size: 1.4em; } h2 { font-size: 1em; margin: 1.6em 0 .3em; word-break: break-all; }
.meta { color: #59636e; font-size: .9em; }
.legend span { margin-right: 1.2em; } .legend i { display: inline-block; width: 1.6em;
  height: .3em; vertical-align: middle; margin-right: .3em; }
svg { background: #fff; border: 1px solid #d0d7de; border-radius: 4px; }
svg text { font: 11px system-ui, sans-serif; fill: #59636e; }
input { font: inherit; padding: .3em; width: 30em; }
"""

# Checks that every chart rendered (a drawn SVG with a non-empty box) and counts script
# errors; the browser test reads the result from <body data-...>.
SCRIPT = """
window.addEventListener("error", function () {
  document.body.dataset.errors = String(Number(document.body.dataset.errors || 0) + 1);
});
document.addEventListener("DOMContentLoaded", function () {
  var charts = document.querySelectorAll("svg.chart"), drawn = 0;
  charts.forEach(function (chart) {
    var box = chart.getBBox();
    if (box.width > 0 && box.height > 0 && chart.querySelector("polyline")) { drawn += 1; }
  });
  document.body.dataset.charts = String(charts.length);
  document.body.dataset.drawn = String(drawn);
  var filter = document.getElementById("filter");
  filter.addEventListener("input", function () {
    var wanted = filter.value.toLowerCase();
    document.querySelectorAll("section.test").forEach(function (section) {
      section.hidden = section.dataset.name.toLowerCase().indexOf(wanted) < 0;
    });
  });
});
"""


def _points(values: Sequence[float | None], scale: float, count: int) -> str:
    step = (WIDTH - LEFT - RIGHT) / max(count - 1, 1)
    plot_height = HEIGHT - TOP - BOTTOM
    return " ".join(
        f"{LEFT + index * step:.1f},{TOP + plot_height * (1 - value / scale):.1f}"
        for index, value in enumerate(values)
        if value is not None
    )


def _y(value: float, scale: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / scale)


def _chart(
    title: str,
    *,
    series: dict[str, tuple[list[float | None], str, str]],
    unit_metric: str,
    limits: dict[str, float],
    band: tuple[float, float] | None,
    runs: list[str],
) -> str:
    known = [value for values, _, _ in series.values() for value in values if value is not None]
    top = max([*known, *(band or ())], default=0.0)
    # a limit far above the data would flatten it: such a limit is named, not drawn
    drawn = {name: bound for name, bound in limits.items() if top <= 0 or bound <= 3 * top}
    top = max([top, *drawn.values()])
    scale = top * 1.1 if top > 0 else 1.0
    parts = [
        f'<svg class="chart" role="img" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{html.escape(title)}</title>",
    ]
    if band is not None:
        low, high = _y(band[1], scale), _y(band[0], scale)
        parts.append(
            f'<rect class="band" x="{LEFT}" y="{low:.1f}" width="{WIDTH - LEFT - RIGHT}" '
            f'height="{max(high - low, 1.0):.1f}" fill="{BAND_COLOR}" opacity="0.6"/>'
        )
    for fraction in (0.0, 0.5, 1.0):
        value = scale / 1.1 * fraction
        y = _y(value, scale)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#eaeef2"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{html.escape(format_metric(unit_metric, value))}</text>"
        )
    above = [name for name in limits if name not in drawn]
    for offset, name in enumerate(above):
        parts.append(
            f'<text class="limit" x="{WIDTH - RIGHT - 4}" y="{TOP + 10 + 14 * offset}" '
            f'text-anchor="end" fill="{LIMIT_COLOR}">{html.escape(name)} limit '
            f"{html.escape(format_metric(unit_metric, limits[name]))} (far above)</text>"
        )
    for name, bound in drawn.items():
        y = _y(bound, scale)
        parts.append(
            f'<line class="limit" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{LIMIT_COLOR}" stroke-dasharray="6 3"/>'
            f'<text x="{WIDTH - RIGHT - 4}" y="{y - 4:.1f}" text-anchor="end" '
            f'fill="{LIMIT_COLOR}">{html.escape(name)} limit '
            f"{html.escape(format_metric(unit_metric, bound))}</text>"
        )
    for name, (values, color, dash) in series.items():
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline class="{html.escape(name)}" fill="none" stroke="{color}" '
            f'stroke-width="2"{dashes} points="{_points(values, scale, len(runs))}"/>'
        )
    if runs:
        parts.append(
            f'<text x="{LEFT}" y="{HEIGHT - 8}">run {html.escape(runs[0])}</text>'
            f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end">'
            f"run {html.escape(runs[-1])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _band(rows: Sequence[SummaryRow], threshold: float) -> tuple[float, float] | None:
    """From the baseline's p50 (over ``rows``, its runs) up to where a regression of
    ``threshold`` begins."""
    chosen = [value for row in rows if (value := row.metric("p50")) is not None]
    if not chosen:
        return None
    baseline = median(chosen)
    return baseline, baseline * (1 + threshold)


def _limits(saved: SavedRuns, kind: str) -> dict[str, float]:
    """The test's maximums on metrics of ``kind`` that its chart draws as lines."""
    return {
        name: float(bound["max"])
        for name, bound in saved.limits.items()
        if name in _DRAWN_METRICS and metric(name).kind == kind and "max" in bound
    }


def _section(history: History, saved: SavedRuns, threshold: float) -> str:
    nodeid, rows = saved.nodeid, saved.rows
    run_ids = [str(row.run) for row in rows]
    times = {name: (rows.metric(name), color, dash) for name, (color, dash) in LINES.items()}
    charts = [
        _chart(
            f"{nodeid}: time per call",
            series=times,
            unit_metric="p50",
            limits=_limits(saved, "duration"),
            band=_band(baseline_rows(rows, None), threshold),
            runs=run_ids,
        )
    ]
    memory = rows.metric("memory")
    if any(value for value in memory):
        charts.append(
            _chart(
                f"{nodeid}: peak memory growth",
                series={"memory": (memory, MEMORY_COLOR, "")},
                unit_metric="memory",
                limits=_limits(saved, "size"),
                band=None,
                runs=run_ids,
            )
        )
    newest = history.runs.get(run_ids[-1], {}) if run_ids else {}
    meta = (
        f"machine {html.escape(saved.machine[:12])} · {len(rows)} runs · newest run "
        f"{html.escape(run_ids[-1] if run_ids else '-')} "
        f"({html.escape(str(newest.get('time') or '-'))}, commit "
        f"{html.escape(str(newest.get('commit') or '-')[:12])})"
    )
    return (
        f'<section class="test" data-name="{html.escape(nodeid)}">'
        f'<h2>{html.escape(nodeid)}</h2><p class="meta">{meta}</p>{"".join(charts)}</section>'
    )


class ReportError(Exception):
    """The page cannot be written; the message names the output."""


def render_report(
    history: History, pattern: str, threshold_of: Callable[[str], float]
) -> tuple[str, int]:
    """The page, and how many tests it charts; ``threshold_of`` gives a test's latency
    regression threshold (+0.2 for +20%)."""
    sections = [
        _section(history, saved, threshold_of(saved.nodeid))
        for saved in history.matching(pattern)
        if saved.rows
    ]
    legend = (
        '<p class="legend">'
        f'<span><i style="background:{LINES["p50"][0]}"></i>p50</span>'
        f'<span><i style="background:{LINES["p95"][0]}"></i>p95 (dashed)</span>'
        f'<span><i style="background:{MEMORY_COLOR}"></i>memory</span>'
        f'<span><i style="background:{LIMIT_COLOR}"></i>limit</span>'
        f'<span><i style="background:{BAND_COLOR}"></i>baseline band: from the '
        "baseline's p50 up to its regression threshold</span></p>"
    )
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Performance history: {html.escape(history.path.name)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>Performance history</h1>"
        f'<p class="meta">{html.escape(str(history.path))} · {len(sections)} tests · '
        f"{len(history.runs)} runs</p>{legend}"
        '<p><input id="filter" type="search" placeholder="filter tests by name"></p>'
        f"{''.join(sections)}<script>{SCRIPT}</script></body></html>\n"
    )
    return page, len(sections)


def write_report(
    history: History,
    output: Path,
    pattern: str,
    threshold_of: Callable[[str], float],
    out: TextIO,
) -> int:
    """Write the page to ``output``; returns the exit status."""
    page, charted = render_report(history, pattern, threshold_of)
    try:
        write_text_atomic(output, page)
    except OSError as error:
        # the error names the temporary file written first, or a parent directory: the user
        # named the output
        raise ReportError(f"cannot write {output}: {_reason(error)}") from None
    out.write(f"{output}: {format_count(charted, 'test')} charted\n")
    return 0


def _reason(error: OSError) -> str:
    if isinstance(error, FileExistsError):  # a file where the parent directory should be
        return os.strerror(errno.ENOTDIR)
    return error.strerror or str(error)
