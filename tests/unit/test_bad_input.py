"""Bad input from a classroom: each case gives data or a sentence (never a traceback), and the rest of
the data still works. Every fixture is generated here."""
import io
import os
import stat
import struct
import zipfile
import zlib

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from tests.conftest import encode, make_zip
from tlcore import DataError, build_dataset, read_zip
from tlcore.backbones import ImagePreprocessing
from tlcore.data import (
    build_text_dataset, decode_image, guess_columns, read_data_path, read_folder, read_table, records_from_uploads,
)
from tlcore.core.errors import ImageReadError
from tlcore.core.formats import csv_text
from tlcore.backbones.preprocessing import load_pixels
from tlcore.core.settings import limits
from tlcore.app import plain

PREP = ImagePreprocessing(input_size=32, resize_size=36, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def png(color=(200, 10, 10), size=(20, 20), mode="RGB") -> bytes:
    return encode(Image.new(mode, size, color))


def good_classes() -> dict[str, bytes]:
    return {"cats/1.png": png(), "cats/2.png": png(), "dogs/1.png": png((0, 0, 200)), "dogs/2.png": png((0, 0, 200))}


def read_and_build(files: dict[str, bytes]):
    return build_dataset(*read_zip(make_zip(files)))


def reasons(dataset) -> dict[str, str]:
    return {s.name: s.reason for s in dataset.report.skipped}


@pytest.fixture
def limit(monkeypatch):
    """Set limits for one test through their environment variables: limit(max_files=3)."""
    def set_limits(**values):
        for name, value in values.items():
            monkeypatch.setenv(f"TLCORE_{name.upper()}", str(value))
    return set_limits


# --- archives ----------------------------------------------------------------------------------------

def test_zip_slip_entries_are_skipped_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = {"../evil.png": png(), "/etc/evil.png": png(), "C:\\Windows\\evil.png": png(),
            "cats\\..\\..\\evil.png": png(), "D:evil.png": png()}
    dataset = read_and_build({**good_classes(), **evil})
    assert dataset.report.class_counts == {"cats": 2, "dogs": 2}
    assert set(reasons(dataset)) == set(evil) and all("unsafe path" in r for r in reasons(dataset).values())
    assert not list(tmp_path.parent.glob("evil.png")) and not list(tmp_path.rglob("*"))


def test_windows_backslash_folders_are_class_folders():
    dataset = read_and_build({"cats\\1.png": png(), "cats\\2.png": png(), "dogs\\1.png": png(), "dogs\\2.png": png()})
    assert dataset.report.class_counts == {"cats": 2, "dogs": 2}


def test_symlink_entries_are_skipped():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in good_classes().items():
            archive.writestr(name, data)
        link = zipfile.ZipInfo("cats/passwd.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    dataset = build_dataset(*read_zip(buffer.getvalue()))
    assert "a link" in reasons(dataset)["cats/passwd.png"] and len(dataset) == 4


def test_zip_bomb_entry_is_cut_off_at_the_size_limit(limit):
    limit(max_file_mb=1)
    bomb = b"\0" * (20 * 1024 * 1024)  # deflates to about 20 KB
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in good_classes().items():
            archive.writestr(name, data)
        archive.writestr("cats/bomb.png", bomb)
    assert len(buffer.getvalue()) < 200_000
    dataset = build_dataset(*read_zip(buffer.getvalue()))
    assert "larger than 1 MB" in reasons(dataset)["cats/bomb.png"] and "max_file_mb" in reasons(dataset)["cats/bomb.png"]


def test_zip_bomb_total_is_refused_with_the_limit(limit):
    limit(max_total_mb=2)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(5):
            archive.writestr(f"cats/{i}.png", b"\0" * (900 * 1024))
    with pytest.raises(DataError, match="more than 2 MB.*max_total_mb"):
        read_zip(buffer.getvalue())


def patch_headers(archive: bytes, entry: str, *, central: int, local: int, fmt: str, value: int) -> bytes:
    """Overwrite one field of `entry`'s central and local zip headers (at those offsets) with value."""
    raw = bytearray(archive)
    for signature, offset, name_at in ((b"PK\x01\x02", central, 28), (b"PK\x03\x04", local, 26)):
        start = 0
        while (start := raw.find(signature, start)) >= 0:
            length = struct.unpack_from("<H", raw, start + name_at)[0]
            name_start = start + name_at + (18 if signature == b"PK\x01\x02" else 4)
            if raw[name_start:name_start + length] == entry.encode():
                struct.pack_into(fmt, raw, start + offset, value)
            start += 4
    return bytes(raw)


def test_declared_sizes_that_lie_do_not_get_past_the_reader(limit):
    """The central directory says 10 bytes; the entry holds 2 MB of zeros. Bytes are counted as read."""
    limit(max_file_mb=1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in good_classes().items():
            archive.writestr(name, data)
        archive.writestr("cats/liar.png", b"\0" * (2 * 1024 * 1024))
    raw = patch_headers(buffer.getvalue(), "cats/liar.png", central=24, local=22, fmt="<I", value=10)
    records, skipped = read_zip(raw)
    assert "cats/liar.png" not in {r.name for r in records}
    assert "damaged" in {s.name: s.reason for s in skipped}["cats/liar.png"]


def test_too_many_entries_are_refused_with_the_limit(limit):
    limit(max_files=3)
    with pytest.raises(DataError, match="holds 4 files.*max_files"):
        read_zip(make_zip(good_classes()))


def test_zip_of_only_mac_junk_says_so():
    with pytest.raises(DataError, match="only system files"):
        read_zip(make_zip({"__MACOSX/cats/._1.png": b"junk", ".DS_Store": b"junk", "cats/Thumbs.db": b"x"}))


def test_nested_zip_is_named_and_the_rest_still_works():
    dataset = read_and_build({**good_classes(), "dogs/more.zip": make_zip(good_classes())})
    assert "zip inside the zip" in reasons(dataset)["dogs/more.zip"] and len(dataset) == 4


def test_password_protected_entry_is_named():
    archive = make_zip({**good_classes(), "cats/secret.png": png()})
    dataset = build_dataset(*read_zip(patch_headers(archive, "cats/secret.png", central=8, local=6, fmt="<H", value=1)))
    assert "password" in reasons(dataset)["cats/secret.png"] and len(dataset) == 4


def test_too_many_images_added_in_the_page(limit):
    limit(max_files=2)
    with pytest.raises(DataError, match="3 images were added.*max_files"):
        records_from_uploads({"cats": [("1.png", png()), ("2.png", png())], "dogs": [("1.png", png())]})


def test_more_images_than_the_dataset_limit(limit):
    limit(max_images=3)
    with pytest.raises(DataError, match="4 images.*max_images"):
        read_and_build(good_classes())


def write_tree(root, files: dict[str, bytes]):
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


NFC_CAFE, NFD_CAFE = "caf\u00e9", "cafe\u0301"  # a Mac's zip stores the second form


def test_one_class_name_in_two_unicode_forms_is_one_class(tmp_path):
    files = {f"{NFC_CAFE}/1.png": png(), f"{NFD_CAFE}/2.png": png(), "dogs/1.png": png((0, 0, 200)),
             "dogs/2.png": png((0, 0, 200))}
    assert read_and_build(files).report.class_counts == {"dogs": 2, NFC_CAFE: 2}
    assert build_dataset(*read_folder(write_tree(tmp_path, files))).report.class_counts == {"dogs": 2, NFC_CAFE: 2}
    uploads = {NFC_CAFE: [("1.png", png())], NFD_CAFE + " ": [("2.png", png())], "dogs": [("1.png", png())]}
    assert {r.label for r in records_from_uploads(uploads)[0]} == {NFC_CAFE, "dogs"}


HIDDEN = {".cats/1.png": png(), ".cats/2.png": png(), "dogs/.flash.png": png()}


def test_hidden_folders_with_images_are_reported_the_same_in_zips_and_folders(tmp_path):
    files = {**good_classes(), **HIDDEN, ".git/config": b"[core]", "dogs/.DS_Store": b"x", "__MACOSX/dogs/._1.png": b"x"}
    from_zip = reasons(read_and_build(files))
    from_folder = reasons(build_dataset(*read_folder(write_tree(tmp_path, files))))
    assert from_zip == from_folder and set(from_zip) == set(HIDDEN)  # junk and non-images stay silent
    assert "hidden folder '.cats'" in from_zip[".cats/1.png"] and "rename the folder without the dot" in from_zip[".cats/1.png"]
    assert "rename it without the dot" in from_zip["dogs/.flash.png"]


def test_the_same_image_under_two_labels_is_named_in_the_report():
    dataset = read_and_build({**good_classes(), "dogs/copy.png": png()})  # the bytes of cats/1.png
    assert dataset.report.notes == [
        "The same image is in two classes: 'dogs/copy.png' (dogs) is the same as 'cats/1.png' (cats). A model cannot "
        "learn two answers for one image: keep each image in the class it belongs to and remove the other copy."]
    assert read_and_build(good_classes()).report.notes == []  # copies inside one class are not a conflict


def test_big_files_on_disk_are_skipped_before_they_are_read(tmp_path, limit, monkeypatch):
    limit(max_file_mb=1)
    write_tree(tmp_path, {**good_classes(), "cats/huge.png": b"\0" * (3 * 1024 * 1024)})
    read = []
    real_read_bytes = type(tmp_path).read_bytes
    monkeypatch.setattr(type(tmp_path), "read_bytes", lambda path: read.append(path.name) or real_read_bytes(path))
    records, skipped = read_data_path(tmp_path)
    assert len(records) == 4 and "huge.png" not in read
    assert {s.name: s.reason for s in skipped}["cats/huge.png"] == (
        "too large (3 MB); the limit is 1 MB (setting max_file_mb in tlcore.toml).")


def test_big_files_added_in_the_page_are_skipped(limit):
    limit(max_file_mb=1)
    records, skipped = records_from_uploads({"cats": [("1.png", png()), ("big.png", b"\0" * (2 * 1024 * 1024))]})
    assert [r.name for r in records] == ["cats/1.png"]
    assert skipped[0].name == "cats/big.png" and "too large (2 MB)" in skipped[0].reason and "max_file_mb" in skipped[0].reason


def test_folders_and_zip_files_on_disk_keep_the_zip_limits(tmp_path, limit):
    limit(max_total_mb=1, max_files=6)
    big = write_tree(tmp_path / "big", {f"cats/{i}.png": os.urandom(600 * 1024) for i in range(2)})
    with pytest.raises(DataError, match="more than 1 MB.*max_total_mb"):
        read_data_path(big)
    many = write_tree(tmp_path / "many", {f"cats/{i}.png": png() for i in range(7)})
    with pytest.raises(DataError, match="holds 7 files.*max_files"):
        read_data_path(many)
    (tmp_path / "big.zip").write_bytes(os.urandom(2 * 1024 * 1024))
    with pytest.raises(DataError, match="big.zip is 2 MB.*max_total_mb"):
        read_data_path(tmp_path / "big.zip")


# --- images ------------------------------------------------------------------------------------------

def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height (how decompression bombs start)."""
    raw = bytearray(png(size=(8, 8)))
    struct.pack_into(">II", raw, 16, width, height)
    struct.pack_into(">I", raw, 29, zlib.crc32(bytes(raw[12:29])))
    return bytes(raw)


def test_decompression_bomb_is_refused_before_decoding():
    with pytest.raises(ImageReadError, match="too many pixels.*max_megapixels"):
        decode_image(png_claiming(30_000, 30_000), "bomb.png")


def test_pixel_cap_is_a_setting_and_names_the_size(limit):
    limit(max_megapixels=1)
    with pytest.raises(ImageReadError, match=r"\(2000x1000\).*1 megapixels"):
        decode_image(png(size=(2000, 1000)), "big.png")
    dataset = read_and_build({**good_classes(), "cats/big.png": png(size=(2000, 1000))})
    assert "max_megapixels" in reasons(dataset)["cats/big.png"] and len(dataset) == 4


def test_truncated_jpeg_and_random_bytes_are_skipped_with_reasons():
    truncated = encode(Image.new("RGB", (64, 64), "red"), "JPEG")[:300]
    dataset = read_and_build({**good_classes(), "cats/cut.jpg": truncated, "dogs/noise.jpg": os.urandom(2000)})
    assert "truncated" in reasons(dataset)["cats/cut.jpg"] or "corrupt" in reasons(dataset)["cats/cut.jpg"]
    assert "not an image" in reasons(dataset)["dogs/noise.jpg"]


def test_heic_is_named_by_content_even_when_renamed():
    heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + os.urandom(64)
    with pytest.raises(ImageReadError, match="HEIC photos are not supported: convert them to JPEG or PNG"):
        decode_image(heic, "IMG_0001.jpg")
    with pytest.raises(ImageReadError, match="AVIF"):
        decode_image(b"\0\0\0\x1cftypavif" + os.urandom(32), "photo.png")


def test_png_named_jpg_is_read_by_content():
    assert decode_image(png((0, 255, 0)), "really_a_png.jpg").getpixel((1, 1)) == (0, 255, 0)


def test_cmyk_jpeg_becomes_rgb_with_the_right_colour():
    cmyk = encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)  # pure red in ink
    r, g, b = decode_image(cmyk, "print.jpg").getpixel((8, 8))
    assert r > 200 and g < 60 and b < 60


def test_one_pixel_and_very_wide_images_are_scaled_to_the_input():
    tiny, strip = png(size=(1, 1)), png(size=(20_000, 2))
    pixels = load_pixels([("tiny.png", tiny), ("strip.png", strip)], PREP)
    assert pixels.shape == (2, 3, 32, 32)
    assert (pixels[0, 0] > 150).all() and (pixels[1, 2] < 60).all()


# --- texts -------------------------------------------------------------------------------------------

def table(text: str | bytes, name: str = "data.csv"):
    return read_table(text.encode("utf-8") if isinstance(text, str) else text, name)


def test_nul_bytes_are_removed():
    frame = table(b"text,label\nhel\x00lo,a\nworld,b\n").frame
    assert frame["text"].tolist() == ["hello", "world"]


def test_a_200_kb_field_is_cut_with_a_note():
    dataset = build_text_dataset(table("text,label\n" + "word " * 40_000 + ",a\nshort,b\n"), "text", "label")
    assert len(dataset.examples[0].text) == limits().max_text_chars
    assert any("1 text was longer than 100,000 characters" in note for note in dataset.report.notes)


def test_header_only_table_says_there_are_no_rows():
    with pytest.raises(DataError, match="header row but no rows"):
        build_text_dataset(table("text,label\n"), "text", "label")


def test_unclosed_quote_names_the_line():
    with pytest.raises(DataError, match=r'quote mark \(\"\) on line 3 that is never closed'):
        table('text,label\nfine,a\n"never closed,b\nmore,a\n')


def test_numeric_labels_are_classes_in_numeric_order():
    dataset = build_text_dataset(table("text,label\na,10\nb,2\nc,1\nd,2\ne,10\nf,1\n"), "text", "label")
    assert dataset.classes == ["1", "2", "10"] and not dataset.report.problems()


def test_one_example_per_class_at_scale_is_refused_in_one_sentence():
    rows = "\n".join(f"text number {i},label {i}" for i in range(10_000))
    dataset = build_text_dataset(table("text,label\n" + rows), "text", "label")
    problems = dataset.report.problems()
    assert len(problems) == 1 and "10,000 classes for 10,000 texts" in problems[0] and "max_classes" in problems[0]
    with pytest.raises(DataError, match="label column the right one"):
        dataset.require_trainable()


def test_many_tiny_classes_are_summarised():
    rows = "\n".join(["x,big"] * 5 + [f"y,tiny{i}" for i in range(8)])
    problems = build_text_dataset(table("text,label\n" + rows), "text", "label").report.problems()
    assert len(problems) == 1 and "8 classes have fewer than 2 texts" in problems[0] and "3 more" in problems[0]


def test_too_many_rows_are_refused_with_the_limit(limit):
    limit(max_text_rows=3)
    with pytest.raises(DataError, match="more than 3 rows.*max_text_rows"):
        table("text,label\na,1\nb,2\nc,1\nd,2\n")


CHINESE = pd.DataFrame({"text": ["猫很可爱", "狗在跑", "今天下雨", "明天晴天"], "label": ["动物", "动物", "天气", "天气"]})


@pytest.mark.parametrize("encoding, says", [
    ("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"), ("utf-16-be", "UTF-16"), ("utf-32", "UTF-32")])
def test_unicode_text_from_excel_is_read_in_its_encoding(encoding, says):
    """Excel's "Unicode text" is UTF-16 with a BOM and tabs; other tools leave the BOM out."""
    data = CHINESE.to_csv(index=False, sep="\t").encode(encoding)
    read = read_table(data, "unicode.txt")
    assert read.frame.equals(CHINESE) and f"read as {says}" in read.encoding_note
    assert build_text_dataset(read, "text", "label").classes == ["动物", "天气"]


def test_labels_in_two_unicode_forms_are_one_class():
    dataset = build_text_dataset(table(f"text,label\na,{NFC_CAFE}\nb,{NFD_CAFE}\nc,tea\nd,tea\n"), "text", "label")
    assert dataset.report.class_counts == {NFC_CAFE: 2, "tea": 2}


def test_the_same_text_under_two_labels_is_named_in_the_report():
    dataset = build_text_dataset(table("text,label\nGreat film,pos\nbad,neg\n great  FILM,neg\nok,pos\n"),
                                 "text", "label")
    assert "'row 4' (neg) is the same as 'row 2' (pos)" in dataset.report.notes[0]


def dated_table() -> str:
    days = [f"2024-03-{d:02d}" for d in range(1, 29)]
    return "text,when_added\n" + "\n".join(f"sentence number {i},{days[i % 28]}" for i in range(300))


def test_a_date_column_is_never_guessed_as_the_labels():
    read = table(dated_table(), "when.csv")
    assert guess_columns(read.frame) == ("text", None)
    renamed = read.frame.rename(columns={"when_added": "label"})  # named like labels, but dates
    assert guess_columns(renamed) == ("text", None)
    with pytest.raises(DataError, match=r"'text' \(300 different values\), 'when_added' \(28 different values\)"
                                        r".*--label-column"):
        build_text_dataset(read, "text", None)


def test_mostly_unique_numbers_or_dates_are_never_guessed():
    frame = pd.DataFrame({"id": [str(i) for i in range(50)], "tag": [f"t{i}" for i in range(50)],
                          "when": ["2024-01-02 10:00:00"] * 50})
    assert guess_columns(frame) == ("tag", None)  # 50 tags for 50 rows are not classes; ids and dates are not texts
    assert guess_columns(frame[["id", "when"]]) == (None, None)


def test_the_command_line_asks_for_the_label_column(tmp_path, capsys):
    from tlcore.cli import main

    (tmp_path / "when.csv").write_text(dated_table(), encoding="utf-8")
    assert main(["train", str(tmp_path / "when.csv"), "--task", "text", "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--label-column" in error and not (tmp_path / "run").exists()


def xlsx(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    return buffer.getvalue()


def test_xlsx_that_unpacks_too_far_is_refused_before_it_is_parsed(limit, monkeypatch):
    limit(max_file_mb=1)
    parsed = []
    monkeypatch.setattr(pd, "read_excel", lambda *args, **kwargs: parsed.append(1))
    bomb = xlsx(pd.DataFrame({"text": ["word " * 200] * 2000, "label": ["a", "b"] * 1000}))  # 2 MB of XML
    assert len(bomb) < 200_000
    with pytest.raises(DataError, match="unpacks to more than 1 MB.*max_file_mb"):
        read_table(bomb, "bomb.xlsx")
    liar = patch_headers(bomb, "xl/worksheets/sheet1.xml", central=24, local=22, fmt="<I", value=10)
    with pytest.raises(DataError):
        read_table(liar, "liar.xlsx")
    assert not parsed


def test_formula_cells_are_escaped_in_csv_exports():
    frame = pd.DataFrame({"text": ['=HYPERLINK("http://evil","click")', "+1", "@SUM(A1)", "-2", "plain"],
                          "p_a": [0.5, -0.25, 0.1, 0.2, 0.3]})
    back = pd.read_csv(io.StringIO(csv_text(frame)))
    assert back["text"].tolist() == ["'=HYPERLINK(\"http://evil\",\"click\")", "'+1", "'@SUM(A1)", "'-2", "plain"]
    assert back["p_a"].tolist() == [0.5, -0.25, 0.1, 0.2, 0.3]


# --- names that look like code -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "**bold** _it_", ":red[x] $x^2$", "[a](http://e.x)"])
def test_markdown_and_html_in_names_are_escaped(name):
    escaped = plain(name)
    for special in "<>*_[]$:":
        assert special not in escaped.replace("\\" + special, "")
    assert escaped.replace("\\", "") == name


def test_plot_labels_show_html_as_text():
    from tlcore.insight.metrics import evaluate
    from tlcore.insight.plots import confusion_figure, roc_figure

    report = evaluate(np.array([0, 1, 0, 1]), np.array([[.9, .1], [.2, .8], [.6, .4], [.3, .7]]),
                      classes=["<b>cat</b>", "<a href='x'>dog</a>"])
    assert "&lt;b&gt;cat&lt;/b&gt;" in confusion_figure(report.confusion_matrix, report.classes).data[0].x
    assert all("<" not in trace.name for trace in roc_figure(report).data)


def test_the_same_column_for_texts_and_labels_is_refused():
    with pytest.raises(DataError, match="are the same. Pick two different columns"):
        build_text_dataset(table("text,label\na,b\n"), "text", "text")


def test_limits_are_stated_in_plain_numbers(limit):
    limit(max_text_rows=2_000_000, max_file_mb=1.5)
    assert "the limit is 2,000,000 (setting max_text_rows" in limits().says("max_text_rows")
    assert "the limit is 1.5 MB" in limits().says("max_file_mb")


# --- memory ------------------------------------------------------------------------------------------

def test_tfidf_features_of_the_largest_table_fit_the_dense_budget(limit):
    """At max_text_rows rows the dense features the head needs stay under TFIDF_DENSE_BYTES, and
    transform never makes a float64 copy (tracemalloc sees numpy's allocations)."""
    import tracemalloc

    from tlcore.backbones.classic_text import TFIDF_DENSE_BYTES, TfidfFeaturizer

    rng = np.random.default_rng(0)
    texts = [" ".join(f"w{i}" for i in rng.integers(0, 4000, 15)) for _ in range(800)]
    featurizer = TfidfFeaturizer().fit(texts)
    assert 4 * limits().max_text_rows * featurizer.num_features <= TFIDF_DENSE_BYTES < 4 * 100_000 * 20_000
    tracemalloc.start()
    features = featurizer.transform(texts)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert features.dtype == torch.float32 and peak < 1.5 * features.numel() * 4
    limit(max_text_rows=1_000_000)
    assert 4 * 1_000_000 * TfidfFeaturizer().fit(texts).num_features <= TFIDF_DENSE_BYTES
