"""Sample data that needs no download: scikit-learn's bundled handwritten digits, and short texts
made by this project."""
from __future__ import annotations

import io

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


_TOPICS = {
    "animals": (
        ["The dog", "My cat", "A young horse", "The old elephant", "That small rabbit", "A hungry fox",
         "The parrot", "Our hamster", "A wild wolf", "The baby goat"],
        ["chased its tail around the garden", "slept all afternoon in the sun", "ate carrots from my hand",
         "barked at the postman", "hid under the bed during the storm", "licked its fur clean",
         "ran across the field to the barn", "purred when I stroked it", "howled at the moon",
         "was taken to the vet for a check-up"],
    ),
    "space": (
        ["The rocket", "An astronaut", "The space station", "A distant galaxy", "The telescope",
         "The Mars rover", "A comet", "The moon", "A satellite", "The new probe"],
        ["orbited the Earth every ninety minutes", "sent photos of a red planet", "launched into orbit at dawn",
         "measured light from faraway stars", "landed in a crater near the pole", "drifted past Jupiter",
         "spotted a black hole at the centre of the galaxy", "floated weightless in the capsule",
         "crossed the solar system in ten years", "found ice beneath the planet's surface"],
    ),
    "cooking": (
        ["The chef", "My grandmother", "This recipe", "The baker", "Our soup", "The pasta sauce",
         "A fresh salad", "The chocolate cake", "The frying pan", "My dad"],
        ["needs two cups of flour and some butter", "simmered slowly with garlic and onions",
         "was seasoned with salt, pepper and basil", "baked in the oven for forty minutes",
         "chopped the tomatoes on a wooden board", "tasted sweet with a hint of lemon",
         "stirred the rice until it was creamy", "fried the eggs in olive oil",
         "served warm bread with the dinner", "whisked the cream until it was thick"],
    ),
}


def text_sample(per_class: int = 30, seed: int = 0) -> pd.DataFrame:
    """Short made-up sentences about animals, space and cooking (`per_class` of each), as text,label."""
    rng = np.random.default_rng(seed)
    rows = []
    for topic, (subjects, endings) in _TOPICS.items():
        pairs = [(s, e) for s in subjects for e in endings]
        for i in rng.permutation(len(pairs))[:per_class]:
            subject, ending = pairs[i]
            rows.append((f"{subject} {ending}.", topic))
    order = rng.permutation(len(rows))
    return pd.DataFrame([rows[i] for i in order], columns=["text", "label"])
