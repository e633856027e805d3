"""The named queries and the visuals drawn from their answers, in one list.

Three places show the same analyses and must call them the same: the Athena
named queries (``stacks/analytics.py`` creates one per entry of
``NAMED_QUERIES``, its SQL read from ``dashboards/queries/<name>.sql``), the
QuickSight sheet (``dashboards/quicksight/definition.py``) and the local HTML
report (``dashboards/render.py``). Each reads its names, titles and visual
order from here.

A visual belongs to one or both surfaces. The QuickSight sheet aggregates the
dataset itself and the report draws the query's rows, so a visual names the
query whose answer it shows: the question the picture answers. Hours and days
are UTC (the records' ``captured_at`` and ``dt``); a title that mentions hours
says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class NamedQuery:
    """One Athena named query: the SQL file ``dashboards/queries/<name>.sql``."""

    #: The SQL file's stem and the Athena NamedQuery's ``Name``.
    name: str
    #: A short title for people (the report's heading of the query's rows).
    title: str

    @property
    def sql_file(self) -> str:
        return f"{self.name}.sql"


class Surface(StrEnum):
    """Where a visual is shown."""

    QUICKSIGHT = "quicksight"
    REPORT = "report"


_BOTH = frozenset(Surface)


@dataclass(frozen=True)
class Visual:
    """One chart: its id (QuickSight ``VisualId``, the report's figure and PNG name), title and query."""

    id: str
    title: str
    #: The named query whose answer the visual draws.
    query: str
    surfaces: frozenset[Surface]


@dataclass(frozen=True)
class Catalogue:
    """Named queries (by name) and visuals (in reading order); refuses entries that disagree."""

    queries: tuple[NamedQuery, ...]
    visuals: tuple[Visual, ...]

    def __post_init__(self) -> None:
        for kind, names in (
            ("query name", [q.name for q in self.queries]),
            ("visual id", [v.id for v in self.visuals]),
        ):
            repeated = sorted(name for name, count in Counter(names).items() if count > 1)
            if repeated:
                raise ValueError(f"catalogue: {kind} listed twice: {', '.join(repeated)}")
        known = {q.name for q in self.queries}
        for visual in self.visuals:
            if visual.query not in known:
                raise ValueError(f"catalogue: visual {visual.id!r} draws {visual.query!r}, which is no named query")
            if not visual.surfaces:
                raise ValueError(f"catalogue: visual {visual.id!r} is shown nowhere (no surface)")

    def query(self, name: str) -> NamedQuery:
        for query in self.queries:
            if query.name == name:
                return query
        raise KeyError(f"{name!r} is not a named query of contracts/catalogue.py")

    def visual(self, visual_id: str) -> Visual:
        for visual in self.visuals:
            if visual.id == visual_id:
                return visual
        raise KeyError(f"{visual_id!r} is not a visual of contracts/catalogue.py")

    def visuals_on(self, surface: Surface) -> tuple[Visual, ...]:
        """The visuals ``surface`` shows, in reading order."""
        return tuple(v for v in self.visuals if surface in v.surfaces)


CATALOGUE = Catalogue(
    queries=(
        NamedQuery("age_band_distribution", "Faces by age band"),
        NamedQuery("busiest_hours_per_zone", "Busiest hours per zone (UTC)"),
        NamedQuery("emotion_share", "Share of dominant emotions"),
        NamedQuery("emotions_by_hour", "Emotion count by hour (UTC)"),
        NamedQuery("gender_split", "Gender split"),
        NamedQuery("sentiment_index", "Sentiment index by zone and day"),
        NamedQuery("store_comparison", "Store comparison"),
        NamedQuery("visitors_per_day", "Faces per day"),
    ),
    # Reading order: the QuickSight grid row by row. The report shows the
    # index per zone (its query's rows) where the sheet has the KPI.
    visuals=(
        Visual(
            "sentiment-kpi",
            "Sentiment index (% positive of positive + negative faces)",
            "sentiment_index",
            frozenset({Surface.QUICKSIGHT}),
        ),
        Visual("sentiment-by-zone", "Sentiment index by zone", "sentiment_index", frozenset({Surface.REPORT})),
        Visual("emotion-share", "Emotions", "emotion_share", _BOTH),
        Visual("gender-split", "Gender split", "gender_split", _BOTH),
        Visual("emotions-by-hour", "Emotion count by hour (UTC)", "emotions_by_hour", _BOTH),
        Visual("faces-per-day", "Faces per day", "visitors_per_day", _BOTH),
        Visual("age-bands", "Faces by age band", "age_band_distribution", _BOTH),
    ),
)
