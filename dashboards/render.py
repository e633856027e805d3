"""The dashboard's visuals drawn locally: PNG files and one self-contained HTML report.

The local demo has no QuickSight, so the same visuals are drawn with
matplotlib (Agg backend: no display needed) from the rows the named queries in
``dashboards/queries/*.sql`` return (DuckDB locally, Athena in AWS: one row is
a dict of column name → value). Each ``plot_*`` function takes one query's
rows, so a visual shows exactly what its query answers. Which visuals the
report shows, in which order and under which titles, comes from
``shopper_sentiment/contracts/catalogue.py``, as it does for the QuickSight sheet.

Hours and days are each store's own wall clock (the queries use
``hour(captured_at_local)`` and ``dt``), and every axis says so. Counts are
labelled for what they are: faces are sightings, not people; "people
present" is the images table's average faces per still, an estimate whose
limits the caption states.

Attributes an analyzer does not estimate (the local analyzer estimates no age,
gender or head pose) come back as the queries' ``'unknown'`` bucket or NULL
only; those visuals then say "not estimated by <analyzer>" instead of drawing
one bar of unknowns.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on CI or in a container

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from shopper_sentiment.dashboards.measures import (
    AGE_BANDS,
    ATTENTION_MAX_ABS_PITCH,
    ATTENTION_MAX_ABS_YAW,
    NEGATIVE_EMOTIONS,
    POSITIVE_EMOTIONS,
    UNKNOWN,
)

from shopper_sentiment.contracts.catalogue import CATALOGUE, Surface, Visual
from shopper_sentiment.contracts.schema import EMOTIONS

Rows = Sequence[Mapping[str, Any]]

QUERIES_DIR = Path(__file__).parent / "queries"
REPORT_NAME = "report.html"

#: One colour per emotion, the same in every visual (positive greens/blues, negative reds).
EMOTION_COLOURS: dict[str, str] = {
    "happy": "#2ca02c",
    "calm": "#1f77b4",
    "surprised": "#bcbd22",
    "confused": "#9467bd",
    "sad": "#7f7f7f",
    "fear": "#8c564b",
    "disgusted": "#ff7f0e",
    "angry": "#d62728",
    UNKNOWN: "#c7c7c7",
}
_FIGSIZE = (8.0, 4.5)
_DPI = 100

#: The report's visuals, in the catalogue's reading order.
REPORT_VISUALS: tuple[Visual, ...] = CATALOGUE.visuals_on(Surface.REPORT)


def _title_of(visual_id: str) -> str:
    return CATALOGUE.visual(visual_id).title


def png_name(visual: Visual) -> str:
    """The file a visual is drawn to (also inlined in the report)."""
    return f"{visual.id}.png"


# -- values as the query engines return them ----------------------------------------


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, Decimal | int | float):
        number = float(value)
        return None if math.isnan(number) else number
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _label(value: Any) -> str:
    if value is None:
        return UNKNOWN
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return str(value)


def _emotion_order(emotions: set[str]) -> list[str]:
    known = [e for e in EMOTIONS if e in emotions]
    return known + sorted(emotions - set(known))


# -- figures ------------------------------------------------------------------------


def _figure(title: str) -> tuple[Figure, Any]:
    fig, ax = plt.subplots(figsize=_FIGSIZE, dpi=_DPI)
    ax.set_title(title, fontsize=13, loc="left")
    return fig, ax


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    # No software/version text chunk: the same rows draw the same bytes.
    fig.savefig(path, format="png", dpi=_DPI, metadata={"Software": None})
    plt.close(fig)
    return path


def _message(path: Path, title: str, message: str) -> Path:
    """A panel that says why there is nothing to draw."""
    fig, ax = _figure(title)
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#555555", wrap=True)
    return _save(fig, path)


def _no_rows(path: Path, title: str, what: str = "faces") -> Path:
    return _message(path, title, f"No {what} in the query's window")


_LOCAL_HOUR = "hour of day (store-local time)"
_LOCAL_DAY = "capture day (store-local date)"
_SIGHTINGS = "face sightings (not people)"


def _zone_series(rows: Rows, value: str) -> dict[str, dict[int, float]]:
    """``store / zone`` → local hour → ``value``, skipping NULLs."""
    series: dict[str, dict[int, float]] = {}
    for row in rows:
        hour, number = _number(row.get("capture_hour")), _number(row.get(value))
        if hour is None or number is None:
            continue
        series.setdefault(f"{_label(row.get('store_id'))} / {_label(row.get('zone'))}", {})[int(hour)] = number
    return series


def _hour_lines(ax: Any, series: dict[str, dict[int, float]], *, style: str = "-", label_suffix: str = "") -> None:
    colours = plt.get_cmap("tab10")
    for index, zone in enumerate(sorted(series)):
        points = sorted(series[zone].items())
        ax.plot(
            [h for h, _ in points],
            [v for _, v in points],
            style,
            marker="o",
            markersize=4,
            color=colours(index % 10),
            label=zone + label_suffix,
        )


def _hour_axis(ax: Any, hours: set[int]) -> None:
    ax.set_xlim(min(hours) - 0.7, max(hours) + 0.7)
    ax.set_xticks(range(min(hours), max(hours) + 1))
    ax.set_xlabel(_LOCAL_HOUR)


def plot_emotions_by_hour(rows: Rows, path: Path | str, *, title: str = _title_of("emotions-by-hour")) -> Path:
    """Vertical stacked bars: faces per hour of day, stacked by dominant emotion (emotions_by_hour.sql)."""
    path = Path(path)
    counts: dict[str, dict[int, float]] = {}
    for row in rows:
        hour = _number(row.get("capture_hour"))
        faces = _number(row.get("faces")) or 0.0
        if hour is None:
            continue
        counts.setdefault(_label(row.get("emotion")), {})[int(hour)] = faces
    if not counts:
        return _no_rows(path, title)
    fig, ax = _figure(title)
    hours = list(range(24))
    bottom = [0.0] * 24
    for emotion in _emotion_order(set(counts)):
        heights = [counts[emotion].get(h, 0.0) for h in hours]
        ax.bar(hours, heights, bottom=bottom, label=emotion, color=EMOTION_COLOURS.get(emotion, "#17becf"))
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    used = [h for h in hours if bottom[h] > 0]
    ax.set_xlim(min(used) - 0.7, max(used) + 0.7)
    ax.set_xticks(range(min(used), max(used) + 1))
    ax.set_xlabel(_LOCAL_HOUR)
    ax.set_ylabel(_SIGHTINGS)
    ax.legend(title="dominant emotion", fontsize=8, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def plot_emotion_share(rows: Rows, path: Path | str, *, title: str = _title_of("emotion-share")) -> Path:
    """Pie of the dominant emotions' shares (emotion_share.sql)."""
    path = Path(path)
    faces = {_label(r.get("emotion")): _number(r.get("faces")) or 0.0 for r in rows}
    faces = {k: v for k, v in faces.items() if v > 0}
    if not faces:
        return _no_rows(path, title)
    order = _emotion_order(set(faces))
    fig, ax = _figure(title)
    ax.pie(
        [faces[e] for e in order],
        labels=order,
        colors=[EMOTION_COLOURS.get(e, "#17becf") for e in order],
        autopct=lambda pct: f"{pct:.1f}%" if pct >= 5 else "",
        startangle=90,
        counterclock=False,
        wedgeprops={"linewidth": 1, "edgecolor": "white"},
    )
    ax.axis("equal")
    return _save(fig, path)


