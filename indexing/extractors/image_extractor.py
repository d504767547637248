"""Photos and pictures (JPEG, PNG, WebP, TIFF, GIF first frame, BMP) -> one image segment each.

The segment's text is the OCR text (empty when the picture holds none); the picture itself goes to the image
encoders, a thumbnail to the media store, and EXIF fields (camera, time taken, GPS) to the payload. The EXIF
orientation is applied, so a phone photo is embedded and displayed upright.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from core.errors import ExtractionError
from core.protocols import Extracted
from core.types import Granularity, Locator, Modality, Segment, Source, segment_id
from indexing.media.images import EMBED_SIDE, shrink, thumbnail, to_rgb

if TYPE_CHECKING:
    from PIL.Image import Image

    from core.protocols import Ocr

logger = logging.getLogger(__name__)

IMAGE_MIMES = frozenset({"image/jpeg", "image/png", "image/webp", "image/tiff", "image/gif", "image/bmp"})
THUMBNAIL_NAME = "thumb.jpg"
MAX_IMAGE_FRAMES = 10_000
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_TAGS = {0x010F: "camera_make", 0x0110: "camera_model", 0x0131: "software", 0x0132: "datetime"}
_EXIF_TAGS = {0x9003: "datetime_original", 0xA434: "lens_model"}


class ImageExtractor:
    """Reads pictures with Pillow, refusing decompression bombs before decoding them."""

    def __init__(
        self,
        *,
        ocr: Ocr | None = None,
        max_image_pixels: int = 100_000_000,
        max_frames: int = MAX_IMAGE_FRAMES,
    ) -> None:
        """Args:
        ocr: reads text in the picture; None leaves the segment text empty.
        max_image_pixels: refuse pictures with more pixels than this (checked from the header).
        max_frames: refuse animated pictures with more frames than this (`max_image_frames`); only the
            first frame is indexed, but counting frames walks the file.
        """
        self.ocr = ocr
        self.max_image_pixels = max_image_pixels
        self.max_frames = max_frames

    def accepts(self, source: Source) -> bool:
        """Picture types Pillow decodes (sniffed from the bytes)."""
        return source.mime in IMAGE_MIMES

    def extract(self, source: Source, path: str) -> Iterator[Extracted]:
        """Yield one image segment with OCR text, the picture, a thumbnail and EXIF metadata."""
        picture, meta = self._load(path, source.uri)
        text = ""
        if self.ocr is not None:
            text = self._read_text(picture, source.uri)
        locator = Locator()
        segment = Segment(
            segment_id=segment_id(source.source_id, Granularity.IMAGE, locator),
            source_id=source.source_id,
            uri=source.uri,
            modality=Modality.IMAGE,
            granularity=Granularity.IMAGE,
            text=text,
            locator=locator,
            media_ref=THUMBNAIL_NAME,
            metadata=meta,
        )
        yield Extracted(
            segment, images=[shrink(picture, EMBED_SIDE)], media={THUMBNAIL_NAME: thumbnail(picture)}
        )

    def _load(self, path: str, uri: str) -> tuple[Image, dict[str, Any]]:
        """Open, check the size from the header, decode the first frame, apply the EXIF orientation."""
        from PIL import Image as PILImage
        from PIL import ImageOps, UnidentifiedImageError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
                image = PILImage.open(path)
        except PILImage.DecompressionBombError:
            raise ExtractionError(
                uri,
                "image too large to decode safely (a decompression bomb?); not decoded (max_image_pixels)",
            ) from None
        except UnidentifiedImageError:
            raise ExtractionError(uri, "not a readable image (corrupt or unsupported format)") from None
        except OSError as e:
            raise ExtractionError(uri, f"cannot read the image: {e}") from None
        with image:
            width, height = image.size
            if width * height > self.max_image_pixels:
                raise ExtractionError(
                    uri,
                    f"image is {width}x{height} = {width * height / 1e6:.0f} megapixels, over the limit of "
                    f"{self.max_image_pixels / 1e6:.0f} (max_image_pixels); not decoded",
                )
            meta: dict[str, Any] = {"format": image.format, "frames": self._frames(image, uri)}
            meta.update(exif_fields(image))
            try:
                image.seek(0)
                image.load()
                picture = to_rgb(ImageOps.exif_transpose(image) or image)
            except Exception as e:  # Pillow's decoders raise OSError, ValueError, SyntaxError, EOFError...
                raise ExtractionError(uri, f"truncated or corrupt image: {e}") from None
        meta["width"], meta["height"] = picture.size
        return picture, meta

    def _frames(self, image: Image, uri: str) -> int:
        """How many frames the picture has, counting no further than the limit."""
        if not getattr(image, "is_animated", False):
            return 1
        frames = 1
        try:
            while frames <= self.max_frames:
                image.seek(frames)
                frames += 1
        except EOFError:
            return frames
        except Exception as e:  # a broken later frame: the first one may still be fine
            logger.warning("%s: frame %d unreadable: %s", uri, frames, e)
            return frames
        raise ExtractionError(
            uri, f"animated picture with more than {self.max_frames:,} frames (max_image_frames)"
        )

    def _read_text(self, picture: Image, uri: str) -> str:
        """OCR the picture; a failing OCR engine costs the text, never the picture. The time it took is logged,
        not stored: a segment is the same every time its file is extracted."""
        assert self.ocr is not None
        started = time.perf_counter()
        try:
            text = self.ocr.read(picture)
        except Exception as e:  # onnxruntime errors are not a bad file: index the picture without text
            logger.warning("%s: OCR failed: %s", uri, e)
            text = ""
        logger.debug("%s: OCR took %.3f s", uri, time.perf_counter() - started)
        return text


def exif_fields(image: Image) -> dict[str, Any]:
    """Camera, time taken, orientation and GPS position from a picture's EXIF, as JSON-ready fields."""
    try:
        exif = image.getexif()
    except Exception:  # malformed EXIF must not fail the picture
        return {}
    fields: dict[str, Any] = {name: _clean(exif.get(tag)) for tag, name in _TAGS.items() if exif.get(tag)}
    sub = exif.get_ifd(_EXIF_IFD)
    fields.update({name: _clean(sub.get(tag)) for tag, name in _EXIF_TAGS.items() if sub.get(tag)})
    camera = " ".join(str(fields[k]) for k in ("camera_make", "camera_model") if k in fields)
    if camera:
        fields["camera"] = camera
    taken = fields.get("datetime_original") or fields.get("datetime")
    if isinstance(taken, str) and len(taken) >= 19:  # EXIF writes "YYYY:MM:DD HH:MM:SS"
        fields["taken_at"] = taken[:10].replace(":", "-") + "T" + taken[11:19]
    if exif.get(0x0112):
        fields["orientation"] = int(exif[0x0112])
    fields.update(_gps(exif.get_ifd(_GPS_IFD)))
    return fields


def _gps(gps: Any) -> dict[str, float]:
    """Decimal degrees from the GPS IFD (1/2: latitude ref/value, 3/4: longitude, 6: altitude)."""
    try:
        if not gps or 2 not in gps or 4 not in gps:
            return {}
        lat = _degrees(gps[2]) * (-1 if str(gps.get(1, "N")).upper().startswith("S") else 1)
        lon = _degrees(gps[4]) * (-1 if str(gps.get(3, "E")).upper().startswith("W") else 1)
        out = {"gps_lat": round(lat, 6), "gps_lon": round(lon, 6)}
        if 6 in gps:
            out["gps_alt"] = round(float(gps[6]), 1)
        # x/0 rationals come out as NaN without raising: drop what is not a number
        return {k: v for k, v in out.items() if math.isfinite(v)}
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return {}


def _degrees(dms: Any) -> float:
    d, m, s = (float(x) for x in dms)
    return d + m / 60 + s / 3600


def _clean(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip("\x00 ").strip() if isinstance(value, str) else value
