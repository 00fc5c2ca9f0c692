"""The text half of an exported predict.py: texts, or .csv/.tsv/.txt files of texts -> token ids with
the run's own tokenizer (tokenizer.json) and maximum length -> rows. Copied into predict.py."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent  # inlined


def texts_of(items: list[str]) -> list[str]:
    """Each item is a file of texts (a .txt: one per line; a .csv/.tsv: the column named text, else the
    first column) or a text itself; a single word naming such a file that does not exist stops."""
    texts = []
    for item in items:
        path = Path(item)
        if path.suffix.lower() == ".txt" and path.is_file():
            texts += [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
        elif path.suffix.lower() in (".csv", ".tsv") and path.is_file():
            with open(path, newline="", encoding="utf-8-sig") as handle:
                table = list(csv.reader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
            header = [name.strip().lower() for name in table[0]] if table else []
            column = header.index("text") if "text" in header else 0
            texts += [row[column].strip() for row in table[1:] if len(row) > column and row[column].strip()]
        elif path.suffix.lower() in (".txt", ".csv", ".tsv") and len(item.split()) == 1:
            raise SystemExit(f"error: '{item}' does not exist. Give a file of texts that exists, or type the texts.")
        else:
            texts.append(item)
    if not texts:
        raise SystemExit("error: no texts found in the inputs. Give texts, or a CSV/TXT file with one text per row.")
    return texts


def tokenized(tokenizer, texts: list[str], prep: dict) -> dict[str, np.ndarray]:
    """input_ids and attention_mask (int64 [n, longest]), cut at max_length tokens as in training."""
    encodings = tokenizer.encode_batch(texts)
    width = max(len(e.ids) for e in encodings)
    ids = np.full((len(texts), width), prep["pad_id"], dtype=np.int64)
    mask = np.zeros((len(texts), width), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        ids[row, :len(encoding.ids)] = encoding.ids
        mask[row, :len(encoding.ids)] = encoding.attention_mask
    return {"input_ids": ids, "attention_mask": mask}


def load_tokenizer(path: Path, prep: dict):
    """The run's own tokenizer (tokenizer.json), cutting texts at max_length tokens."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=prep["max_length"])
    return tokenizer


def classify(session, labels: dict, items: list[str], batch: int = 32) -> list[dict]:
    """One row per text: the text, then its probabilities."""
    prep, limit = labels["preprocessing"], labels["limits"]["max_text_chars"]
    texts, tokenizer = texts_of(items), load_tokenizer(HERE / "tokenizer.json", prep)
    rows = []
    for start in range(0, len(texts), batch):
        chunk = [text[:limit] for text in texts[start:start + batch]]
        proba = session.run(["probabilities"], tokenized(tokenizer, chunk, prep))[0]
        rows += [{"text": text, "proba": p} for text, p in zip(chunk, proba)]
    return rows
