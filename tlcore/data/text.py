"""Texts in: a CSV, TSV or Excel file (pick the text and label columns), or examples typed per class."""
from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePath
from typing import Iterator

import pandas as pd

from ..errors import DataError
from ..settings import limits
from .dataset import LabelledDataset, ValidationReport, sort_classes

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".xlsx")
TEXT_NAMES = ("text", "sentence", "review", "message", "content", "comment", "body", "tweet", "question", "document")
LABEL_NAMES = ("label", "class", "category", "target", "sentiment", "tag", "y", "labels", "intent", "topic")
FALLBACK_ENCODINGS = (("cp1252", "Windows-1252 (cp1252)"), ("latin-1", "Latin-1"))


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


def _decode(data: bytes, name: str) -> tuple[str, str | None]:
    """UTF-8 (a BOM is fine); else cp1252, then Latin-1, with a note naming the fallback."""
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
    frame.columns = [str(c).strip() for c in frame.columns]
    return Table(frame.fillna(""), name, note)


def guess_columns(frame: pd.DataFrame) -> tuple[str | None, str | None]:
    """(text column, label column) by name (text/label, sentence/class, ...), else by content:
    the longest texts, and the column with the fewest distinct values."""
    by_name = {c.lower(): c for c in frame.columns}
    text = next((by_name[n] for n in TEXT_NAMES if n in by_name), None)
    label = next((by_name[n] for n in LABEL_NAMES if n in by_name and by_name[n] != text), None)
    if len(frame.columns) < 2 or len(frame) == 0:
        return text, label
    if text is None:
        lengths = {c: frame[c].astype(str).str.len().mean() for c in frame.columns if c != label}
        text = max(lengths, key=lengths.get)
    if label is None:
        distinct = {c: frame[c].nunique() for c in frame.columns if c != text}
        label = min(distinct, key=distinct.get)
    return text, label


def build_text_dataset(table: Table, text_column: str, label_column: str) -> TextDataset:
    """Keep rows with a text and a label; count the dropped ones. Raises DataError for a missing
    column or when no row is usable."""
    frame = table.frame
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in frame.columns:
            have = ", ".join(map(str, frame.columns)) or "no columns"
            raise DataError(f"{table.name} has no column '{column}' (it has: {have}). "
                            f"Pick the column that holds the {role}s.")
    if text_column == label_column:
        raise DataError("The text column and the label column are the same. Pick two different columns.")
    if frame.empty:
        raise DataError(f"{table.name} has a header row but no rows under it. Add one example per row.")
    texts = frame[text_column].astype(str).str.strip()
    labels = frame[label_column].astype(str).str.strip()
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
    cut = int((texts[keep].str.len() > max_chars).sum())
    if cut:
        notes.append(f"{cut:,} {'text was' if cut == 1 else 'texts were'} longer than {max_chars:,} characters and "
                     f"{'was' if cut == 1 else 'were'} cut there (setting max_text_chars in tlcore.toml); "
                     "backbones read only the first few hundred words anyway.")
    report = ValidationReport({c: counts[c] for c in classes}, unit="text",
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
