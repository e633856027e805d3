"""Synthetic store-camera stills for the demo: real face photographs in drawn store scenes.

``make demo`` needs camera stills with faces, and no photographs of shoppers
can ship with the project. The faces are real photographs that ship inside the
``scikit-image`` wheel (used as a data carrier: the PNG/NPY files are read
directly, skimage itself is never imported, so its SciPy dependency is not
needed):

* ``skimage/data/lfw_subset.npy``: 100 face crops from Labeled Faces in the
  Wild (25x25 grey, the first 100 of 200 entries), many people and
  expressions;
* ``skimage/data/astronaut.png``: Eileen Collins (NASA portrait, colour);
* ``skimage/data/camera.png``: "cameraman" (grey).

Each frame is a drawn store aisle (floor, shelves with products, lighting that
follows the simulated hour) with zero or more people: a body in clothes
colours and a head that is one of those photographs, sized by its distance
from the camera. Everything is drawn from ``random.Random(seed)`` plus the
device, so the same arguments give the same files, byte for byte.

Frames are written the way ``motion`` writes them with
``picture_filename %Y%m%d-%H%M%S-%q`` (``20261125-093012-01.jpg``), one folder
per camera, on the store's wall clock (its time zone, UTC unless given), with
EXIF ``DateTimeOriginal`` = the same time and ``OffsetTimeOriginal`` = its
offset from UTC; the edge agent reads the capture time from the name in the
time zone it is configured with. The store opens 08:00-20:00 on its own clock.
"""

from __future__ import annotations

import importlib.util
import io
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

FRAME_SIZE = (1280, 720)
#: Store opening hours of the simulated day, on the store's wall clock.
OPENING_HOURS = (time(8, 0), time(20, 0))
#: Relative footfall per opening hour (8:00 .. 19:00): quiet morning, lunch and after-work peaks.
HOURLY_TRAFFIC = (0.3, 0.5, 0.7, 0.8, 1.4, 1.3, 0.8, 0.7, 0.9, 1.3, 1.5, 0.8)
#: Mean people in frame at traffic 1.0.
MEAN_PEOPLE = 1.3
MAX_PEOPLE = 4
JPEG_QUALITY = 85  # motion's picture_quality in edge/motion.conf.snippet

_EXIF_IFD = 0x8769
_TAG_DATETIME = 306
_TAG_DATETIME_ORIGINAL = 36867
_TAG_OFFSET_TIME_ORIGINAL = 36881
_TAG_MODEL = 272
_TAG_SOFTWARE = 305


class FacePhotosMissingError(RuntimeError):
    """scikit-image's sample data, where the face photographs come from, is not installed."""


@dataclass(frozen=True)
class FacePhoto:
    """One face photograph: RGB pixels whose face fills ``face_box`` (x0, y0, x1, y1 ratios)."""

    name: str
    pixels: Image.Image
    face_box: tuple[float, float, float, float]


@dataclass(frozen=True)
class Person:
    """One person drawn into a frame (for tests and the demo's summary)."""

    photo: str
    face_box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the face, frame pixels


@dataclass(frozen=True)
class Frame:
    device_id: str
    zone: str
    captured_at: datetime  # aware, in the store's time zone
    path: Path
    people: tuple[Person, ...]


