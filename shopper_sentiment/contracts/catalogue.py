"""The named queries and the visuals drawn from their answers, in one list.

Three places show the same analyses and must call them the same: the Athena
named queries (``shopper_sentiment/tiers/analytics.py`` creates one per entry of
``NAMED_QUERIES``, its SQL read from ``dashboards/queries/<name>.sql``), the
QuickSight sheet (``dashboards/quicksight/definition.py``) and the local HTML
report (``dashboards/render.py``). Each reads its names, titles and visual
order from here.

A visual belongs to one or both surfaces. The QuickSight sheet aggregates the
dataset itself and the report draws the query's rows, so a visual names the
query whose answer it shows: the question the picture answers. Hours and days
are the store's own wall clock (``hour(captured_at_local)`` and ``dt``, the
store-local capture date); a title that mentions hours or days says
"(store-local time)". Counts are called what they are: a face is a sighting,
never a visitor; "people present" is an estimate from the ``images`` table
whose method and limits the visual's description states.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from shopper_sentiment.contracts.analyze_function import ATTRIBUTE_GROUPS


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
    #: What the figure measures and its limits, for people: QuickSight's
    #: subtitle and the report's caption (empty: the query's question alone).
    description: str = ""
    #: The privacy profile's attribute group the figure is drawn from
    #: (shopper_sentiment/contracts/analyze_function.py ATTRIBUTE_GROUPS), if any: where no camera
    #: collects it, both surfaces say so instead of drawing an empty chart.
    attribute: str | None = None


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
            if visual.attribute is not None and visual.attribute not in ATTRIBUTE_GROUPS:
                raise ValueError(f"catalogue: visual {visual.id!r} draws {visual.attribute!r}, no attribute group")

    def query(self, name: str) -> NamedQuery:
        for query in self.queries:
            if query.name == name:
                return query
        raise KeyError(f"{name!r} is not a named query of shopper_sentiment/contracts/catalogue.py")

    def visual(self, visual_id: str) -> Visual:
        for visual in self.visuals:
            if visual.id == visual_id:
                return visual
        raise KeyError(f"{visual_id!r} is not a visual of shopper_sentiment/contracts/catalogue.py")

    def visuals_on(self, surface: Surface) -> tuple[Visual, ...]:
        """The visuals ``surface`` shows, in reading order."""
        return tuple(v for v in self.visuals if surface in v.surfaces)


_LOCAL = "(store-local time)"

#: How the people-present estimate is made and what it cannot do (visuals and docs say the same).
PEOPLE_PRESENT_METHOD = (
    "Estimate of people in a camera's view: the average number of faces per analyzed still "
    "(peak: the most faces in one still), per camera, in the store's local hour. No identity and "
    "no tracking: the same person in several stills is in each, and a person seen by two cameras "
    "counts twice. Stills are taken on motion; faces turned away or hidden are not counted."
)
ATTENTION_METHOD = (
    "Share of faces with a head pose estimate whose yaw is within \u00b130\u00b0 and pitch within "
    "\u00b120\u00b0 of the camera (dashboards/measures.py). Counts sightings, not people; needs no identity."
)
SIGHTINGS = "Faces are sightings, not people: a shopper in view for three stills counts three times."

CATALOGUE = Catalogue(
    queries=(
        NamedQuery("age_band_distribution", "Faces by age band"),
        NamedQuery("attention_by_zone_hour", f"Attention: faces turned toward the camera by zone and hour {_LOCAL}"),
        NamedQuery("busiest_hours_per_zone", f"Busiest hours per zone by face sightings {_LOCAL}"),
        NamedQuery("emotion_share", "Share of dominant emotions"),
        NamedQuery("emotions_by_hour", f"Faces by dominant emotion and hour {_LOCAL}"),
        NamedQuery("faces_per_day", f"Face sightings per day {_LOCAL}"),
        NamedQuery("gender_split", "Gender split"),
        NamedQuery("people_present_by_zone_hour", f"People present by zone and hour {_LOCAL}"),
        NamedQuery("sentiment_index", f"Sentiment index by zone and day {_LOCAL}"),
        NamedQuery("stills_per_camera_hour", f"Stills per camera and hour {_LOCAL}"),
        NamedQuery("stills_with_people", f"Share of stills with anyone in them by zone and hour {_LOCAL}"),
        NamedQuery("store_comparison", "Store comparison"),
    ),
    # Reading order: the QuickSight grid row by row. The report shows the
    # index per zone (its query's rows) where the sheet has the KPI, and the
    # camera uptime figures the sheet leaves to the named queries.
    visuals=(
        Visual(
            "people-present-kpi",
            "People present (average faces per still, per camera)",
            "people_present_by_zone_hour",
            frozenset({Surface.QUICKSIGHT}),
            PEOPLE_PRESENT_METHOD,
        ),
        Visual(
            "sentiment-kpi",
            "Sentiment index (% positive of positive + negative faces)",
            "sentiment_index",
            frozenset({Surface.QUICKSIGHT}),
            attribute="emotions",
        ),
        Visual("emotion-share", "Emotions", "emotion_share", _BOTH, SIGHTINGS, attribute="emotions"),
        Visual(
            "people-present-by-hour",
            f"People present by hour {_LOCAL}",
            "people_present_by_zone_hour",
            _BOTH,
            PEOPLE_PRESENT_METHOD,
        ),
        Visual(
            "attention-by-hour",
            f"Attention: faces turned toward the camera by hour {_LOCAL}",
            "attention_by_zone_hour",
            _BOTH,
            ATTENTION_METHOD,
        ),
        Visual(
            "sentiment-by-zone",
            f"Sentiment index by zone and day {_LOCAL}",
            "sentiment_index",
            frozenset({Surface.REPORT}),
            attribute="emotions",
        ),
        Visual(
            "emotions-by-hour",
            f"Faces by dominant emotion and hour {_LOCAL}",
            "emotions_by_hour",
            _BOTH,
            SIGHTINGS,
            attribute="emotions",
        ),
        Visual(
            "stills-with-people",
            f"Share of stills with anyone in them by hour {_LOCAL}",
            "stills_with_people",
            frozenset({Surface.REPORT}),
            "Analyzed stills in which at least one face was kept. Stills are taken on motion.",
        ),
        Visual(
            "stills-per-camera",
            f"Stills per camera and hour {_LOCAL}",
            "stills_per_camera_hour",
            frozenset({Surface.REPORT}),
            "Every still a camera delivered, analyzed or quarantined; a blank hour is a gap "
            "(nothing moved, or the camera stopped).",
        ),
        Visual("faces-per-day", f"Face sightings per day {_LOCAL}", "faces_per_day", _BOTH, SIGHTINGS),
        Visual("age-bands", "Faces by age band", "age_band_distribution", _BOTH, SIGHTINGS, attribute="age"),
        Visual("gender-split", "Gender split", "gender_split", _BOTH, SIGHTINGS, attribute="gender"),
    ),
)
