"""Texts in: a CSV, TSV or Excel file (pick the text and label columns), or examples typed per class."""
from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePath
from typing import Iterator

import pandas as pd

from ..core.errors import DataError
from ..core.settings import Limits, limits, readable
from .dataset import NUMBER, LabelledDataset, DataReport, label_conflict_note, sort_classes
from .sources import MB

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".xlsx")
TEXT_NAMES = ("text", "sentence", "review", "message", "content", "comment", "body", "tweet", "question", "document")
LABEL_NAMES = ("label", "class", "category", "target", "sentiment", "tag", "y", "labels", "intent", "topic")
FALLBACK_ENCODINGS = (("cp1252", "Windows-1252 (cp1252)"), ("latin-1", "Latin-1"))
# Byte-order marks, longest first: UTF-32-LE's mark starts with UTF-16-LE's.
BOMS = ((codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
        (codecs.BOM_UTF8, "utf-8-sig", None),
        (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"), (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"))
DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
                  r"( \d{1,2}:\d{2}(:\d{2})?)?")
KIND_SAMPLE = 500  # values looked at to tell a column of numbers or dates from one of words
LISTED_COLUMNS = 8


@dataclass
class TextExample:
    name: str  # where it came from, e.g. "row 12"
    label: str
    text: str


class TextDataset(LabelledDataset):
    """Non-empty texts (TextExample) with their labels and report."""

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    def _contents(self) -> Iterator[bytes]:
        return (e.text.encode("utf-8") for e in self.examples)


