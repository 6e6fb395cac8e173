"""The Insights page's charts: SVG drawn by pygal on the server, shown as ``<img>``.

An ``<img>`` with a ``data:`` URI because the Content-Security-Policy forbids inline style and
pygal's SVG carries its own ``<style>``: inside an image that style is the image's own. The
SVG's style follows the page's ``prefers-color-scheme``, so the charts read in dark mode too.
Drawing is the slow part (20-60 ms a chart), so a chart is drawn once per set of figures.
"""

from __future__ import annotations

import base64
from functools import lru_cache

import pygal
from pygal.style import Style

# Readable on light and dark backgrounds alike.
COLORS = ("#2d8a72", "#d9822b", "#4c7fd9", "#c2469b", "#8a8f2d", "#7a5cc7", "#c24646", "#2d9ac2")
LIGHT_TEXT = "#394150"
DARK_CSS = (
    "inline:@media (prefers-color-scheme: dark) {"
    " text, .title, .legend text, .axis text { fill: #d5dae2 !important; }"
    " .axis .guides line, .axis .line { stroke: #3a4350 !important; } }"
)
STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground=LIGHT_TEXT,
    foreground_strong=LIGHT_TEXT,
    foreground_subtle="#c9ced6",
    colors=COLORS,
    font_family="system-ui, sans-serif",
    label_font_size=15,
    major_label_font_size=15,
    legend_font_size=15,
    value_font_size=14,
    tooltip_font_size=14,
)
# Wide enough for a laptop, with type large enough to read when shrunk to a phone's 360 px.
WIDTH, HEIGHT = 720, 400
CACHED_CHARTS = 32

Series = tuple[tuple[str, tuple[int, ...]], ...]  # (name, values) per stacked series


def _config(**extra: object) -> dict[str, object]:
    return {
        "style": STYLE,
        "width": WIDTH,
        "height": HEIGHT,
        "js": [],  # no scripts: an <img> would not run them, and the CSP forbids them anyway
        "css": ["file://style.css", "file://graph.css", DARK_CSS],
        "disable_xml_declaration": True,
        "pretty_print": False,
        "legend_at_bottom": True,
        "truncate_label": -1,  # "Nov 2025", not "N…"
        "margin": 8,
        **extra,
    }


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


@lru_cache(maxsize=CACHED_CHARTS)
def per_day(labels: tuple[str, ...], series: Series) -> str:
    """Counts per day, stacked: bars for a month, filled lines beyond (365 bars draw slowly
    and are each thinner than a pixel on a phone)."""
    bars = len(labels) <= 31
    # One legend row (pygal 3.1 clips a second one); the numbers beside name every chatbot.
    columns = max(1, len(series))
    legend = {"legend_at_bottom_columns": columns, "truncate_legend": (WIDTH // columns) // 9}
    chart = (
        pygal.StackedBar(**_config(**legend))
        if bars
        else pygal.StackedLine(**_config(fill=True, show_dots=False, include_x_axis=True, **legend))
    )
    every = -(-len(labels) // 5)  # about five labels, whatever the range: pygal draws them all
    chart.x_labels = [label if n % every == 0 else "" for n, label in enumerate(labels)]
    chart.y_labels_major_every = None
    chart.min_scale, chart.max_scale = 2, 6
    for name, values in series or (("none", (0,) * len(labels)),):
        chart.add(name, list(values))
    return data_uri(chart.render(is_unicode=True))


@lru_cache(maxsize=CACHED_CHARTS)
def per_chatbot(rows: tuple[tuple[str, float], ...]) -> str:
    """One bar per chatbot (leads per 100 conversations)."""
    chart = pygal.HorizontalBar(**_config(show_legend=False, height=max(160, 70 * len(rows))))
    chart.x_labels = [name for name, _ in rows]
    chart.add("per 100", [round(value, 1) for _, value in rows])
    return data_uri(chart.render(is_unicode=True))
