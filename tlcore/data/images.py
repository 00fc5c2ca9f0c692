"""Decode one image file into an RGB picture, whatever a phone or scanner produced."""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageReadError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
UNSUPPORTED_SUFFIXES = {".heic": "HEIC", ".heif": "HEIF", ".avif": "AVIF"}
MAX_PIXELS = 50_000_000  # larger files are refused (decompression-bomb guard)
THUMBNAIL_SIZE = (96, 96)


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot >= 0 else ""


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


def decode_image(data: bytes, name: str = "", *, draft_size: int | None = None) -> Image.Image:
    """Return an upright RGB image or raise ImageReadError with the reason.

    draft_size lets JPEG decoding skip detail below that many pixels (much faster for photos).
    GIFs and multi-page TIFFs give their first frame.
    """
    suffix = _suffix(name)
    if suffix in UNSUPPORTED_SUFFIXES:
        raise ImageReadError(
            f"{UNSUPPORTED_SUFFIXES[suffix]} photos are not supported: convert them to JPEG or PNG."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_PIXELS:
                raise ImageReadError(
                    f"too many pixels ({img.width}x{img.height}); the limit is "
                    f"{MAX_PIXELS // 1_000_000} megapixels: make the picture smaller."
                )
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
            raise ImageReadError(
                f"too many pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels."
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            reason = "truncated" if "truncated" in str(exc).lower() else "corrupt"
            raise ImageReadError(f"the file is {reason} and cannot be decoded.") from None


def make_thumbnail(img: Image.Image) -> Image.Image:
    thumb = img.copy()
    thumb.thumbnail(THUMBNAIL_SIZE)
    return thumb
