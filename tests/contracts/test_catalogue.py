"""The catalogue of named queries and visuals refuses what its three readers could not use."""

from __future__ import annotations

import pytest

from contracts.catalogue import CATALOGUE, Catalogue, NamedQuery, Surface, Visual


def test_every_visual_is_shown_somewhere_and_every_surface_has_visuals() -> None:
    assert all(visual.surfaces for visual in CATALOGUE.visuals)
    assert all(CATALOGUE.visuals_on(surface) for surface in Surface)


def test_titles_about_hours_say_the_hours_are_utc() -> None:
    titles = [q.title for q in CATALOGUE.queries] + [v.title for v in CATALOGUE.visuals]
    about_hours = [title for title in titles if "hour" in title.lower()]
    assert about_hours, "the hourly analyses have titles"
    assert [title for title in about_hours if "(UTC)" not in title] == []


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
