"""Numbers and tables written for people: counts (1,280 or 11.9 million, never 11918592), plain
decimals, and CSV files whose text cells a spreadsheet would run as a formula escaped."""
from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value):
    """A text starting like a formula (=HYPERLINK(...), +1, @SUM) gets a leading apostrophe, the way
    spreadsheets mark a cell as plain text; everything else is unchanged."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def csv_text(frame: pd.DataFrame) -> str:
    """The frame as CSV with every text cell (and column name) safe to open in Excel or Sheets."""
    safe = frame.rename(columns=escape_formula)
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(escape_formula)
    return safe.to_csv(index=False)


def count_for_people(n: int) -> str:
    """Thousands separated below a million ("12,810"), then millions with one decimal ("11.9 million")."""
    if abs(n) < 1_000_000:
        return f"{n:,}"
    return f"{n / 1_000_000:,.1f} million"
