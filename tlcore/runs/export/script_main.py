"""The common half of an exported predict.py: arguments, the onnxruntime session and the CSV, with the
same columns as `python -m tlcore predict`. Copied into predict.py after the task's classify."""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from ...core.formats import escape_formula  # inlined
from .script_images import classify  # inlined: the task's own

HERE = Path(__file__).resolve().parent  # inlined


def table(rows: list[dict], classes: list[str]) -> tuple[list[str], list[list]]:
    """The CSV's columns and rows: the input, predicted, confidence, p_<class>, and problem if any."""
    columns = [next(iter(rows[0])), "predicted", "confidence", *[f"p_{c}" for c in classes]]
    if any("problem" in row for row in rows):
        columns.append("problem")
    lines = []
    for row in rows:
        line = [escape_formula(row[columns[0]])]
        if "proba" in row:
            p = row["proba"]
            line += [escape_formula(classes[int(np.argmax(p))]), float(np.max(p)), *map(float, p)]
        else:
            line += [""] * (2 + len(classes))
        lines.append(line + ([row.get("problem", "")] if "problem" in columns else []))
    return columns, lines


def main(argv: list[str] | None = None) -> int:
    labels = json.loads((HERE / "labels.json").read_text(encoding="utf-8"))
    what = "image files or folders" if labels["task"] == "image" else "texts, or .csv/.tsv/.txt files of texts"
    parser = argparse.ArgumentParser(description=f"Classify {what} with model.onnx: {', '.join(labels['classes'])}.")
    parser.add_argument("inputs", nargs="+", help=what)
    parser.add_argument("--out", default="predictions.csv", help="CSV file to write (default: predictions.csv)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.suffix.lower() != ".csv" or out.is_dir():
        raise SystemExit(f"error: '{args.out}' is not a .csv file name. Type one, e.g. --out predictions.csv.")

    import onnxruntime

    session = onnxruntime.InferenceSession(str(HERE / "model.onnx"), providers=["CPUExecutionProvider"])
    rows = classify(session, labels, args.inputs)
    columns, lines = table(rows, labels["classes"])
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(map(escape_formula, columns))
        writer.writerows(lines)
    failed = sum("problem" in row for row in rows)
    unreadable = f" ({failed} unreadable, see 'problem')" if failed else ""
    print(f"Wrote {len(rows)} prediction{'' if len(rows) == 1 else 's'} to {out}{unreadable}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
