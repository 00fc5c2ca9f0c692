"""Property-based: arbitrary bytes, or a good file with bytes overwritten, give data or our error type."""
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import encode, make_zip, shape_image
from tlcore.data import decode_image, read_table, read_zip
from tlcore.core.errors import TLCoreError

GOOD_IMAGE = {fmt: encode(shape_image("circle", np.random.default_rng(0), size=24), fmt)
              for fmt in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")}
GOOD_ZIP = make_zip({"cats/1.png": GOOD_IMAGE["PNG"], "dogs/1.jpg": GOOD_IMAGE["JPEG"], "dogs/2.txt": b"hi"})
GOOD_CSV = "text,label\n\"a, quoted\",cats\nplain,dogs\n".encode()
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about broken TIFF tags, then copes
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def corrupted(good: bytes):
    """good with up to 8 bytes overwritten at random places, or cut short."""
    return st.tuples(st.integers(0, 2**32 - 1), st.integers(1, 8), st.booleans()).map(
        lambda spec: _corrupt(good, *spec))


def _corrupt(good: bytes, seed: int, flips: int, cut: bool) -> bytes:
    rng = random.Random(seed)
    raw = bytearray(good)
    for _ in range(flips):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw[:rng.randrange(len(raw))] if cut else raw)


def gives_data_or_our_error(read, data: bytes) -> None:
    try:
        read(data)
    except TLCoreError as exc:
        assert exc.user_message.strip()


@FUZZ
@given(st.one_of(st.binary(max_size=4096), corrupted(GOOD_ZIP)))
def test_zip_reader(data):
    gives_data_or_our_error(read_zip, data)


@FUZZ
@given(st.sampled_from(sorted(GOOD_IMAGE)), st.data())
def test_image_decoder(fmt, draw):
    data = draw.draw(st.one_of(st.binary(max_size=4096), corrupted(GOOD_IMAGE[fmt])))
    gives_data_or_our_error(lambda d: decode_image(d, f"x.{fmt.lower()}", draft_size=64), data)


@FUZZ
@given(st.sampled_from(["t.csv", "t.tsv", "t.txt", "t.xlsx"]),
       st.one_of(st.binary(max_size=2048), st.text(max_size=512).map(str.encode), corrupted(GOOD_CSV)))
def test_table_reader(name, data):
    gives_data_or_our_error(lambda d: read_table(d, name), data)
