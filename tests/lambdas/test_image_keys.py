from datetime import UTC, datetime

import pytest
from shopper_analyze.image_keys import KeyLayoutError, parse_image_key


def test_key_in_layout_gives_device_camera_and_capture_time():
    key = parse_image_key("incoming/pi-s001_entrance/door-2/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg")

    assert key.device_id == "pi-s001_entrance"
    assert key.camera_id == "door-2"
    assert key.captured_at == datetime(2026, 3, 14, 9, 26, 53, 412000, tzinfo=UTC)
    assert key.content_sha == "3f9a1c2be4d7"


def test_capture_just_before_midnight_stays_on_its_utc_date():
    key = parse_image_key("incoming/pi-1/cam-1/2025/12/31/20251231T235959999Z-000000000000.jpg")

    assert key.captured_at == datetime(2025, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("pi-1/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg", id="not-under-incoming"),
        pytest.param("incoming/pi-1/cam-1/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.png", id="png"),
        pytest.param("incoming/pi-1/cam-1/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.JPG", id="upper-case-extension"),
        pytest.param("incoming/pi-1/cam-1/2026/03/14/20260314T092653412Z-3F9A1C2BE4D7.jpg", id="upper-case-sha"),
        pytest.param("incoming/pi-1/cam-1/2026/03/14/20260314T092653412Z-3f9a1c2be4d.jpg", id="short-sha"),
        pytest.param("incoming/pi-1/cam-1/2026/03/14/20260314T092653Z-3f9a1c2be4d7.jpg", id="no-millis"),
        pytest.param("incoming/pi-1/cam-1/2026/03/14/20260314T092653412-3f9a1c2be4d7.jpg", id="no-zulu"),
        pytest.param(
            "incoming/-pi/cam-1/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg", id="device-starts-with-dash"
        ),
        pytest.param("incoming/caméra/cam-1/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg", id="unicode-device"),
        pytest.param("incoming/pi 1/cam-1/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg", id="space-in-device"),
        pytest.param("incoming/pi-1/cam-1/2026/03/14/x/20260314T092653412Z-3f9a1c2be4d7.jpg", id="extra-folder"),
        pytest.param("incoming/pi-1/cam-1/2026/03/20260314T092653412Z-3f9a1c2be4d7.jpg", id="missing-day-folder"),
        pytest.param("incoming/pi-1/cam-1/2026/03/15/20260314T092653412Z-3f9a1c2be4d7.jpg", id="day-folder-disagrees"),
        pytest.param("incoming/pi-1/cam-1/2026/02/30/20260230T092653412Z-3f9a1c2be4d7.jpg", id="impossible-date"),
        pytest.param("incoming/pi-1/cam-1/2026/03/14/20260314T256053412Z-3f9a1c2be4d7.jpg", id="impossible-hour"),
        pytest.param("incoming/pi-1/cam-1/٢٠٢٦/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg", id="non-ascii-digits"),
        pytest.param("incoming/pi-1/cam-1/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg\n", id="trailing-newline"),
        pytest.param(
            "incoming/" + "p" * 129 + "/cam-1/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg", id="long-device"
        ),
        pytest.param("incoming/pi-1/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg", id="no-camera-segment"),
        pytest.param("incoming/pi-1/cam 1/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg", id="space-in-camera"),
        pytest.param(
            "incoming/pi-1/_cam/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg", id="camera-starts-with-underscore"
        ),
        pytest.param(
            "incoming/pi-1/" + "c" * 65 + "/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg", id="long-camera"
        ),
    ],
)
def test_key_outside_the_layout_is_rejected(key):
    with pytest.raises(KeyLayoutError):
        parse_image_key(key)
