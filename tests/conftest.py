"""Shared fixtures: small generated image and text sets (no network, no committed binaries)."""
from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw

# Every test, app and command-line process started from here caches and saves in throw-away folders,
# never in the user's cache folder or ./runs. Set before tlcore builds its default cache.
os.environ["TLCORE_CACHE_DIR"] = tempfile.mkdtemp(prefix="tlcore-test-cache-")
os.environ["TLCORE_RUNS_DIR"] = tempfile.mkdtemp(prefix="tlcore-test-runs-")  # runs and job folders, likewise

from tlcore import TrainConfig, build_dataset, train  # noqa: E402
from tlcore.data import Record, Table, build_text_dataset  # noqa: E402


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


def colour_records(per_class=30, delta=6, size=64, seed=0):
    """Grey noise, one class a few levels redder: the first blocks' pooled colours separate the
    classes; after the last block, which answers 'what object is this?', the shift is lost in noise."""
    rng = np.random.default_rng(seed)
    records = []
    for name, shift in (("plain", 0), ("redder", delta)):
        for i in range(per_class):
            pixels = rng.integers(60, 196, (size, size, 3))
            pixels[..., 0] += shift
            buffer = io.BytesIO()
            Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
            records.append(Record(name, f"{name}/{i}.png", buffer.getvalue()))
    return records


def photo_crops(per_class=12, seed=0):
    """Crops of scikit-learn's two sample photographs (a temple, a flower): images like ImageNet's."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    records = []
    for name, image in zip(("temple", "flower"), load_sample_images().images):
        for i in range(per_class):
            y, x = rng.integers(0, image.shape[0] - 200), rng.integers(0, image.shape[1] - 200)
            buffer = io.BytesIO()
            Image.fromarray(image[y:y + 200, x:x + 200]).save(buffer, format="PNG")
            records.append(Record(name, f"{name}/{i}.png", buffer.getvalue()))
    return records


def make_zip(files: dict[str, bytes], links=()) -> bytes:
    """A zip of {name: bytes}; the names in `links` are stored as symbolic links."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            if name in links:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


@pytest.fixture(scope="session", autouse=True)
def _remove_test_cache():
    yield
    shutil.rmtree(os.environ["TLCORE_CACHE_DIR"], ignore_errors=True)
    shutil.rmtree(os.environ["TLCORE_RUNS_DIR"], ignore_errors=True)


@pytest.fixture(scope="session")
def shapes_dataset():
    return build_dataset(shape_records())


@pytest.fixture(scope="session")
def trained(shapes_dataset):
    """One real run of the bundled backbone (feature extractor), shared by the tests that read it."""
    return train(shapes_dataset, TrainConfig(epochs=20, val_fraction=0.25, device="cpu"))


WEATHER = (["It will", "Tomorrow it should", "The forecast says it will", "This afternoon it might", "Tonight it could"],
           ["rain heavily", "snow in the hills", "be windy and cold", "be sunny and warm", "thunder and hail",
            "stay foggy until noon"])
MUSIC = (["The band", "Our choir", "The orchestra", "That guitarist", "The drummer"],
         ["played a loud concert", "recorded a new album", "sang a slow ballad", "tuned the violins",
          "rehearsed the symphony", "performed the song on stage"])


def weather_music_frame(per_class: int = 20, seed: int = 0):
    """Two clearly different topics (weather, music), made up here; not the app's shipped sample."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for label, (starts, ends) in (("weather", WEATHER), ("music", MUSIC)):
        pairs = [(a, b) for a in starts for b in ends]
        rows += [(f"{pairs[i][0]} {pairs[i][1]}.", label) for i in rng.permutation(len(pairs))[:per_class]]
    return pd.DataFrame(rows, columns=["text", "label"])


@pytest.fixture(scope="session")
def text_dataset():
    return build_text_dataset(Table(weather_music_frame(), "weather_music.csv"), "text", "label")


@pytest.fixture(scope="session")
def trained_text(text_dataset):
    """One real run of the bundled text backbone, frozen, shared by the tests that read it."""
    return train(text_dataset, TrainConfig(backbone="all-MiniLM-L6-v2", learning_rate=1e-2,
                                                           val_fraction=0.25, device="cpu"))


def val_files(run, dataset) -> list[tuple[str, bytes]]:
    """The (name, bytes) files of a run's validation images, from the dataset it was trained on."""
    data = {e.name: e.data for e in dataset.examples}
    return [(name, data[name]) for name in run.val_names]
