"""The local renderer: the dashboard's visuals as PNGs and one self-contained HTML report."""

from __future__ import annotations

import base64
import html
import io
import math
import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from PIL import Image
from shopper_sentiment.dashboards import render
from shopper_sentiment.dashboards.render import REPORT_VISUALS, png_name, query_question, render_visuals, write_report

from shopper_sentiment.contracts.catalogue import CATALOGUE, Surface, Visual

ANALYZER = "local-blazeface+fer2013"
EMOTIONS = ("happy", "calm", "angry", "sad", "surprised", "fear")


def local_results() -> dict[str, list[dict]]:
    """Rows shaped like the named queries' answers for a day analyzed locally (no age, no gender)."""
    return {
        "emotions_by_hour": [
            {"capture_hour": h, "emotion": e, "faces": (h * 7 + i) % 5}
            for h in range(8, 20)
            for i, e in enumerate(EMOTIONS)
        ],
        "emotion_share": [{"emotion": e, "faces": 10 + i, "share_pct": 10.0 + i} for i, e in enumerate(EMOTIONS)],
        "faces_per_day": [{"capture_day": "2026-11-25", "store_id": "store-1", "faces": 83, "images_with_faces": 60}],
        "people_present_by_zone_hour": [
            {
                "store_id": "store-1",
                "zone": z,
                "capture_hour": h,
                "cameras": 1,
                "stills": 12,
                "people_present": 0.5 + (h % 3) / 2,
                "peak_people_present": 2 + h % 3,
            }
            for z in ("entrance", "aisle")
            for h in range(8, 20)
        ],
        "stills_with_people": [
            {
                "store_id": "store-1",
                "zone": "entrance",
                "capture_hour": h,
                "stills": 12,
                "stills_with_people": h % 12,
                "share_pct": 100 * (h % 12) / 12,
            }
            for h in range(8, 20)
        ],
        "stills_per_camera_hour": [
            {
                "store_id": "store-1",
                "zone": "entrance",
                "device_id": "pi-1",
                "camera_id": "door",
                "capture_day": f"2026-11-{d}",
                "capture_hour": h,
                "stills": 10,
                "analyzed": 10,
                "quarantined": 0,
            }
            for d in (24, 25)
            for h in range(8, 20)
            if (d, h) != (25, 14)  # the camera went quiet at 14:00 on the 25th
        ],
        # the local analyzer estimates no head pose
        "attention_by_zone_hour": [
            {
                "store_id": "store-1",
                "zone": "entrance",
                "capture_hour": 9,
                "faces": 8,
                "faces_with_pose": 0,
                "faces_toward_camera": 0,
                "attention_pct": None,
            }
        ],
        "sentiment_index": [
            {
                "capture_day": "2026-11-25",
                "store_id": "store-1",
                "zone": "entrance",
                "positive_faces": 5,
                "negative_faces": 3,
                "sentiment_index": 62.5,
            },
            {
                "capture_day": "2026-11-25",
                "store_id": "store-1",
                "zone": "aisle",
                "positive_faces": 0,
                "negative_faces": 0,
                "sentiment_index": None,
            },
        ],
        "age_band_distribution": [{"age_band": "unknown", "faces": 83, "share_pct": 100.0}],
        "gender_split": [{"gender": "unknown", "faces": 83, "share_pct": 100.0}],
        "store_comparison": [
            {
                "store_id": "store-1",
                "faces": 83,
                "days_with_faces": 1,
                "faces_per_day": 83.0,
                "zones": 3,
                "smiling_pct": None,
                "avg_age": None,
                "sentiment_index": 55.1,
            }
        ],
        "busiest_hours_per_zone": [
            {"store_id": "store-1", "zone": "entrance", "capture_hour": 17, "faces": 9, "hour_rank": 1}
        ],
    }


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.references: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in {"src", "href", "srcset", "data", "poster", "action"}:
                self.references.append((tag, name, value or ""))


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def test_every_visual_is_a_valid_png(tmp_path):
    pictures = render_visuals(tmp_path, local_results(), ANALYZER)

    assert list(pictures) == [visual.id for visual in REPORT_VISUALS]
    for path in pictures.values():
        assert png_size(path.read_bytes()) == (800, 450)


def test_report_is_one_self_contained_html_file(tmp_path):
    report = write_report(tmp_path / "out", local_results(), ANALYZER, True, {"images": 60, "faces": 83})
    page = report.read_text(encoding="utf-8")
    parser = _References()
    parser.feed(page)

    images = [value for tag, name, value in parser.references if tag == "img"]
    assert len(images) == len(REPORT_VISUALS)
    for value in images:
        assert value.startswith("data:image/png;base64,")
        png_size(base64.b64decode(value.removeprefix("data:image/png;base64,")))
    assert [r for r in parser.references if r[0] != "img" and not r[2].startswith("#")] == []
    assert "script" not in parser.tags and "link" not in parser.tags and "iframe" not in parser.tags
    assert "url(" not in page and "@import" not in page


