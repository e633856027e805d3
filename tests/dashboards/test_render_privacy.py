"""The local report says an attribute is not collected, rather than drawing an empty chart of it."""

from __future__ import annotations

import pytest
from shopper_sentiment.dashboards import render
from shopper_sentiment.dashboards.render import VISUALS_OF_ATTRIBUTE, render_visuals

from tests.dashboards.test_render import ANALYZER, local_results


@pytest.mark.parametrize("attribute", sorted(VISUALS_OF_ATTRIBUTE))
def test_a_visual_of_an_attribute_not_collected_says_so(tmp_path, monkeypatch, attribute):
    messages: list[str] = []
    real_message = render._message

    def recording(path, title, message):
        messages.append(message)
        return real_message(path, title, message)

    monkeypatch.setattr(render, "_message", recording)
    collected = render_visuals(tmp_path / "all", local_results(), ANALYZER)
    messages.clear()

    pictures = render_visuals(tmp_path / "off", local_results(), ANALYZER, not_collected=[attribute])

    said = [m for m in messages if "not collected" in m]
    assert said and all(m.startswith(f"{attribute.capitalize()} is not collected") for m in said)
    for visual_id in VISUALS_OF_ATTRIBUTE[attribute]:
        if visual_id in pictures:
            assert pictures[visual_id].read_bytes() != collected[visual_id].read_bytes()
    untouched = set(pictures) - set(VISUALS_OF_ATTRIBUTE[attribute])
    assert untouched and all(pictures[v].exists() for v in untouched)
