"""Frame thinning benchmark: labelled synthetic store sequences through the
edge agent's thinning rule (shopper_edge.thinning, the code the agent runs).

Four sequences of 640x480 JPEG stills at 2 frames/s with sensor noise: a
static scene, people entering (some far away and small, some dressed close
to the background, some only half in the frame), people moving, and lighting
changes (slow dimming and auto-exposure steps, with someone walking in during
one). Every frame is labelled by what it shows compared with the previous
frame: ``unchanged`` (same people in the same places; lighting may differ),
``new_person`` (someone who was not in the previous frame is visible) or
``moved`` (same people, other places).

Each frame is decided as the agent decides: compared with the last frame
*not* skipped (the camera's last upload), skipped only within
``thinning.window_seconds`` of it. Prints, for the agent's rule and for the
64-bit dHash rule it replaced (distance <= 6): the share of unchanged frames
skipped (target >= 90%, issue 15), how many new-person frames were skipped
(target 0, issue 15), the share of moved frames skipped, and the CPU time per
frame of the decision (decode + compare). Every figure is also recorded in
.bench/results.json (bench/results.py).

Run from the repo root: .venv/bin/python bench/bench_thinning.py
"""

from __future__ import annotations

import io
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw
from shopper_edge import thinning
from shopper_edge.config import ThinningConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results import BenchRun, Figure, Target

SIZE = (640, 480)
FPS = 2.0
NOISE_SIGMA = 4.0
JPEG_QUALITY = 85
SEED = 15
DEFAULTS = ThinningConfig()
ISSUE = "issue 15"


