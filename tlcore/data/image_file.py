"""Read one image file the way every model here sees it: decode (upright, RGB, within a pixel limit),
then shorter side to the resize size and the centre square. Only Pillow and numpy, no tlcore import:
an exported predict.py carries this very source, so it prepares images exactly as the app does."""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
UNSUPPORTED_SUFFIXES = {".heic": "HEIC", ".heif": "HEIF", ".avif": "AVIF"}
# HEIF-family files (iPhone photos) start with an ISO box "ftyp" and a brand, whatever their name says.
UNSUPPORTED_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"hevc": "HEIC", b"heim": "HEIC", b"heis": "HEIC",
                      b"mif1": "HEIF", b"msf1": "HEIF", b"avif": "AVIF", b"avis": "AVIF"}
INTERPOLATIONS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}  # the names torchvision's weights use


class UnreadableImage(ValueError):
    """The file is not a usable image; the message is the reason, for people."""


class TooManyPixels(UnreadableImage):
    """The image is over the pixel limit (refused before it is decoded)."""


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot >= 0 else ""


def unsupported_format(data: bytes, name: str) -> str | None:
    """HEIC/HEIF/AVIF, named by the file's content first (a renamed iPhone photo), else by its suffix."""
    if data[4:8] == b"ftyp" and data[8:12] in UNSUPPORTED_BRANDS:
        return UNSUPPORTED_BRANDS[data[8:12]]
    return UNSUPPORTED_SUFFIXES.get(_suffix(name))


def to_rgb(img: Image.Image) -> Image.Image:
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


def _too_many_pixels(max_megapixels: float, size: str = "") -> TooManyPixels:
    limit = f"{max_megapixels:,.2f}".rstrip("0").rstrip(".")
    return TooManyPixels(f"too many pixels{size}; the limit is {limit} megapixels")


def decode(data: bytes, name: str, *, max_megapixels: float, draft_size: int | None = None) -> Image.Image:
    """An upright RGB image, or UnreadableImage with the reason. draft_size lets JPEG decoding skip
    detail below that many pixels (much faster for photos). GIFs and multi-page TIFFs give their first
    frame. Images over max_megapixels are refused before they are decoded."""
    unsupported = unsupported_format(data, name)
    if unsupported:
        raise UnreadableImage(f"{unsupported} photos are not supported: convert them to JPEG or PNG.")
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
            return to_rgb(img)
        except UnreadableImage:
            raise
        except UnidentifiedImageError:
            raise UnreadableImage("not an image we can read (use JPEG, PNG, WebP, BMP, GIF or TIFF).") from None
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise _too_many_pixels(max_megapixels) from None
        except Exception as exc:  # a decoder fed broken bytes can fail in many ways; all mean "unreadable"
            reason = "truncated" if "truncated" in str(exc).lower() else "corrupt"
            raise UnreadableImage(f"the file is {reason} and cannot be decoded.") from None


def crop_box(width: int, height: int, input_size: int, resize_size: int) -> tuple[tuple[int, int], int, int]:
    """The size to resize to (shorter side resize_size; the longer side capped at four times that, so a
    20,000x1 strip is squeezed, not blown up) and the top-left corner of the centre input_size square."""
    scale = resize_size / min(width, height)
    longest = 4 * resize_size
    size = (min(longest, max(input_size, round(width * scale))), min(longest, max(input_size, round(height * scale))))
    return size, (size[0] - input_size) // 2, (size[1] - input_size) // 2


def resize_crop(image: Image.Image, input_size: int, resize_size: int, interpolation: str) -> np.ndarray:
    """The centre input_size square after the resize, smoothed as Pillow shrinks (antialiased), as uint8
    [height, width, 3]."""
    size, left, top = crop_box(image.width, image.height, input_size, resize_size)
    pixels = np.asarray(image.resize(size, INTERPOLATIONS[interpolation], reducing_gap=3.0))
    return np.array(pixels[top:top + input_size, left:left + input_size])  # a writable copy