@dataclass
class Table:
    """A file read into string columns, with a note when it was not UTF-8."""

    frame: pd.DataFrame
    name: str
    encoding_note: str | None = None


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when NUL bytes sit in one byte of each pair (the ASCII letters, digits and
    separators of UTF-16 text), else None. UTF-8 text has no NUL bytes."""
    sample = data[:4096]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    zeros, other = max(even, odd), min(even, odd)
    if zeros < max(4, len(sample) // 40) or other > zeros // 20:
        return None
    return "utf-16-le" if odd > even else "utf-16-be"


def _unicode_encoding(data: bytes) -> tuple[str, str | None] | None:
    """(codec, title for the note) from a byte-order mark or the NUL pattern of BOM-less UTF-16."""
    for bom, codec, title in BOMS:
        if data.startswith(bom):
            return codec, title
    codec = _utf16_without_bom(data)
    return (codec, "UTF-16") if codec else None


def _decode(data: bytes, name: str) -> tuple[str, str | None]:
    """UTF-16/UTF-32 (Excel's "Unicode text") by BOM or NUL pattern, with a note; UTF-8 (a BOM is fine);
    else cp1252, then Latin-1, with a note naming the fallback."""
    unicode = _unicode_encoding(data)
    if unicode:
        codec, title = unicode
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            pass
        else:
            return text, title and f"{name} is saved as {title}, so it was read as {title}."
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    for encoding, title in FALLBACK_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, (f"{name} is not UTF-8, so it was read as {title}. If letters look wrong, "
                      "save it as 'CSV UTF-8' and upload it again.")
    raise AssertionError("latin-1 decodes any bytes")


def _separator(text: str, suffix: str) -> str:
    if suffix in (".tsv", ".tab"):
        return "\t"
    try:
        return csv.Sniffer().sniff(text[:20_000], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _check_xlsx_size(data: bytes, name: str, limit: Limits) -> None:
    """An .xlsx is a zip of XML: refuse one that unpacks (declared, then as actually read) beyond
    max_file_mb before a parser holds it in memory."""
    budget = int(limit.max_file_mb * MB)
    too_big = DataError(f"{name} unpacks to more than {readable(limit.max_file_mb)} MB (an .xlsx is a zip of XML "
                        f"files); {limit.says('max_file_mb')}. Use fewer rows, or save it as CSV.")
    archive = zipfile.ZipFile(io.BytesIO(data))
    infos = archive.infolist()
    if sum(info.file_size for info in infos) > budget:
        raise too_big
    unpacked = 0
    for info in infos:
        with archive.open(info) as handle:
            while chunk := handle.read(MB):
                unpacked += len(chunk)
                if unpacked > budget:
                    raise too_big


def read_table(data: bytes, name: str) -> Table:
    """Read CSV/TSV/TXT (separator sniffed, so Excel's semicolon CSVs work) or .xlsx into strings."""
    suffix = PurePath(name).suffix.lower()
    if suffix == ".xls":
        raise DataError(f"{name} is an old Excel file (.xls). Save it as .xlsx or CSV and upload it again.")
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{name} is not a table. Upload a .csv, .tsv, .txt or .xlsx file.")
    note, limit = None, limits()
    try:
        if suffix == ".xlsx":
            _check_xlsx_size(data, name, limit)
            frame = pd.read_excel(io.BytesIO(data), dtype=str, keep_default_na=False, nrows=limit.max_text_rows + 1)
        else:
            text, note = _decode(data, name)
            text = text.replace("\x00", "")
            frame = pd.read_csv(io.StringIO(text), sep=_separator(text, suffix), dtype=str,
                                keep_default_na=False, skipinitialspace=True, nrows=limit.max_text_rows + 1)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{name} is empty. Put a header row (e.g. text,label) and one example per row.") from None
    except pd.errors.ParserError as exc:
        unclosed = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        if unclosed:
            raise DataError(f'{name} has a quote mark (") on line {int(unclosed.group(1)) + 1} that is never closed, '
                            "so the rest of the file would be one cell. Close or remove that quote, or save the "
                            "file again from your spreadsheet as CSV.") from None
        raise DataError(f"{name} could not be read as a table ({exc}). Check that each row has the same "
                        "columns, separated the same way.") from None
    except Exception as exc:
        raise DataError(f"{name} could not be read as a table ({exc}). Check that it is a CSV or Excel file "
                        "with one example per row.") from None
    if len(frame) > limit.max_text_rows:
        raise DataError(f"{name} has more than {limit.max_text_rows:,} rows; {limit.says('max_text_rows')}. "
                        "Use fewer rows.")
    frame.columns = [unicodedata.normalize("NFC", str(c)).strip() for c in frame.columns]
    return Table(frame.fillna(""), name, note)


def _values(frame: pd.DataFrame, column: str) -> pd.Series:
    values = frame[column].astype(str).str.strip()
    return values[values != ""]


def column_kind(frame: pd.DataFrame, column: str) -> str:
    """'empty', 'numbers', 'dates' or 'words', from the column's first non-empty values."""
    sample = _values(frame, column).head(KIND_SAMPLE)
    if sample.empty:
        return "empty"
    for kind, pattern in (("numbers", NUMBER), ("dates", DATE)):
        if sample.map(lambda v: bool(pattern.fullmatch(v))).mean() >= 0.9:
            return kind
    return "words"


def column_choices(frame: pd.DataFrame) -> dict[str, int]:
    """Each column with its number of distinct non-empty values, for a person to pick from."""
    return {c: int(_values(frame, c).nunique()) for c in frame.columns}


def _could_be_labels(frame: pd.DataFrame, column: str) -> bool:
    """Not dates, and not mostly unique values (those would make a class per row)."""
    values = _values(frame, column)
    return column_kind(frame, column) != "dates" and values.nunique() <= max(10, len(values) // 2)


def guess_columns(frame: pd.DataFrame) -> tuple[str | None, str | None]:
    """(text column, label column), each None when it cannot be told safely. The label column only by
    its name (label, class, ...) and only when it holds labels (no dates, not one value per row): a
    guess from content could silently pick a date column, so people choose it. The text column by
    name (text, sentence, ...), else the column with the longest values that are words (never
    numbers or dates)."""
    by_name = {c.lower(): c for c in frame.columns}
    text = next((by_name[n] for n in TEXT_NAMES if n in by_name), None)
    label = next((by_name[n] for n in LABEL_NAMES if n in by_name and by_name[n] != text), None)
    if label is not None and not _could_be_labels(frame, label):
        label = None
    if text is None and len(frame):
        lengths = {c: frame[c].astype(str).str.len().mean() for c in frame.columns
                   if c != label and column_kind(frame, c) == "words"}
        text = max(lengths, key=lengths.get) if lengths else None
    return text, label


def _choose_column(table: Table, role: str) -> DataError:
    """The sentence when no column was named for `role` ('text' or 'label'): the columns to pick from."""
    choices = column_choices(table.frame)
    listed = ", ".join(f"'{c}' ({n:,} different values)" for c, n in list(choices.items())[:LISTED_COLUMNS])
    more = f" and {len(choices) - LISTED_COLUMNS:,} more" if len(choices) > LISTED_COLUMNS else ""
    names = ", ".join((TEXT_NAMES if role == "text" else LABEL_NAMES)[:3])
    return DataError(f"Could not tell which column of {table.name} holds the {role}s: none is named like one "
                     f"({names}, ...). Its columns are {listed or 'none'}{more}. Pick one (on the command line: "
                     f"--{role}-column NAME).")


def build_text_dataset(table: Table, text_column: str | None, label_column: str | None) -> TextDataset:
    """Keep rows with a text and a label; count the dropped ones. Labels and texts are NFC (one Unicode
    form). Raises DataError for a column not given (None: listing the columns to pick from), a
    missing column, or when no row is usable."""
    frame = table.frame
    for role, column in (("text", text_column), ("label", label_column)):
        if column is None:
            raise _choose_column(table, role)
    text_column, label_column = (unicodedata.normalize("NFC", c).strip() for c in (text_column, label_column))
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in frame.columns:
            have = ", ".join(map(str, frame.columns)) or "no columns"
            raise DataError(f"{table.name} has no column '{column}' (it has: {have}). "
                            f"Pick the column that holds the {role}s.")
    if text_column == label_column:
        raise DataError("The text column and the label column are the same. Pick two different columns.")
    if frame.empty:
        raise DataError(f"{table.name} has a header row but no rows under it. Add one example per row.")
    texts = frame[text_column].astype(str).str.normalize("NFC").str.strip()
    labels = frame[label_column].astype(str).str.normalize("NFC").str.strip()
    empty_text, empty_label = texts == "", labels == ""
    dropped = {"empty text": int(empty_text.sum()), "empty label": int((empty_label & ~empty_text).sum())}
    keep = ~(empty_text | empty_label)
    if not keep.any():
        raise DataError(f"{table.name} has no row with both a text in '{text_column}' and a label in "
                        f"'{label_column}'. Check the columns you picked, or fill in the empty cells.")
    max_chars = limits().max_text_chars
    examples = [TextExample(f"row {i + 2}", label, text[:max_chars])  # row 1 is the header, as a spreadsheet counts
                for i, text, label in zip(range(len(frame)), texts, labels) if text and label]
    counts = Counter(e.label for e in examples)
    classes = sort_classes(counts)
    notes = [table.encoding_note] if table.encoding_note else []
    notes += label_conflict_note(examples, "text")
    cut = int((texts[keep].str.len() > max_chars).sum())
    if cut:
        notes.append(f"{cut:,} {'text was' if cut == 1 else 'texts were'} longer than {max_chars:,} characters and "
                     f"{'was' if cut == 1 else 'were'} cut there (setting max_text_chars in tlcore.toml); "
                     "backbones read only the first few hundred words anyway.")
    report = DataReport({c: counts[c] for c in classes}, unit="text",
                              dropped={k: v for k, v in dropped.items() if v}, notes=notes)
    return TextDataset(examples, classes, report)


def table_from_pasted(classes: dict[str, str]) -> Table:
    """{class name: one example per line} as a two-column table (text, label)."""
    rows = [(line.strip(), name.strip()) for name, block in classes.items() for line in block.splitlines()]
    rows = [(text, label) for text, label in rows if text and label]
    return Table(pd.DataFrame(rows, columns=["text", "label"]), "the typed examples")


def texts_from_upload(data: bytes, name: str) -> list[str]:
    """Texts to predict from a file: a table's guessed text column, or one text per line of a .txt file."""
    if PurePath(name).suffix.lower() == ".txt":
        text, _ = _decode(data, name)
        return [line.strip() for line in text.splitlines() if line.strip()]
    table = read_table(data, name)
    column, _ = guess_columns(table.frame)
    column = column or (table.frame.columns[0] if len(table.frame.columns) else None)
    if column is None:
        raise DataError(f"{name} has no columns. Put one text per row under a 'text' header.")
    return [t.strip() for t in table.frame[column].astype(str) if t.strip()]
