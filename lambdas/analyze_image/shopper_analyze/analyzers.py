"""The face analyzer interface and its production implementation (Rekognition).

An analyzer turns one S3 object into DetectFaces-shaped ``FaceDetails``. The
local, offline analyzer (issue 6) implements the same protocol; the record
builder only needs the list and the analyzer's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_rekognition import RekognitionClient  # type stubs only, never at runtime

INVALID_IMAGE_FORMAT = "invalid-image-format"
IMAGE_TOO_LARGE = "image-too-large"
#: DetectFaces' InvalidParameterException for a well-formed request: a property
#: of the image (for example under 80 pixels on a side, Rekognition's minimum).
INVALID_PARAMETER = "invalid-parameter"
#: The reasons the analyzer can give (a registered camera's image quarantined by its content).
REJECTION_REASONS = (INVALID_IMAGE_FORMAT, IMAGE_TOO_LARGE, INVALID_PARAMETER)

# Rekognition reads the object itself; limit from the Rekognition developer
# guide ("Guidelines and quotas": 15 MB for an image stored in S3).
MAX_S3_IMAGE_BYTES = 15 * 1024 * 1024


class ImageRejectedError(Exception):
    """The analyzer can never analyze this object: it is quarantined, not retried."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class ImageUnreadableError(Exception):
    """The analyzer could not read the object: gone, or a permission/encryption problem."""


class FaceAnalyzer(Protocol):
    #: Written to every record's ``analyzer`` column.
    name: str

    def detect_faces(self, *, bucket: str, key: str, version_id: str | None) -> list[dict[str, Any]]:
        """DetectFaces-shaped ``FaceDetails`` (all attributes) for the object.

        An analyzer that can leave attributes out also accepts
        ``attributes=`` (DetectFaces ``Attributes`` values); it is passed only
        when a camera's privacy profile turns some attributes off.
        """
        ...


# Errors that say "this image", not "try again": quarantine reasons.
_REJECTED = {
    "InvalidImageFormatException": INVALID_IMAGE_FORMAT,
    "ImageTooLargeException": IMAGE_TOO_LARGE,
    # The request is always the same shape (an S3 object and attribute names
    # botocore validates), so what is left to violate a constraint is the
    # image: retrying it would only bill it again, five times, then dead-letter it.
    "InvalidParameterException": INVALID_PARAMETER,
}


class RekognitionAnalyzer:
    """Rekognition DetectFaces on the S3 object (the image never passes through the Lambda)."""

    name = "rekognition"

    def __init__(self, client: RekognitionClient) -> None:
        self._client = client

    def detect_faces(
        self, *, bucket: str, key: str, version_id: str | None, attributes: Sequence[str] = ("ALL",)
    ) -> list[dict[str, Any]]:
        s3_object: dict[str, str] = {"Bucket": bucket, "Name": key}
        if version_id:
            s3_object["Version"] = version_id  # analyze exactly the version the event named
        try:
            # Attributes a camera's privacy profile turns off are not even estimated.
            response = self._client.detect_faces(Image={"S3Object": s3_object}, Attributes=list(attributes))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _REJECTED:
                raise ImageRejectedError(_REJECTED[code], code) from exc
            if code == "InvalidS3ObjectException":
                raise ImageUnreadableError(code) from exc
            # Throttling (after the client's adaptive retries), server errors,
            # access denied: transient or a deployment bug, never the image's
            # fault, so the message is retried and ends in the DLQ if it persists.
            raise
        return list(response.get("FaceDetails", []))
