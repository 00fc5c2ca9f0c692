"""Sample data that needs no download: scikit-learn's bundled handwritten digits, and short texts
made by this project."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from .sources import Record


def digits_sample(per_class: int = 40, size: int = 64, classes: tuple[int, ...] = tuple(range(10))) -> list[Record]:
    """Dark-on-white PNGs of the 8x8 digits, scaled up, `per_class` of each digit."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    records = []
    for digit in classes:
        for n, i in enumerate(np.flatnonzero(digits.target == digit)[:per_class]):
            pixels = (255 - digits.images[i] * (255 / 16)).astype(np.uint8)
            image = Image.fromarray(pixels, "L").resize((size, size), Image.BILINEAR)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            records.append(Record(str(digit), f"{digit}/digit_{digit}_{n:03d}.png", buffer.getvalue()))
    return records


SAMPLE_TEXTS = Path(__file__).with_name("sample_texts.csv")


def text_sample() -> pd.DataFrame:
    """90 short sentences written for this app, 30 each about animals, space and cooking (text,label).
    Few words repeat between sentences, so word counts alone (TF-IDF) struggle where transfer does not."""
    return pd.read_csv(SAMPLE_TEXTS, dtype=str)
