"""Shared fixtures: small generated image sets (no network, no committed binaries)."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tlcore import TrainConfig, build_dataset, train_image_classifier
from tlcore.data import Record


def shape_image(kind: str, rng: np.random.Generator, size: int = 96) -> Image.Image:
    """Class 'circle': a dark disc on light noise; class 'stripes': dark horizontal bars."""
    noise = rng.integers(180, 255, (size, size, 3), dtype=np.uint8)
    image = Image.fromarray(noise)
    draw = ImageDraw.Draw(image)
    offset = rng.integers(-8, 8, 2)
    if kind == "circle":
        c = size // 2 + offset
        r = size // 3
        draw.ellipse([c[0] - r, c[1] - r, c[0] + r, c[1] + r], fill=(30, 30, 30))
    else:
        for y in range(int(offset[0]) + 10, size, 20):
            draw.rectangle([0, y, size, y + 8], fill=(30, 30, 30))
    return image


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def shape_records(per_class: int = 12, seed: int = 0) -> list[Record]:
    rng = np.random.default_rng(seed)
    return [Record(kind, f"{kind}/{kind}_{i}.png", encode(shape_image(kind, rng)))
            for kind in ("circle", "stripes") for i in range(per_class)]


def make_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def shapes_dataset():
    return build_dataset(shape_records())


@pytest.fixture(scope="session")
def trained(shapes_dataset):
    """One real run of the bundled backbone (feature extractor), shared by the tests that read it."""
    return train_image_classifier(shapes_dataset, TrainConfig(epochs=20, val_fraction=0.25, device="cpu"))
