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
import signal
import threading
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


def _chart_files(charts: tuple[Chart, ...]) -> dict[str, str]:
    """Where each chart's PNG goes, beside the Markdown (the HTML carries its own copies inline)."""
    return {chart.id: f"charts/{chart.id}.png" for chart in charts if chart.png is not None}


def _commit(out: Path, contents: dict[Path, bytes]) -> None:
    """Replace every file of the report, each through a temp file renamed over the old one, with Ctrl-C and
    SIGTERM held back until all are in: an interrupted run leaves the last report whole, its charts included,
    never one file of each run. PNGs of charts this run no longer draws go too."""
    main_thread = threading.current_thread() is threading.main_thread()
    held = {signal.SIGINT, signal.SIGTERM}
    partials: dict[Path, Path] = {}
    try:  # the slow part, interruptible: nothing of the old report has changed yet
        for path, content in contents.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            partials[path] = path.with_name(f".{path.name}.partial")
            partials[path].write_bytes(content)
    except BaseException:
        for partial in partials.values():
            partial.unlink(missing_ok=True)
        raise
    # Held, not blocked: a blocked signal sent to the process goes to any other thread that takes it.
    arrived: list[int] = []
    saved = {sig: signal.signal(sig, lambda signum, _frame: arrived.append(signum)) for sig in held} \
        if main_thread else {}
    try:
        for path, partial in partials.items():
            partial.replace(path)
        charts = out / "charts"
        for stale in charts.glob("*.png") if charts.is_dir() else ():
            if stale not in contents:
                stale.unlink()
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(arrived):  # now acted on, as if it came just after the last file
            signal.raise_signal(signum)


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
    files = _chart_files(charts)
    context = {"d": data, "charts": {c.id: c for c in charts}, "chart_files": files}
    paths = {"html": out / "report.html", "md": out / "report.md", "json": out / "report.json"}
    env = environment(artefacts_dir, out)
    # Everything rendered before anything is written: a render that fails leaves the last report as it was.
    texts = {"html": env.get_template("report.html.j2").render(context),
             "md": env.get_template("report.md.j2").render(context),
             "json": render_json(data, charts, files)}
    contents = {paths[kind]: text.encode("utf-8") for kind, text in texts.items()}
    contents.update({out / files[c.id]: c.png for c in charts if c.png is not None})
    _commit(out, contents)
    return paths