@dataclass
class Person:
    x: int  # centre of the body
    feet: int  # y of the feet
    height: int
    clothes: tuple[int, int, int]
    skin: tuple[int, int, int] = (200, 160, 130)

    def draw(self, draw: ImageDraw.ImageDraw, mask: int | None = None) -> None:
        """Draw the person; with ``mask``, every part in that one level (a label image)."""
        h = self.height
        w = h // 4
        top = self.feet - h
        head = h // 7
        skin: object = self.skin if mask is None else mask
        clothes: object = self.clothes if mask is None else mask
        legs: object = tuple(max(0, c - 40) for c in self.clothes) if mask is None else mask
        draw.ellipse((self.x - head // 2, top, self.x + head // 2, top + head), fill=skin)
        draw.rounded_rectangle((self.x - w // 2, top + head, self.x + w // 2, top + int(h * 0.6)), 6, clothes)
        draw.rectangle((self.x - w // 2 + 2, top + int(h * 0.6), self.x - 2, self.feet), legs)
        draw.rectangle((self.x + 2, top + int(h * 0.6), self.x + w // 2 - 2, self.feet), legs)


@dataclass
class Frame:
    people: list[Person]
    label: str
    gain: float = 1.0


@dataclass
class Sequence:
    name: str
    frames: list[Frame] = field(default_factory=list)


def store_background(rng: random.Random) -> Image.Image:
    """A shop aisle: wall, floor, shelves with products - texture for a change detector to look at."""
    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE[1]):
        level = 150 + y // 8 if y < 200 else 110 + (y - 200) // 6
        draw.line((0, y, SIZE[0], y), fill=(level, level - 5, level - 12))
    for shelf in range(3):
        left = 20 + shelf * 215
        draw.rectangle((left, 60, left + 180, 260), fill=(90, 80, 70))
        for row in range(4):
            y = 70 + row * 48
            x = left + 6
            while x < left + 172:
                width = rng.randint(8, 22)
                colour = tuple(rng.randint(40, 230) for _ in range(3))
                draw.rectangle((x, y, min(x + width, left + 174), y + rng.randint(25, 40)), fill=colour)
                x += width + 2
    return image


def render(background: Image.Image, frame: Frame, rng: random.Random) -> bytes:
    image = background.copy()
    draw = ImageDraw.Draw(image)
    for person in sorted(frame.people, key=lambda p: p.feet):
        person.draw(draw)
    if frame.gain != 1.0:
        image = image.point([min(255, round(level * frame.gain)) for level in range(256)] * 3)
    noise = Image.effect_noise(SIZE, NOISE_SIGMA).convert("RGB")
    image = ImageChops.add(image, noise, scale=1.0, offset=-128)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _person(rng: random.Random, *, far: bool = False, contrast_with: tuple[int, int, int] | None = None) -> Person:
    feet = rng.randint(300, 360) if far else rng.randint(380, 475)
    height = (feet - 180) if far else int((feet - 150) * 1.1)
    if contrast_with is not None:
        # Dressed close to what is behind them: about 25 grey levels apart.
        shift = rng.choice((-25, 25))
        clothes = tuple(max(0, min(255, c + shift)) for c in contrast_with)
    else:
        clothes = tuple(rng.randint(20, 235) for _ in range(3))
    return Person(x=rng.randint(60, 580), feet=feet, height=height, clothes=clothes)  # type: ignore[arg-type]


def visible_pixels(people: list[Person], person: Person) -> int:
    """How many pixels of ``person`` the others (nearer the camera) leave visible in the frame."""
    mask = Image.new("L", SIZE, 0)
    draw = ImageDraw.Draw(mask)
    for index, other in enumerate(sorted(people, key=lambda p: p.feet), start=1):
        other.draw(draw, mask=index)
    label = sorted(people, key=lambda p: p.feet).index(person) + 1
    return mask.histogram()[label]


def _visible(rng: random.Random, people: list[Person], person: Person) -> Person:
    """Move a newcomer until at least 300 pixels of them show: a label must say what the frame shows."""
    while visible_pixels([*people, person], person) < 300:
        person.x = rng.randint(60, 580)
    return person


def _still(frames: list[Frame], people: list[Person], count: int, gain: float = 1.0) -> None:
    frames += [Frame([*people], "unchanged", gain) for _ in range(count)]


def sequences(seed: int) -> Iterator[tuple[Sequence, Image.Image]]:
    rng = random.Random(seed)

    static = Sequence("static scene")
    background = store_background(rng)
    static.frames.append(Frame([], "first"))
    _still(static.frames, [], 119)
    standing = [_person(rng)]
    standing.append(_visible(rng, standing, _person(rng, far=True)))
    static.frames.append(Frame([*standing], "new_person"))
    _still(static.frames, standing, 80)
    yield static, background

    entering = Sequence("people entering")
    background = store_background(rng)
    entering.frames.append(Frame([], "first"))
    _still(entering.frames, [], 10)
    present: list[Person] = []
    wall = background.getpixel((320, 150))
    floor = background.getpixel((320, 440))
    for index in range(24):
        kind = index % 4
        if kind == 0:
            person = _person(rng)
        elif kind == 1:
            person = _person(rng, far=True)  # small: about 100 px tall, 25 px wide
        elif kind == 2:
            person = _person(rng, contrast_with=floor if rng.random() < 0.5 else wall)  # type: ignore[arg-type]
        else:
            person = _person(rng)
            person.x = rng.choice((-person.height // 10, SIZE[0] + person.height // 10))  # half in the frame
        present = [*present[-3:], _visible(rng, present[-3:], person)]  # up to four people at a time
        entering.frames.append(Frame([*present], "new_person"))
        _still(entering.frames, present, rng.randint(3, 12))
    yield entering, background

    moving = Sequence("people moving")
    background = store_background(rng)
    walkers = [_person(rng) for _ in range(3)]
    moving.frames.append(Frame([*walkers], "first"))
    for step in range(150):
        for walker in walkers:
            walker.x = max(20, min(620, walker.x + rng.choice((-1, 1)) * rng.randint(8, 30)))
        if step % 50 == 25:
            newcomer = _visible(rng, walkers[1:], _person(rng, far=step % 100 == 25))
            walkers = [*walkers[1:], newcomer]
            moving.frames.append(Frame([Person(**vars(w)) for w in walkers], "new_person"))
        else:
            moving.frames.append(Frame([Person(**vars(w)) for w in walkers], "moved"))
    yield moving, background

    lighting = Sequence("lighting changes")
    background = store_background(rng)
    people = [_person(rng)]
    lighting.frames.append(Frame([*people], "first"))
    gain = 1.0
    for step in range(160):
        if step < 60:
            gain = 1.0 - 0.3 * step / 60  # dusk, or a light dimming slowly
        elif step % 20 == 0:
            gain = rng.uniform(0.75, 1.25)  # auto-exposure steps
        if step == 100:
            people = [*people, _visible(rng, people, _person(rng, far=True))]
            lighting.frames.append(Frame([*people], "new_person", gain))
        else:
            lighting.frames.append(Frame([*people], "unchanged", gain))
    yield lighting, background


@dataclass
class Tally:
    frames: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    decisions: int = 0

    def add(self, label: str, skipped: bool) -> None:
        self.frames[label] = self.frames.get(label, 0) + 1
        self.skipped[label] = self.skipped.get(label, 0) + int(skipped)

    def share(self, label: str) -> float:
        return self.skipped.get(label, 0) / self.frames[label] if self.frames.get(label) else float("nan")


def region_rule() -> Callable[[bytes], object]:
    size = thinning.thumbnail_size(DEFAULTS.grid_columns, DEFAULTS.grid_rows)
    return lambda data: thinning.decode(data, size)


def region_skips(current: object, reference: object, gap: float) -> bool:
    assert isinstance(current, thinning.Thumbnail) and isinstance(reference, thinning.Thumbnail)
    return (
        thinning.skippable(
            current,
            gap,
            reference,
            0.0,
            window_seconds=DEFAULTS.window_seconds,
            cell_threshold=DEFAULTS.cell_threshold,
        )
        is not None
    )


def dhash(data: bytes) -> int:
    """The rule thinning used before issue 15: 64-bit difference hash of a 9x8 grey image."""
    with Image.open(io.BytesIO(data)) as image:
        image.draft("L", (72, 64))
        pixels = image.convert("L").resize((9, 8), Image.Resampling.BILINEAR).tobytes()
    value = 0
    for row in range(8):
        for col in range(8):
            value = (value << 1) | (1 if pixels[row * 9 + col] > pixels[row * 9 + col + 1] else 0)
    return value


def dhash_skips(current: object, reference: object, gap: float) -> bool:
    assert isinstance(current, int) and isinstance(reference, int)
    return gap <= 10.0 and (current ^ reference).bit_count() <= 6


def decide(
    stills: list[tuple[Frame, bytes]],
    features: Callable[[bytes], object],
    skips: Callable[[object, object, float], bool],
) -> tuple[Tally, list[int]]:
    """Run one rule over one sequence as the agent does; returns the tally and the skipped new-person frames."""
    tally = Tally()
    missed: list[int] = []
    reference: object = None
    reference_at = 0.0
    for index, (frame, data) in enumerate(stills):
        at = index / FPS
        started = time.process_time()
        current = features(data)
        skipped = reference is not None and skips(current, reference, at - reference_at)
        tally.seconds += time.process_time() - started
        tally.decisions += 1
        if not skipped:
            reference, reference_at = current, at
        if frame.label != "first":
            tally.add(frame.label, skipped)
        if skipped and frame.label == "new_person":
            missed.append(index)
    return tally, missed


def main() -> None:
    parameters = {
        "frame_size": list(SIZE),
        "frames_per_second": FPS,
        "noise_sigma": NOISE_SIGMA,
        "jpeg_quality": JPEG_QUALITY,
        "seed": SEED,
        "window_seconds": DEFAULTS.window_seconds,
        "grid": [DEFAULTS.grid_columns, DEFAULTS.grid_rows],
        "cell_threshold": DEFAULTS.cell_threshold,
    }
    with BenchRun(__file__, parameters=parameters) as run:
        measure(run)


def measure(run: BenchRun) -> None:
    started = time.perf_counter()
    rendered: list[tuple[Sequence, list[tuple[Frame, bytes]]]] = []
    for sequence, background in sequences(SEED):
        rng = random.Random(f"{SEED}/{sequence.name}")
        rendered.append((sequence, [(frame, render(background, frame, rng)) for frame in sequence.frames]))
    count = sum(len(s) for _, s in rendered)
    made = time.perf_counter() - started
    run.show(
        f"{count} labelled stills {SIZE[0]}x{SIZE[1]} at {FPS:g}/s in {len(rendered)} sequences "
        f"({made:.1f}s to render); window {DEFAULTS.window_seconds:g} s",
        Figure("stills", count, "stills"),
    )
    rules = {
        "regions": (region_rule(), region_skips),
        "dHash": (dhash, dhash_skips),
    }
    for rule, (features, skips) in rules.items():
        total = Tally()
        missed_total = 0
        name = (
            f"grid {DEFAULTS.grid_columns}x{DEFAULTS.grid_rows}, cell threshold {DEFAULTS.cell_threshold:g}"
            if rule == "regions"
            else "64-bit dHash, distance <= 6 (before issue 15)"
        )
        run.show(f"{rule} ({name}):")
        for sequence, stills in rendered:
            tally, missed = decide(stills, features, skips)
            missed_total += len(missed)
            for label in tally.frames:
                total.frames[label] = total.frames.get(label, 0) + tally.frames[label]
                total.skipped[label] = total.skipped.get(label, 0) + tally.skipped[label]
            total.seconds += tally.seconds
            total.decisions += tally.decisions
            parts = [
                f"{label} {tally.skipped[label]}/{tally.frames[label]} skipped"
                for label in ("unchanged", "new_person", "moved")
                if label in tally.frames
            ]
            run.show(f"  {sequence.name:<17} " + ", ".join(parts) + (f" (missed frames {missed})" if missed else ""))
        unchanged, moved = total.share("unchanged") * 100, total.share("moved") * 100
        cpu_ms = total.seconds * 1000 / total.decisions
        official = rule == "regions"
        run.show(
            f"  unchanged frames skipped: {unchanged:.1f}% of {total.frames['unchanged']}; "
            f"new-person frames skipped: {missed_total} of {total.frames['new_person']}; "
            f"moved frames skipped: {moved:.1f}%; CPU {cpu_ms:.2f} ms/still",
            Figure(
                f"{rule}: unchanged frames skipped", unchanged, "%", Target.at_least(90, ISSUE) if official else None
            ),
            Figure(
                f"{rule}: new-person frames skipped",
                missed_total,
                "frames",
                Target.at_most(0, ISSUE) if official else None,
            ),
            Figure(f"{rule}: moved frames skipped", moved, "%"),
            Figure(f"{rule}: CPU per still (decode + decide)", cpu_ms, "ms"),
        )


if __name__ == "__main__":
    main()