def test_report_names_the_analyzer_and_says_images_are_synthetic(tmp_path):
    page = write_report(tmp_path, local_results(), ANALYZER, True, {}).read_text(encoding="utf-8")

    assert f"Face analysis by <b>{ANALYZER}</b>" in page
    assert 'id="synthetic-note"' in page and "Synthetic images" in page


def test_report_on_real_images_has_no_synthetic_note(tmp_path):
    page = write_report(tmp_path, local_results(), "rekognition", False, {}).read_text(encoding="utf-8")

    assert "Synthetic images" not in page


def test_age_and_gender_not_estimated_by_the_analyzer_are_said_so(tmp_path):
    page = write_report(tmp_path, local_results(), ANALYZER, True, {}).read_text(encoding="utf-8")

    assert f"Age is not estimated by {ANALYZER}" in page
    assert f"Gender is not estimated by {ANALYZER}" in page
    png_size((tmp_path / "age-bands.png").read_bytes())
    png_size((tmp_path / "gender-split.png").read_bytes())


def test_estimated_age_and_gender_are_drawn_as_charts(tmp_path):
    results = local_results()
    results["age_band_distribution"] = [
        {"age_band": "25-34", "faces": 40, "share_pct": 48.2},
        {"age_band": "65+", "faces": 3, "share_pct": 3.6},
        {"age_band": "unknown", "faces": 40, "share_pct": 48.2},
    ]
    results["gender_split"] = [
        {"gender": "Female", "faces": 50, "share_pct": 60.2},
        {"gender": "Male", "faces": 33, "share_pct": 39.8},
    ]
    results["attention_by_zone_hour"] = [
        {**row, "faces_with_pose": 8, "faces_toward_camera": 6, "attention_pct": 75.0}
        for row in results["attention_by_zone_hour"]
    ]
    not_estimated = render_visuals(tmp_path / "local", local_results(), ANALYZER)
    estimated = render_visuals(tmp_path / "rekognition", results, "rekognition")

    page = write_report(tmp_path / "rekognition", results, "rekognition", False, {}).read_text(encoding="utf-8")
    assert "not estimated" not in page
    for visual_id in ("age-bands", "gender-split"):
        assert estimated[visual_id].read_bytes() != not_estimated[visual_id].read_bytes()


def test_empty_results_draw_no_data_panels(tmp_path):
    results = {query.name: [] for query in CATALOGUE.queries}

    pictures = render_visuals(tmp_path, results, ANALYZER)
    report = write_report(tmp_path, results, ANALYZER, True, {"faces": 0})

    assert all(png_size(p.read_bytes()) for p in pictures.values())
    assert "No rows." in report.read_text(encoding="utf-8")


def test_nulls_decimals_and_dates_from_the_query_engine_are_drawn(tmp_path):
    results = {
        "emotions_by_hour": [
            {"capture_hour": 9, "emotion": None, "faces": 2},
            {"capture_hour": None, "emotion": "happy", "faces": 1},
            {"capture_hour": 10, "emotion": "happy", "faces": Decimal(3)},
        ],
        "emotion_share": [{"emotion": None, "faces": 2, "share_pct": Decimal("40.00")}],
        "faces_per_day": [
            {"capture_day": date(2026, 11, d), "store_id": s, "faces": d, "images_with_faces": d}
            for d in (24, 25)
            for s in ("a", "b")
        ],
        "sentiment_index": [
            {"capture_day": date(2026, 11, d), "store_id": "a", "zone": "entrance", "sentiment_index": Decimal("50.5")}
            for d in (24, 25)
        ],
    }

    pictures = render_visuals(tmp_path, results, ANALYZER)

    assert {CATALOGUE.visual(visual_id).query for visual_id in pictures} == set(results)
    assert all(png_size(p.read_bytes()) for p in pictures.values())


def test_visuals_missing_from_the_results_are_listed(tmp_path):
    page = write_report(tmp_path, {"emotion_share": local_results()["emotion_share"]}, ANALYZER, True, {}).read_text()

    assert (
        "No results for: people_present_by_zone_hour, attention_by_zone_hour, sentiment_index, emotions_by_hour,"
        " stills_with_people, stills_per_camera_hour, faces_per_day, age_band_distribution, gender_split"
    ) in page
    assert not (tmp_path / "emotions-by-hour.png").exists()


def test_query_results_are_tabled_with_their_question_and_escaped(tmp_path):
    results = local_results()
    results["sentiment_index"][0]["zone"] = "<script>alert(1)</script>"

    page = write_report(tmp_path, results, ANALYZER, True, {"images": 60}).read_text(encoding="utf-8")

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    for name in results:
        assert f'id="query-{name}"' in page
    assert query_question("emotion_share") in page
    assert query_question("emotion_share").endswith("?")


def test_same_rows_draw_the_same_png(tmp_path):
    first = render.plot_emotion_share(local_results()["emotion_share"], tmp_path / "a.png")
    second = render.plot_emotion_share(local_results()["emotion_share"], tmp_path / "b.png")

    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("visual", REPORT_VISUALS, ids=lambda v: v.id)
def test_every_report_visual_draws_a_named_query_file(visual):
    assert (render.QUERIES_DIR / CATALOGUE.query(visual.query).sql_file).is_file()


