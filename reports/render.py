"""Render: ReportData → one self-contained HTML file (charts inline as base64 PNG), Markdown, and JSON.

Templates only lay out what ``reports.analyse.analyse`` computed; links to artefacts are relative to the
output folder, so the report can be opened in place next to the artefacts it names.

Usage::

    write_all(analyse(collect(folder)), folder / "report")   # report.html, report.md, report.json, charts/
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reports.analyse import ReportData
from reports.charts import Chart, draw_all
from reports.model import Source

TEMPLATES = Path(__file__).resolve().parent / "templates"


def to_plain(value: Any) -> Any:
    """JSON-ready data: dataclass fields plus the properties a class lists in ``JSON_PROPERTIES``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        plain = {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in getattr(value, "JSON_PROPERTIES", ()):
            plain[name] = to_plain(getattr(value, name))
        return plain
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def _num(value: float | int | None, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value}{suffix}"
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + suffix


def environment(artefacts_dir: Path, out: Path) -> Environment:
    # HTML templates are escaped by their name; Markdown is not HTML and escapes its table pipes instead.
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html.j2"], default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )

    def href(source: Source | str) -> str:
        path = source.path if isinstance(source, Source) else source
        return Path(os.path.relpath(artefacts_dir / path, out)).as_posix()

    env.filters["href"] = href
    env.filters["num"] = _num
    env.filters["pct"] = lambda v: _num(v, 1, " %")
    env.filters["ms"] = lambda v: _num(v, 0 if v is not None and v >= 10 else 1)
    env.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
    env.filters["md"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")
    return env


def _charts_dir(out: Path, charts: tuple[Chart, ...]) -> dict[str, str]:
    """PNG files beside the Markdown (the HTML carries its own copies inline)."""
    files = {}
    folder = out / "charts"
    for chart in charts:
        if chart.png is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{chart.id}.png").write_bytes(chart.png)
        files[chart.id] = f"charts/{chart.id}.png"
    return files


def render_json(data: ReportData, charts: tuple[Chart, ...], files: dict[str, str]) -> str:
    plain = to_plain(data)
    plain["charts"] = [
        {"id": c.id, "title": c.title, "file": files.get(c.id), "sources": to_plain(c.sources)} for c in charts
    ]
    return json.dumps(plain, indent=2, ensure_ascii=False)


def write_all(data: ReportData, out: Path) -> dict[str, Path]:
    """Write the three renderings into ``out`` and return their paths by format."""
    out.mkdir(parents=True, exist_ok=True)
    artefacts_dir = Path(data.artefacts_dir)
    charts = draw_all(data)
    files = _charts_dir(out, charts)
    context = {"d": data, "charts": {c.id: c for c in charts}, "chart_files": files}
    paths = {"html": out / "report.html", "md": out / "report.md", "json": out / "report.json"}
    env = environment(artefacts_dir, out)
    # All three rendered before any is written, each written whole (a temp file renamed over the old one): a
    # render that fails or a Ctrl-C leaves the last report as it was, never one format of each run.
    texts = {"html": env.get_template("report.html.j2").render(context),
             "md": env.get_template("report.md.j2").render(context),
             "json": render_json(data, charts, files)}
    for kind, text in texts.items():
        partial = paths[kind].with_name(f".{paths[kind].name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(paths[kind])
    return paths