def plot_faces_per_day(rows: Rows, path: Path | str, *, title: str = _title_of("faces-per-day")) -> Path:
    """Vertical bars: face sightings per store-local capture day, stacked by store (faces_per_day.sql)."""
    path = Path(path)
    by_store: dict[str, dict[str, float]] = {}
    for row in rows:
        day = _label(row.get("capture_day"))
        by_store.setdefault(_label(row.get("store_id")), {})[day] = _number(row.get("faces")) or 0.0
    days = sorted({d for counts in by_store.values() for d in counts})
    if not days:
        return _no_rows(path, title)
    fig, ax = _figure(title)
    bottom = [0.0] * len(days)
    colours = plt.get_cmap("tab10")
    for index, store in enumerate(sorted(by_store)):
        heights = [by_store[store].get(d, 0.0) for d in days]
        ax.bar(days, heights, bottom=bottom, label=store, color=colours(index % 10), width=0.6)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    if len(days) < 5:  # a day or two would otherwise be drawn as one wall-to-wall bar
        ax.set_xlim(-2.5, len(days) + 1.5)
    ax.set_xlabel(_LOCAL_DAY)
    ax.set_ylabel(_SIGHTINGS)
    ax.tick_params(axis="x", labelrotation=45 if len(days) > 6 else 0)
    ax.legend(title="store", fontsize=8, title_fontsize=8)
    return _save(fig, path)


