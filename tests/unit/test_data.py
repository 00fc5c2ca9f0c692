import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import encode, make_zip, shape_records
from tlcore import DataError, build_dataset, read_zip
from tlcore.data import decode_image, digits_sample, read_folder, stratified_split
from tlcore.core.errors import ImageReadError


def png(color=(200, 10, 10), size=(20, 20), mode="RGB") -> bytes:
    return encode(Image.new(mode, size, color))


def test_zip_unwraps_top_folder_and_ignores_mac_junk():
    data = make_zip({
        "photos/cats/a.png": png(), "photos/cats/b.png": png(), "photos/dogs/c.png": png(),
        "__MACOSX/photos/cats/._a.png": b"junk", "photos/cats/._b.png": b"junk", "photos/.DS_Store": b"x",
        "photos/dogs/.DS_Store": b"x",
    })
    records, skipped = read_zip(data)
    assert sorted((r.label, r.name.split("/")[-1]) for r in records) == [("cats", "a.png"), ("cats", "b.png"), ("dogs", "c.png")]
    assert skipped == []


def test_bad_files_are_skipped_with_reasons():
    truncated = encode(Image.new("RGB", (64, 64), "red"), "JPEG")[:300]
    data = make_zip({"a/1.png": png(), "a/2.png": png(), "b/1.png": png(), "b/2.png": png(),
                     "b/notes.txt": b"hello", "b/broken.jpg": truncated, "loose.png": png(), "b/inner.zip": b"PK"})
    dataset = build_dataset(*read_zip(data))
    reasons = {s.name: s.reason for s in dataset.report.skipped}
    assert dataset.report.class_counts == {"a": 2, "b": 2}
    assert "not an image" in reasons["b/notes.txt"]
    assert "truncated" in reasons["b/broken.jpg"] or "corrupt" in reasons["b/broken.jpg"]
    assert "class folder" in reasons["loose.png"]
    assert "zip inside the zip" in reasons["b/inner.zip"]


def test_not_a_zip_and_empty_zip_give_sentences():
    with pytest.raises(DataError, match="not a valid .zip"):
        read_zip(b"this is not a zip")
    with pytest.raises(DataError, match="empty"):
        read_zip(make_zip({}))


def test_one_class_and_tiny_class_are_refused_with_fix():
    one_class = build_dataset(*read_zip(make_zip({"cats/a.png": png(), "cats/b.png": png()})))
    with pytest.raises(DataError, match=r"Found 1 class \(cats\).*Add another class"):
        one_class.require_trainable()
    tiny = build_dataset(*read_zip(make_zip({"cats/a.png": png(), "cats/b.png": png(), "dogs/c.png": png()})))
    with pytest.raises(DataError, match="Class 'dogs' has 1 image.*at least 2"):
        tiny.require_trainable()


def test_read_folder(tmp_path):
    for label in ("x", "y"):
        (tmp_path / label).mkdir()
        for i in range(2):
            (tmp_path / label / f"{i}.png").write_bytes(png())
    records, skipped = read_folder(tmp_path)
    assert sorted(r.label for r in records) == ["x", "x", "y", "y"] and not skipped


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF"])
def test_formats_decode_to_rgb(fmt):
    image = decode_image(encode(Image.new("RGB", (30, 20), (0, 0, 255)), fmt), f"x.{fmt.lower()}")
    assert image.mode == "RGB" and image.size == (30, 20)


def test_transparency_goes_on_white_and_palette_is_converted():
    rgba = decode_image(png((255, 0, 0, 0), mode="RGBA"))
    assert rgba.getpixel((5, 5)) == (255, 255, 255)
    palette = Image.new("P", (10, 10), 0)
    palette.putpalette([0, 255, 0] * 256)
    assert decode_image(encode(palette)).getpixel((1, 1)) == (0, 255, 0)


def test_greyscale_and_16_bit():
    assert decode_image(png(128, mode="L")).getpixel((0, 0)) == (128, 128, 128)
    sixteen = Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16))
    assert decode_image(encode(sixteen)).getpixel((0, 0)) == (255, 255, 255)
    mid = Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16))
    assert decode_image(encode(mid)).getpixel((0, 0))[0] in (127, 128)


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    out = decode_image(encode(image, "JPEG", exif=exif.tobytes()), "p.jpg")
    assert out.size == (20, 40)


def test_gif_first_frame():
    frames = [Image.new("RGB", (10, 10), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    r, g, b = decode_image(buffer.getvalue(), "a.gif").getpixel((5, 5))
    assert r > 200 and b < 50


def test_unreadable_and_heic_are_named():
    with pytest.raises(ImageReadError, match="not an image"):
        decode_image(b"random bytes", "x.jpg")
    with pytest.raises(ImageReadError, match="convert them to JPEG or PNG"):
        decode_image(b"....", "IMG_0001.HEIC")


def test_stratified_split_is_seeded_and_keeps_every_class():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 2)
    train, val = stratified_split(labels, 0.2, seed=1)
    assert set(labels[val]) == {0, 1, 2} and set(labels[train]) == {0, 1, 2}
    assert not set(train) & set(val) and len(train) + len(val) == len(labels)
    assert (stratified_split(labels, 0.2, seed=1)[1] == val).all()
    assert (labels[val] == 0).sum() == 2


def test_digits_sample_is_balanced():
    dataset = build_dataset(digits_sample(per_class=5))
    assert dataset.classes == [str(d) for d in range(10)]
    assert set(dataset.report.class_counts.values()) == {5}


def test_shape_fixture_has_two_classes():
    assert {r.label for r in shape_records(2)} == {"circle", "stripes"}
