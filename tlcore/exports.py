"""CSV files we hand to people: text cells that a spreadsheet would run as a formula are escaped."""
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