def plot_sentiment_index(rows: Rows, path: Path | str, *, title: str = _title_of("sentiment-by-zone")) -> Path:
    """Sentiment index (0-100) per store zone: bars for one day, lines over several (sentiment_index.sql)."""
    path = Path(path)
    series: dict[str, dict[str, float]] = {}
    for row in rows:
        value = _number(row.get("sentiment_index"))
        if value is None:  # a zone and day with neither positive nor negative faces
            continue
        zone = f"{_label(row.get('store_id'))} / {_label(row.get('zone'))}"
        series.setdefault(zone, {})[_label(row.get("capture_day"))] = value
    days = sorted({d for values in series.values() for d in values})
    if not days:
        return _message(path, title, "No faces with a positive or negative emotion in the window")
    fig, ax = _figure(title)
    zones = sorted(series)
    if len(days) == 1:
        values = [series[z][days[0]] for z in zones]
        bars = ax.bar(zones, values, color=["#2ca02c" if v >= 50 else "#d62728" for v in values])
        ax.bar_label(bars, fmt="%.1f", fontsize=9)
        ax.set_xlabel(f"store / zone, {days[0]}")
        ax.tick_params(axis="x", labelrotation=20 if len(zones) > 4 else 0)
    else:
        for zone in zones:
            points = sorted(series[zone].items())
            ax.plot([d for d, _ in points], [v for _, v in points], marker="o", label=zone)
        ax.set_xlabel(_LOCAL_DAY)
        ax.tick_params(axis="x", labelrotation=45)
        ax.legend(fontsize=8)
    ax.axhline(50, color="#999999", linewidth=1, linestyle="--")
    ax.set_ylim(0, 105)
    ax.set_ylabel(f"% positive ({', '.join(POSITIVE_EMOTIONS)}) of positive + negative")
    ax.yaxis.label.set_fontsize(8)
    return _save(fig, path)


