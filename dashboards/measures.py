"""What the derived measures mean, in one place.

The age bands, the emotion sentiment split and the attention thresholds
appear twice: in the Athena queries (``queries/*.sql``) and in the QuickSight
dataset (``shopper_sentiment.dashboards.quicksight``: its SQL and calculated fields). The SQL
files cannot import Python, so the tests check that they use exactly these
values.
"""

from __future__ import annotations

from shopper_sentiment.contracts.schema import EMOTIONS

#: (label, lower bound inclusive) of each band, applied to the midpoint of
#: Rekognition's estimated age range. The last band is open-ended.
AGE_BANDS: tuple[tuple[str, int], ...] = (
    ("0-17", 0),
    ("18-24", 18),
    ("25-34", 25),
    ("35-44", 35),
    ("45-54", 45),
    ("55-64", 55),
    ("65+", 65),
)
UNKNOWN = "unknown"

#: The sentiment index is the share of positive among positive + negative
#: faces. Calm counts as positive (a relaxed shopper); confused as negative
#: (a shopper who cannot find something); surprised can go either way.
POSITIVE_EMOTIONS: tuple[str, ...] = ("happy", "calm")
NEGATIVE_EMOTIONS: tuple[str, ...] = ("sad", "angry", "confused", "disgusted", "fear")
NEUTRAL_EMOTIONS: tuple[str, ...] = ("surprised",)

if sorted(POSITIVE_EMOTIONS + NEGATIVE_EMOTIONS + NEUTRAL_EMOTIONS) != sorted(EMOTIONS):
    raise RuntimeError(
        "dashboards/measures.py: every emotion in shopper_sentiment/contracts/schema.py must be "
        "positive, negative or neutral"
    )


def age_band_upper_bounds() -> tuple[int, ...]:
    """The exclusive upper bound of every band but the last (what a CASE compares with)."""
    return tuple(lower for _, lower in AGE_BANDS[1:])


#: Attention: a face counts as turned toward the camera when its head pose is
#: within both limits, in degrees, inclusive: ``abs(pose_yaw) <= 30`` (turned
#: left or right) and ``abs(pose_pitch) <= 20`` (tilted up or down).
#: Rekognition gives yaw and pitch in degrees from -180 to 180 with the camera
#: as the reference, so 0/0 looks straight into the lens. The limits are this
#: project's choice, not a Rekognition recommendation: a head turned more than
#: about 30 degrees aside, or tilted more than 20 degrees up or down, is
#: looking past a display mounted beside the camera. Faces without a pose
#: estimate (the local analyzer gives none) are left out of the share.
ATTENTION_MAX_ABS_YAW = 30
ATTENTION_MAX_ABS_PITCH = 20
