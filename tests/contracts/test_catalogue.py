"""The catalogue of named queries and visuals refuses what its three readers could not use."""

from __future__ import annotations

import re

import pytest
from shopper_sentiment.dashboards.measures import ATTENTION_MAX_ABS_PITCH, ATTENTION_MAX_ABS_YAW

from shopper_sentiment.contracts.catalogue import (
    ATTENTION_METHOD,
    CATALOGUE,
    PEOPLE_PRESENT_METHOD,
    Catalogue,
    NamedQuery,
    Surface,
    Visual,
)


def test_every_visual_is_shown_somewhere_and_every_surface_has_visuals() -> None:
    assert all(visual.surfaces for visual in CATALOGUE.visuals)
    assert all(CATALOGUE.visuals_on(surface) for surface in Surface)


def test_titles_about_hours_or_days_say_they_are_store_local_time() -> None:
    titles = [q.title for q in CATALOGUE.queries] + [v.title for v in CATALOGUE.visuals]
    about_time = [title for title in titles if re.search(r"\b(hours?|days?)\b", title.lower())]
    assert len(about_time) >= 10, "the hourly and daily analyses have titles"
    assert [title for title in about_time if "(store-local time)" not in title] == []
    assert [title for title in titles if "UTC" in title] == []


def test_no_title_or_description_calls_a_count_visitors() -> None:
    texts = [q.title for q in CATALOGUE.queries] + [t for v in CATALOGUE.visuals for t in (v.title, v.description)]
    assert [text for text in texts if "visitor" in text.lower()] == []
    assert [q.name for q in CATALOGUE.queries if "visitor" in q.name] == []


def test_the_people_present_visuals_state_the_method_and_its_limits() -> None:
    people = [v for v in CATALOGUE.visuals if v.query == "people_present_by_zone_hour"]
    assert {v.id for v in people} == {"people-present-kpi", "people-present-by-hour"}
    for visual in people:
        assert visual.description == PEOPLE_PRESENT_METHOD
    for limit in ("average number of faces per analyzed still", "No identity", "no tracking", "counts twice"):
        assert limit in PEOPLE_PRESENT_METHOD


def test_the_attention_description_states_the_limits_of_the_measures() -> None:
    assert f"\u00b1{ATTENTION_MAX_ABS_YAW}\u00b0" in ATTENTION_METHOD
    assert f"\u00b1{ATTENTION_MAX_ABS_PITCH}\u00b0" in ATTENTION_METHOD
    assert CATALOGUE.visual("attention-by-hour").description == ATTENTION_METHOD


def test_the_visuals_of_the_brief_are_on_both_surfaces() -> None:
    both = {v.id for v in CATALOGUE.visuals if v.surfaces == frozenset(Surface)}
    assert {
        "people-present-by-hour",
        "emotions-by-hour",
        "emotion-share",
        "attention-by-hour",
        "age-bands",
        "gender-split",
    } <= both


def test_a_visual_of_a_query_the_catalogue_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="visual 'dwell' draws 'dwell_time', which is no named query"):
        Catalogue(
            queries=(NamedQuery("emotion_share", "Share of dominant emotions"),),
            visuals=(Visual("dwell", "Dwell time", "dwell_time", frozenset({Surface.REPORT})),),
        )


def test_a_query_or_visual_listed_twice_is_refused() -> None:
    share = NamedQuery("emotion_share", "Share of dominant emotions")
    pie = Visual("emotion-share", "Emotions", "emotion_share", frozenset(Surface))
    with pytest.raises(ValueError, match="query name listed twice: emotion_share"):
        Catalogue(queries=(share, share), visuals=())
    with pytest.raises(ValueError, match="visual id listed twice: emotion-share"):
        Catalogue(queries=(share,), visuals=(pie, pie))