def plot_people_present(rows: Rows, path: Path | str, *, title: str = _title_of("people-present-by-hour")) -> Path:
    """Lines per store zone over the local hour: people in view per still, average and peak.

    From people_present_by_zone_hour.sql.
    """
    path = Path(path)
    average, peak = _zone_series(rows, "people_present"), _zone_series(rows, "peak_people_present")
    if not average:
        return _no_rows(path, title, "analyzed stills")
    fig, ax = _figure(title)
    _hour_lines(ax, average, label_suffix=" (average)")
    _hour_lines(ax, peak, style=":", label_suffix=" (peak)")
    _hour_axis(ax, {h for values in average.values() for h in values})
    ax.set_ylim(bottom=0)
    ax.set_ylabel("people in view per still (estimate)")
    ax.yaxis.label.set_fontsize(9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def plot_attention(rows: Rows, path: Path | str, *, analyzer: str, title: str = _title_of("attention-by-hour")) -> Path:
    """Lines per store zone over the local hour: % of faces turned toward the camera (attention_by_zone_hour.sql)."""
    path = Path(path)
    if not rows:
        return _no_rows(path, title)
    series = _zone_series(rows, "attention_pct")
    if not series:
        return _message(path, title, f"Head pose is not estimated by {analyzer}:\nno face has a yaw and pitch")
    fig, ax = _figure(title)
    _hour_lines(ax, series)
    _hour_axis(ax, {h for values in series.values() for h in values})
    ax.set_ylim(0, 105)
    ax.set_ylabel(
        f"% of faces within yaw \u00b1{ATTENTION_MAX_ABS_YAW}\u00b0, pitch \u00b1{ATTENTION_MAX_ABS_PITCH}\u00b0"
    )
    ax.yaxis.label.set_fontsize(8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def plot_stills_with_people(rows: Rows, path: Path | str, *, title: str = _title_of("stills-with-people")) -> Path:
    """Lines per store zone over the local hour: % of analyzed stills with a face kept (stills_with_people.sql)."""
    path = Path(path)
    series = _zone_series(rows, "share_pct")
    if not series:
        return _no_rows(path, title, "analyzed stills")
    fig, ax = _figure(title)
    _hour_lines(ax, series)
    _hour_axis(ax, {h for values in series.values() for h in values})
    ax.set_ylim(0, 105)
    ax.set_ylabel("% of analyzed stills with a face")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def plot_stills_per_camera(rows: Rows, path: Path | str, *, title: str = _title_of("stills-per-camera")) -> Path:
    """Heat map: a row per camera, a column per store-local hour of each day; blank = no still.

    From stills_per_camera_hour.sql.
    """
    path = Path(path)
    counts: dict[str, dict[tuple[str, int], float]] = {}
    for row in rows:
        hour = _number(row.get("capture_hour"))
        if hour is None:
            continue
        camera = (
            f"{_label(row.get('store_id'))} / {_label(row.get('zone'))} / "
            f"{_label(row.get('device_id'))}:{_label(row.get('camera_id'))}"
        )
        counts.setdefault(camera, {})[(_label(row.get("capture_day")), int(hour))] = _number(row.get("stills")) or 0.0
    if not counts:
        return _no_rows(path, title, "stills")
    days = sorted({day for cells in counts.values() for day, _ in cells})
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    calendar = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    cameras = sorted(counts)
    grid = [[math.nan] * (24 * len(calendar)) for _ in cameras]
    for r, camera in enumerate(cameras):
        for (day, hour), stills in counts[camera].items():
            grid[r][calendar.index(day) * 24 + hour] = stills
    fig, ax = _figure(title)
    image = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis")
    ax.set_yticks(range(len(cameras)), labels=cameras, fontsize=7)
    step = max(1, len(calendar) // 10)
    ax.set_xticks([n * 24 for n in range(0, len(calendar), step)], labels=calendar[::step], fontsize=7)
    ax.tick_params(axis="x", labelrotation=45 if len(calendar) > 3 else 0)
    ax.set_xlabel("store-local date and hour (blank: no still that hour)")
    fig.colorbar(image, ax=ax, label="stills per hour")
    return _save(fig, path)


def _has_pose(rows: Rows) -> bool:
    return any(_number(r.get("attention_pct")) is not None for r in rows)


def _not_estimated(rows: Rows, key: str) -> bool:
    labels = {_label(r.get(key)) for r in rows if (_number(r.get("faces")) or 0) > 0}
    return bool(labels) and labels <= {UNKNOWN}


def plot_age_bands(rows: Rows, path: Path | str, *, analyzer: str, title: str = _title_of("age-bands")) -> Path:
    """Vertical bars: faces per age band, in age order (age_band_distribution.sql)."""
    path = Path(path)
    if not rows:
        return _no_rows(path, title)
    if _not_estimated(rows, "age_band"):
        return _message(path, title, f"Age is not estimated by {analyzer}:\nevery face's age band is unknown")
    faces = {_label(r.get("age_band")): _number(r.get("faces")) or 0.0 for r in rows}
    order = [band for band, _ in AGE_BANDS]
    order += sorted(set(faces) - set(order) - {UNKNOWN}) + ([UNKNOWN] if UNKNOWN in faces else [])
    fig, ax = _figure(title)
    bars = ax.bar(order, [faces.get(b, 0.0) for b in order], color=["#1f77b4"] * (len(order)))
    for bar, band in zip(bars, order, strict=True):
        if band == UNKNOWN:
            bar.set_color(EMOTION_COLOURS[UNKNOWN])
    ax.set_xlabel("age band (midpoint of the estimated range)")
    ax.set_ylabel(_SIGHTINGS)
    return _save(fig, path)


def plot_gender_split(rows: Rows, path: Path | str, *, analyzer: str, title: str = _title_of("gender-split")) -> Path:
    """Pie of predicted gender (gender_split.sql)."""
    path = Path(path)
    if not rows:
        return _no_rows(path, title)
    if _not_estimated(rows, "gender"):
        return _message(path, title, f"Gender is not estimated by {analyzer}:\nevery face's gender is unknown")
    faces = {_label(r.get("gender")): _number(r.get("faces")) or 0.0 for r in rows}
    order = sorted(k for k in faces if k != UNKNOWN) + ([UNKNOWN] if UNKNOWN in faces else [])
    palette = {"Female": "#e377c2", "Male": "#17becf", UNKNOWN: EMOTION_COLOURS[UNKNOWN]}
    fig, ax = _figure(title)
    ax.pie(
        [faces[g] for g in order],
        labels=order,
        colors=[palette.get(g, "#bcbd22") for g in order],
        autopct="%1.1f%%",
        startangle=90,
        counterclock=False,
        wedgeprops={"linewidth": 1, "edgecolor": "white"},
    )
    ax.axis("equal")
    return _save(fig, path)


#: The visuals drawn from each attribute group of a privacy profile (shopper_sentiment/contracts/catalogue.py).
VISUALS_OF_ATTRIBUTE = {
    attribute: tuple(v.id for v in CATALOGUE.visuals if v.attribute == attribute)
    for attribute in {v.attribute for v in CATALOGUE.visuals if v.attribute}
}


def _not_collected(rows: Rows, path: Path | str, *, title: str, attribute: str) -> Path:
    return _message(
        path, title, f"{attribute.capitalize()} is not collected:\nthe cameras' privacy profile turns it off"
    )


def render_visuals(
    out_dir: Path | str, results: Mapping[str, Rows], analyzer_name: str, *, not_collected: Collection[str] = ()
) -> dict[str, Path]:
    """Draw every report visual whose query is in ``results``; returns visual id → PNG path, in report order.

    A visual of an attribute group in ``not_collected`` (``emotions``, ``age``,
    ``gender``: off for every camera) says so instead of drawing an empty chart.
    """
    out = Path(out_dir)
    #: (rows, path, *, title) → the PNG's path, per visual id.
    drawers: dict[str, Callable[..., Path]] = {
        "emotions-by-hour": plot_emotions_by_hour,
        "emotion-share": plot_emotion_share,
        "faces-per-day": plot_faces_per_day,
        "sentiment-by-zone": plot_sentiment_index,
        "people-present-by-hour": plot_people_present,
        "attention-by-hour": partial(plot_attention, analyzer=analyzer_name),
        "stills-with-people": plot_stills_with_people,
        "stills-per-camera": plot_stills_per_camera,
        "age-bands": partial(plot_age_bands, analyzer=analyzer_name),
        "gender-split": partial(plot_gender_split, analyzer=analyzer_name),
    }
    for attribute in not_collected:
        for visual_id in VISUALS_OF_ATTRIBUTE.get(attribute, ()):
            drawers[visual_id] = partial(_not_collected, attribute=attribute)
    undrawn = [visual.id for visual in REPORT_VISUALS if visual.id not in drawers]
    if undrawn:
        raise ValueError(
            f"shopper_sentiment/contracts/catalogue.py shows {', '.join(undrawn)} in the report, "
            "but dashboards/render.py does not say how to draw it"
        )
    return {
        visual.id: drawers[visual.id](results[visual.query], out / png_name(visual), title=visual.title)
        for visual in REPORT_VISUALS
        if visual.query in results
    }


# -- the report -----------------------------------------------------------------------


def query_question(name: str) -> str:
    """The question a named query answers: the first comment line of its SQL file."""
    try:
        first = (QUERIES_DIR / f"{name}.sql").read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError):
        return ""
    return first.removeprefix("--").strip() if first.startswith("--") else ""


def _cell(value: Any) -> str:
    if value is None:
        return '<td class="null">null</td>'
    if isinstance(value, float | Decimal):
        return f'<td class="num">{float(value):,.2f}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value:,}</td>'
    return f"<td>{html.escape(_label(value))}</td>"


def _table(rows: Rows, *, max_rows: int = 200) -> str:
    if not rows:
        return '<p class="empty">No rows.</p>'
    columns = list(rows[0].keys())
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "\n".join("<tr>" + "".join(_cell(r.get(c)) for c in columns) + "</tr>" for r in rows[:max_rows])
    more = f'<p class="empty">{len(rows) - max_rows} more rows not shown.</p>' if len(rows) > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>{more}"


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.6rem 1rem; margin: 0.6rem 0; }
.analyzer { background: #e8f1fb; border-left: 4px solid #1f77b4; padding: 0.6rem 1rem; margin: 0.6rem 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 1rem; }
figure { margin: 0; border: 1px solid #ddd; padding: 0.5rem; background: #fff; }
figure img { width: 100%; height: auto; }
figcaption { font-size: 0.85rem; color: #555; }
figcaption .method { font-size: 0.8rem; color: #666; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.4rem 0 1.2rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.null, p.empty { color: #999; font-style: italic; }
"""


def write_report(
    out_dir: Path | str,
    results: Mapping[str, Rows],
    analyzer_name: str,
    synthetic: bool,
    summary: Mapping[str, Any],
    *,
    not_collected: Collection[str] = (),
) -> Path:
    """Draw the visuals and write ONE self-contained HTML report (images inline); returns its path.

    ``results`` maps query name (the ``dashboards/queries`` file stem) to its
    rows; ``summary`` is shown as a key/value table at the top (images,
    faces, run time...); ``not_collected``: attribute groups no camera
    collects, whose visuals say so. Nothing in the page is fetched from elsewhere.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pictures = render_visuals(out, results, analyzer_name, not_collected=not_collected)

    not_estimated = {
        "age_band_distribution": ("age_band", "Age"),
        "gender_split": ("gender", "Gender"),
    }
    visuals = {visual.id: visual for visual in REPORT_VISUALS}
    figures = []
    for visual_id, png in pictures.items():
        visual = visuals[visual_id]
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        caption = html.escape(query_question(visual.query))
        if visual.description:
            caption += f'<br><span class="method">{html.escape(visual.description)}</span>'
        if visual.query in not_estimated and _not_estimated(results[visual.query], not_estimated[visual.query][0]):
            caption += f" <i>{not_estimated[visual.query][1]} is not estimated by {html.escape(analyzer_name)}.</i>"
        if visual.query == "attention_by_zone_hour" and results[visual.query] and not _has_pose(results[visual.query]):
            caption += f" <i>Head pose is not estimated by {html.escape(analyzer_name)}.</i>"
        figures.append(
            f'<figure id="visual-{html.escape(visual.id)}"><img alt="{html.escape(visual.title)}" '
            f'src="data:image/png;base64,{data}"><figcaption><b>{html.escape(visual.query)}</b>: '
            f"{caption}</figcaption></figure>"
        )
    tables = []
    catalogued = [query.name for query in CATALOGUE.queries]
    for name in [n for n in catalogued if n in results] + [n for n in results if n not in catalogued]:
        question = query_question(name)
        heading = CATALOGUE.query(name).title if name in catalogued else name
        tables.append(
            f'<h3 id="query-{html.escape(name)}">{html.escape(heading)} <code>{html.escape(name)}</code></h3>'
            + (f"<p>{html.escape(question)}</p>" if question else "")
            + _table(results[name])
        )
    summary_rows = "".join(f"<tr><th>{html.escape(str(k))}</th>{_cell(v)}</tr>" for k, v in summary.items())
    synthetic_note = (
        '<p class="note" id="synthetic-note"><b>Synthetic images.</b> The camera stills were composed by '
        "the demo from sample photographs (drawn store scenes with real face photos); the numbers describe "
        "those pictures, not a real store or real shoppers.</p>"
        if synthetic
        else ""
    )
    missing = list(dict.fromkeys(visual.query for visual in REPORT_VISUALS if visual.query not in results))
    missing_note = f'<p class="empty">No results for: {html.escape(", ".join(missing))}.</p>' if missing else ""
    negative = ", ".join(NEGATIVE_EMOTIONS)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Shopper Sentiment report</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Shopper Sentiment</h1>
<p>The dashboard's visuals, drawn from the answers of the named queries in <code>dashboards/queries</code>.
Hours and days are each store's local time (its configured time zone, daylight saving included).
A face is one detection in one still: a sighting, not a person. <b>People present</b> is an estimate:
the average number of faces per analyzed still of a camera, with no identity and no tracking
(a person seen by two cameras counts twice). Each face and each still counts once, however often
it was delivered.</p>
<p class="analyzer" id="analyzer-note">Face analysis by <b>{html.escape(analyzer_name)}</b>.
Columns this analyzer does not estimate are null and show as <i>unknown</i>.</p>
{synthetic_note}
<h2>Summary</h2>
<table>{summary_rows}</table>
<h2>Visuals</h2>
<div class="grid">
{"".join(figures)}
</div>
{missing_note}
<p>Sentiment index = share of positive ({", ".join(POSITIVE_EMOTIONS)}) among positive and negative
({html.escape(negative)}) dominant emotions; surprised counts as neither.</p>
<h2>Query results</h2>
{"".join(tables)}
</body>
</html>
"""
    report = out / REPORT_NAME
    report.write_text(page, encoding="utf-8")
    return report
