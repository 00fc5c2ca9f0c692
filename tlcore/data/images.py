"""Decode one image file into an RGB picture, whatever a phone or scanner produced (see image_file),
with the app's limits and its messages."""
from __future__ import annotations

from PIL import Image

from ..core.errors import ImageReadError
from ..core.settings import limits
from .image_file import IMAGE_SUFFIXES, TooManyPixels, UnreadableImage, decode

__all__ = ["IMAGE_SUFFIXES", "decode_image", "make_thumbnail"]
THUMBNAIL_SIZE = (96, 96)
PIXELS_HINT = " (setting max_megapixels in tlcore.toml, at most Pillow's own 89): make the picture smaller."


def decode_image(data: bytes, name: str = "", *, draft_size: int | None = None,
                 max_megapixels: float | None = None) -> Image.Image:
    """Return an upright RGB image or raise ImageReadError with the reason (image_file.decode; the
    pixel limit defaults to the max_megapixels setting)."""
    try:
        return decode(data, name, max_megapixels=max_megapixels or limits().max_megapixels, draft_size=draft_size)
    except TooManyPixels as exc:
        raise ImageReadError(f"{exc}{PIXELS_HINT}") from None
    except UnreadableImage as exc:
        raise ImageReadError(str(exc)) from None


def make_thumbnail(img: Image.Image) -> Image.Image:
    thumb = img.copy()
    thumb.thumbnail(THUMBNAIL_SIZE)
    return thumb