def test_the_report_shows_the_catalogues_report_visuals_in_its_order_and_titles(tmp_path, monkeypatch):
    drawn_titles = []
    draw = render._figure
    monkeypatch.setattr(render, "_figure", lambda title: (drawn_titles.append(title), draw(title))[1])

    page = write_report(tmp_path, local_results(), ANALYZER, True, {}).read_text(encoding="utf-8")

    expected = CATALOGUE.visuals_on(Surface.REPORT)
    assert drawn_titles == [visual.title for visual in expected]
    figures = re.findall(r'<figure id="visual-([^"]+)"><img alt="([^"]+)"', page)
    assert figures == [(visual.id, html.escape(visual.title)) for visual in expected]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(png_name(visual) for visual in expected)


def test_query_results_are_headed_by_the_catalogues_titles_in_its_order(tmp_path):
    results = dict(reversed(local_results().items()))

    page = write_report(tmp_path, results, ANALYZER, True, {}).read_text(encoding="utf-8")

    headings = re.findall(r'<h3 id="query-([^"]+)">(.+?) <code>', page)
    assert headings == [(query.name, html.escape(query.title)) for query in CATALOGUE.queries]


def test_a_catalogue_visual_the_report_cannot_draw_is_refused_by_name(tmp_path, monkeypatch):
    dwell = Visual("dwell-time", "Dwell time", "faces_per_day", frozenset({Surface.REPORT}))
    monkeypatch.setattr(render, "REPORT_VISUALS", (*REPORT_VISUALS, dwell))

    with pytest.raises(ValueError, match="dwell-time in the report"):
        render_visuals(tmp_path, local_results(), ANALYZER)


def _axis_labels(monkeypatch, draw) -> list[str]:
    """The x and y axis labels of every figure ``draw()`` makes."""
    labels: list[str] = []
    figure = render._figure

    def spy(title):
        fig, ax = figure(title)
        for name in ("set_xlabel", "set_ylabel"):
            original = getattr(ax, name)
            setattr(ax, name, lambda text, *a, _o=original, **k: (labels.append(text), _o(text, *a, **k))[1])
        return fig, ax

    monkeypatch.setattr(render, "_figure", spy)
    draw()
    return labels


def test_hours_and_days_are_labelled_store_local_and_counts_honestly(tmp_path, monkeypatch):
    labels = _axis_labels(monkeypatch, lambda: render_visuals(tmp_path, local_results(), "rekognition"))

    assert "hour of day (store-local time)" in labels
    assert "capture day (store-local date)" in labels
    assert "people in view per still (estimate)" in labels
    assert not [label for label in labels if "UTC" in label]
    assert not [label for label in labels if label == "faces"], "a face count says it counts sightings"
    page = write_report(tmp_path, local_results(), ANALYZER, True, {}).read_text(encoding="utf-8")
    assert "visitor" not in page.lower()
    assert "store's local time" in page and "sighting, not a person" in page


def test_people_present_and_attention_visuals_carry_their_method(tmp_path):
    page = write_report(tmp_path, local_results(), ANALYZER, True, {}).read_text(encoding="utf-8")

    for visual_id in ("people-present-by-hour", "attention-by-hour"):
        caption = re.search(rf'<figure id="visual-{visual_id}">.*?<figcaption>(.*?)</figcaption>', page, re.S)
        assert caption is not None
        assert html.escape(CATALOGUE.visual(visual_id).description) in caption.group(1)
    assert "counts twice" in CATALOGUE.visual("people-present-by-hour").description


def test_attention_without_head_pose_says_the_analyzer_does_not_estimate_it(tmp_path):
    local = render.plot_attention(local_results()["attention_by_zone_hour"], tmp_path / "local.png", analyzer=ANALYZER)
    posed = [
        {**row, "faces_with_pose": 8, "faces_toward_camera": 6, "attention_pct": 75.0}
        for row in local_results()["attention_by_zone_hour"]
    ]
    drawn = render.plot_attention(posed, tmp_path / "posed.png", analyzer="rekognition")

    assert local.read_bytes() != drawn.read_bytes()
    page = write_report(tmp_path, local_results(), ANALYZER, True, {}).read_text(encoding="utf-8")
    assert f"Head pose is not estimated by {ANALYZER}" in page


def test_a_camera_that_went_quiet_leaves_a_blank_hour_in_the_stills_heat_map(tmp_path, monkeypatch):
    shown = []
    imshow = render.plt.Axes.imshow

    def spy(self, grid, **kwargs):
        shown.append(grid)
        return imshow(self, grid, **kwargs)

    monkeypatch.setattr(render.plt.Axes, "imshow", spy)
    png_size(render.plot_stills_per_camera(local_results()["stills_per_camera_hour"], tmp_path / "s.png").read_bytes())

    ((camera,),) = shown
    assert len(camera) == 48  # two days of 24 local hours
    assert math.isnan(camera[24 + 14])  # no still at 14:00 on the second day
    assert camera[24 + 13] == camera[14] == 10
    assert math.isnan(camera[0])  # before opening: no still either