def _skimage_data() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise FacePhotosMissingError(
            "the demo's face photographs come from scikit-image's sample data: "
            "install it with `pip install --no-deps scikit-image==0.26.0`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@cache
def face_photos() -> tuple[FacePhoto, ...]:
    """The face photographs, each cropped to head and shoulders with the face box known."""
    data = _skimage_data()
    photos: list[FacePhoto] = []
    try:
        lfw = np.load(data / "lfw_subset.npy")
        astronaut = Image.open(data / "astronaut.png").convert("RGB")
        camera = Image.open(data / "camera.png").convert("RGB")
    except OSError as exc:
        raise FacePhotosMissingError(f"scikit-image's sample data is incomplete ({exc}): reinstall it") from exc
    # The first 100 entries are faces (the rest are background patches), tight
    # 25x25 crops of the face from brows to chin.
    for index in range(100):
        grey = Image.fromarray(np.clip(lfw[index] * 255.0, 0, 255).astype(np.uint8))
        photos.append(FacePhoto(f"lfw_subset[{index}]", grey.convert("RGB"), (0.0, 0.0, 1.0, 1.0)))
    # Hand-measured face boxes of the two portraits (pixels of the 512x512 originals).
    photos.append(_portrait("astronaut", astronaut, crop=(145, 30, 310, 215), face=(170, 62, 285, 180)))
    photos.append(_portrait("camera", camera, crop=(180, 90, 305, 225), face=(200, 118, 282, 200)))
    return tuple(photos)


def _portrait(name: str, image: Image.Image, *, crop: tuple[int, int, int, int], face: tuple[int, int, int, int]):
    x0, y0, x1, y1 = crop
    w, h = x1 - x0, y1 - y0
    box = ((face[0] - x0) / w, (face[1] - y0) / h, (face[2] - x0) / w, (face[3] - y0) / h)
    return FacePhoto(name, image.crop(crop), box)


# -- the store ------------------------------------------------------------------

_ZONE_PALETTES = {
    # wall, floor, shelf: a zone keeps its look all day, so frames of one camera resemble each other
    "entrance": ((205, 205, 195), (150, 140, 125), (120, 120, 130)),
    "checkout": ((200, 195, 180), (135, 130, 120), (90, 95, 110)),
}
_PRODUCT_COLOURS = (
    (200, 40, 40),
    (40, 120, 200),
    (240, 200, 40),
    (60, 160, 80),
    (230, 120, 30),
    (150, 60, 160),
    (240, 240, 240),
    (90, 60, 40),
)
_CLOTHES = ((40, 60, 120), (120, 30, 30), (30, 30, 30), (200, 200, 200), (60, 100, 60), (150, 120, 80))
_HAIR = ((30, 25, 20), (70, 50, 30), (120, 90, 50), (160, 160, 160), (20, 20, 20))


def _palette(zone: str) -> tuple[tuple[int, int, int], ...]:
    if zone in _ZONE_PALETTES:
        return _ZONE_PALETTES[zone]
    # Any other zone: a stable look of its own, neutral with a slight tint, as store interiors are.
    zone_rng = random.Random(zone)
    tint = [zone_rng.randint(-15, 15) for _ in range(3)]
    wall, floor, shelf = (205, 200, 190), (145, 138, 128), (105, 108, 118)
    return tuple(
        tuple(max(0, min(255, c + t)) for c, t in zip(base, tint, strict=True)) for base in (wall, floor, shelf)
    )


@cache
def _store_background(zone: str, seed: int) -> Image.Image:
    """The empty aisle a camera in ``zone`` looks at (cached: drawn once per zone and seed)."""
    rng = random.Random(f"{seed}/{zone}/background")
    wall, floor, shelf = _palette(zone)
    width, height = FRAME_SIZE
    image = Image.new("RGB", FRAME_SIZE, wall)
    draw = ImageDraw.Draw(image)
    horizon = int(height * 0.42)
    # Floor in perspective: a lighter band toward the camera, tile lines converging.
    for y in range(horizon, height):
        shade = 0.8 + 0.2 * (y - horizon) / (height - horizon)
        draw.line([(0, y), (width, y)], fill=tuple(int(c * shade) for c in floor))
    for i in range(-8, 9):
        draw.line([(width / 2 + i * 40, horizon), (width / 2 + i * 260, height)], fill=tuple(c - 20 for c in floor))
    # Shelving units along the back wall, stocked with products.
    x = 20
    while x < width - 60:
        unit_w = rng.randint(150, 260)
        draw.rectangle([x, 60, x + unit_w, horizon + 20], fill=shelf, outline=(50, 50, 55), width=3)
        for row_top in range(75, horizon, 55):
            draw.rectangle([x + 6, row_top + 40, x + unit_w - 6, row_top + 46], fill=(60, 60, 65))
            px = x + 10
            while px < x + unit_w - 22:
                pw, ph = rng.randint(10, 24), rng.randint(18, 38)
                colour = rng.choice(_PRODUCT_COLOURS)
                draw.rectangle([px, row_top + 40 - ph, px + pw, row_top + 40], fill=colour, outline=(40, 40, 40))
                px += pw + rng.randint(2, 5)
        x += unit_w + rng.randint(15, 45)
    # Ceiling lights.
    for lx in range(100, width, 240):
        draw.rectangle([lx, 8, lx + 120, 22], fill=(250, 250, 235))
    return image.filter(ImageFilter.GaussianBlur(0.6))


def _lighting(moment: time) -> float:
    """Daylight through the entrance adds to the store lights around midday."""
    hours = moment.hour + moment.minute / 60
    return 0.85 + 0.15 * math.sin(math.pi * (hours - 7) / 14)


def _head(photo: FacePhoto, face_px: int, rng: random.Random) -> tuple[Image.Image, Image.Image, tuple[int, int]]:
    """The photo scaled so its face is ``face_px`` wide, with a soft-edged mask; returns the face's offset."""
    fx0, fy0, fx1, _ = photo.face_box
    scale = face_px / ((fx1 - fx0) * photo.pixels.width)
    size = (max(1, round(photo.pixels.width * scale)), max(1, round(photo.pixels.height * scale)))
    pixels = photo.pixels.resize(size, Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        pixels = pixels.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        fx0, fx1 = 1 - fx1, 1 - fx0
    mask = Image.new("L", size, 0)
    if photo.face_box == (0.0, 0.0, 1.0, 1.0):
        # A tight crop (brows to chin): feathered edges only, a rounder mask
        # would cut off the features a detector needs.
        ImageDraw.Draw(mask).rounded_rectangle([0, 0, size[0] - 1, size[1] - 1], radius=size[0] // 5, fill=255)
    else:
        # A portrait with background around the head: keep the head, lose the studio.
        ImageDraw.Draw(mask).ellipse([0, 0, size[0] - 1, size[1] - 1], fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1, size[0] // 30)))
    return pixels, mask, (round(fx0 * size[0]), round(fy0 * size[1]))


def _draw_person(frame: Image.Image, photo: FacePhoto, cx: int, face_px: int, floor_y: int, rng: random.Random):
    """A person standing with feet near ``floor_y``; returns where the face is."""
    draw = ImageDraw.Draw(frame)
    head, mask, (face_dx, face_dy) = _head(photo, face_px, rng)
    face_top = floor_y - int(face_px * 6.2)
    head_x, head_y = cx - face_dx - face_px // 2, face_top - face_dy
    # Body: shoulders and torso below the head, in a clothes colour.
    clothes = rng.choice(_CLOTHES)
    shoulders_y = face_top + int(face_px * 1.25)
    draw.rounded_rectangle(
        [cx - int(face_px * 1.1), shoulders_y, cx + int(face_px * 1.1), floor_y - int(face_px * 2.4)],
        radius=face_px // 3,
        fill=clothes,
    )
    draw.rectangle(
        [cx - int(face_px * 0.8), floor_y - int(face_px * 2.5), cx + int(face_px * 0.8), floor_y], fill=(40, 40, 50)
    )
    # Neck and hair, so the photo reads as a head rather than a sticker.
    draw.rectangle([cx - face_px // 4, face_top + face_px, cx + face_px // 4, shoulders_y + 4], fill=(190, 150, 125))
    hair = rng.choice(_HAIR)
    draw.ellipse(
        [
            cx - int(face_px * 0.62),
            face_top - int(face_px * 0.35),
            cx + int(face_px * 0.62),
            face_top + int(face_px * 0.9),
        ],
        fill=hair,
    )
    frame.paste(head, (head_x, head_y), mask)
    return (cx - face_px // 2, face_top, cx + face_px // 2, face_top + face_px)


def compose_frame(
    *, zone: str, moment: datetime, people: int, seed: int, rng: random.Random
) -> tuple[Image.Image, tuple[Person, ...]]:
    """One 1280x720 frame of ``zone`` at ``moment`` with ``people`` people (faces from ``face_photos()``)."""
    frame = _store_background(zone, seed).copy()
    photos = face_photos()
    width, height = FRAME_SIZE
    drawn: list[Person] = []
    # Farther people first (painted over by nearer ones), spread across the aisle.
    slots = rng.sample(range(6), k=min(people, 6))
    placements = []
    for slot in slots:
        depth = rng.random()  # 0 far (small, high in frame) .. 1 near
        face_px = int(70 + 70 * depth)
        floor_y = int(height * 0.62 + height * 0.36 * depth) + 6 * face_px // 2
        floor_y = min(floor_y, height + int(face_px * 3.5))  # near people are cut at the waist by the frame
        cx = int((slot + 0.5) * width / 6 + rng.randint(-40, 40))
        placements.append((depth, cx, face_px, floor_y))
    for _depth, cx, face_px, floor_y in sorted(placements):
        photo = rng.choice(photos)
        face = _draw_person(frame, photo, cx, face_px, floor_y, rng)
        drawn.append(Person(photo=photo.name, face_box=face))
    light = _lighting(moment.time())
    pixels = np.asarray(frame, dtype=np.float32) * light
    # Sensor noise, as a cheap camera has.
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0.0, 3.0, pixels.shape)
    out = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    return out, tuple(drawn)


# -- the simulated day ------------------------------------------------------------


def motion_file_name(moment: datetime, frame_in_second: int) -> str:
    """The name motion gives a still with ``picture_filename %Y%m%d-%H%M%S-%q``."""
    return f"{moment:%Y%m%d-%H%M%S}-{frame_in_second:02d}.jpg"


def _exif(moment: datetime, device_id: str) -> bytes:
    exif = Image.Exif()
    stamp = moment.strftime("%Y:%m:%d %H:%M:%S")
    exif[_TAG_DATETIME] = stamp
    exif[_TAG_MODEL] = f"shopper-sentiment synthetic camera {device_id}"
    exif[_TAG_SOFTWARE] = "local/scenes.py (synthetic)"
    ifd = exif.get_ifd(_EXIF_IFD)
    ifd[_TAG_DATETIME_ORIGINAL] = stamp
    offset = moment.strftime("%z")  # +0100
    ifd[_TAG_OFFSET_TIME_ORIGINAL] = f"{offset[:3]}:{offset[3:]}"
    return exif.tobytes()


def _capture_times(day: date, count: int, rng: random.Random, zone: ZoneInfo) -> list[datetime]:
    """``count`` moments in the day's opening hours on the store's clock, busier hours more often."""
    opening = datetime.combine(day, OPENING_HOURS[0], tzinfo=zone)
    # Minutes of wall-clock time open; a day-light-saving change at night leaves them alone.
    minutes_open = (OPENING_HOURS[1].hour - OPENING_HOURS[0].hour) * 60
    # motion saves a still when it sees motion: busier hours give more stills.
    weights = [HOURLY_TRAFFIC[min(m // 60, len(HOURLY_TRAFFIC) - 1)] for m in range(minutes_open)]
    minutes = rng.choices(range(len(weights)), weights=weights, k=count)
    # Wall-clock arithmetic (the zone's offset of that moment), not an elapsed time from the opening.
    return sorted(opening + timedelta(minutes=m, seconds=rng.randrange(60)) for m in minutes)


def _people_in_frame(moment: datetime, rng: random.Random) -> int:
    opening_hour = OPENING_HOURS[0].hour
    traffic = HOURLY_TRAFFIC[min(max(moment.hour - opening_hour, 0), len(HOURLY_TRAFFIC) - 1)]
    # Poisson draw (Knuth) with the hour's mean, capped to what fits the aisle.
    limit, count, product = math.exp(-MEAN_PEOPLE * traffic), 0, rng.random()
    while product > limit and count < MAX_PEOPLE:
        count += 1
        product *= rng.random()
    return count


def compose_day_frames(
    out_dir: Path | str,
    devices: dict[str, str],
    day: date,
    frames_per_device: int,
    seed: int = 0,
    time_zones: Mapping[str, str] | None = None,
) -> list[Frame]:
    """Like ``compose_day``, with what each frame shows (device, zone, time, people and their face boxes)."""
    if frames_per_device < 0:
        raise ValueError(f"frames_per_device must be 0 or more, got {frames_per_device}")
    if not devices:
        raise ValueError("devices is empty: give at least one {device_id: zone}")
    out = Path(out_dir)
    frames: list[Frame] = []
    for device_id in sorted(devices):
        zone = devices[device_id]
        rng = random.Random(f"{seed}/{device_id}/{day.isoformat()}")
        zone_info = ZoneInfo((time_zones or {}).get(device_id, "UTC"))
        folder = out / device_id
        folder.mkdir(parents=True, exist_ok=True)
        per_second: dict[datetime, int] = {}
        for moment in _capture_times(day, frames_per_device, rng, zone_info):
            number = per_second[moment] = per_second.get(moment, 0) + 1
            image, people = compose_frame(
                zone=zone, moment=moment, people=_people_in_frame(moment, rng), seed=seed, rng=rng
            )
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=JPEG_QUALITY, exif=_exif(moment, device_id))
            path = folder / motion_file_name(moment, number)
            # Write then rename: a watcher never sees a half-written still (motion's own habit differs).
            partial = path.with_name(path.name + ".part")
            partial.write_bytes(buffer.getvalue())
            partial.replace(path)
            frames.append(Frame(device_id=device_id, zone=zone, captured_at=moment, path=path, people=people))
    return frames


def compose_day(
    out_dir: Path | str,
    devices: dict[str, str],
    day: date,
    frames_per_device: int,
    seed: int = 0,
    time_zones: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write ``frames_per_device`` stills per device over ``day``'s opening hours; returns their paths.

    ``devices`` maps device id (a camera folder) → zone; ``time_zones`` maps
    it to its store's IANA time zone (UTC when absent). Files land in
    ``out_dir/<device_id>/`` named as motion names them
    (``%Y%m%d-%H%M%S-%q.jpg``, on the store's clock). The same arguments
    always write the same bytes.
    """
    return [frame.path for frame in compose_day_frames(out_dir, devices, day, frames_per_device, seed, time_zones)]
