"""Decode one image file into an RGB picture, whatever a phone or scanner produced."""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..core.errors import ImageReadError
from ..core.settings import limits, readable

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
UNSUPPORTED_SUFFIXES = {".heic": "HEIC", ".heif": "HEIF", ".avif": "AVIF"}
# HEIF-family files (iPhone photos) start with an ISO box "ftyp" and a brand, whatever their name says.
UNSUPPORTED_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"hevc": "HEIC", b"heim": "HEIC", b"heis": "HEIC",
                      b"mif1": "HEIF", b"msf1": "HEIF", b"avif": "AVIF", b"avis": "AVIF"}
THUMBNAIL_SIZE = (96, 96)


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot >= 0 else ""


def _unsupported_format(data: bytes, name: str) -> str | None:
    """HEIC/HEIF/AVIF, named by the file's content first (a renamed iPhone photo), else by its suffix."""
    if data[4:8] == b"ftyp" and data[8:12] in UNSUPPORTED_BRANDS:
        return UNSUPPORTED_BRANDS[data[8:12]]
    return UNSUPPORTED_SUFFIXES.get(_suffix(name))


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB: alpha goes on white, 16-bit is rescaled."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        scale = 255.0 / 65535.0 if img.mode != "I" or np.asarray(img).max() > 255 else 1.0
        grey = np.clip(np.asarray(img, dtype=np.float32) * scale, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if img.mode == "F":
        grey = np.clip(np.asarray(img, dtype=np.float32), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB") if img.mode != "RGB" else img


def _too_many_pixels(max_megapixels: float, size: str = "") -> ImageReadError:
    return ImageReadError(f"too many pixels{size}; the limit is {readable(max_megapixels)} megapixels "
                          "(setting max_megapixels in tlcore.toml, at most Pillow's own 89): make the picture smaller.")


def decode_image(data: bytes, name: str = "", *, draft_size: int | None = None,
                 max_megapixels: float | None = None) -> Image.Image:
    """Return an upright RGB image or raise ImageReadError with the reason.

    draft_size lets JPEG decoding skip detail below that many pixels (much faster for photos).
    GIFs and multi-page TIFFs give their first frame. Images over max_megapixels (default: the
    max_megapixels setting) are refused before they are decoded.
    """
    unsupported = _unsupported_format(data, name)
    if unsupported:
        raise ImageReadError(f"{unsupported} photos are not supported: convert them to JPEG or PNG.")
    max_megapixels = max_megapixels or limits().max_megapixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > max_megapixels * 1_000_000:
                raise _too_many_pixels(max_megapixels, f" ({img.width}x{img.height})")
            if draft_size and img.format == "JPEG":
                img.draft("RGB", (draft_size, draft_size))
            img = ImageOps.exif_transpose(img)
            img.load()
            return _to_rgb(img)
        except ImageReadError:
            raise
        except UnidentifiedImageError:
            raise ImageReadError(
                "not an image we can read (use JPEG, PNG, WebP, BMP, GIF or TIFF)."
            ) from None
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise _too_many_pixels(max_megapixels) from None
        except Exception as exc:  # a decoder fed broken bytes can fail in many ways; all mean "unreadable"
            reason = "truncated" if "truncated" in str(exc).lower() else "corrupt"
            raise ImageReadError(f"the file is {reason} and cannot be decoded.") from None


def make_thumbnail(img: Image.Image) -> Image.Image:
    thumb = img.copy()
    thumb.thumbnail(THUMBNAIL_SIZE)
    return thumb
