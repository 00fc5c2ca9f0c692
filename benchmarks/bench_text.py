"""Measure the README's text rows on this machine (not a test; prints a table).

- sentences per second embedded by the bundled all-MiniLM-L6-v2 (tokenize + forward + pool), for the
  sample's short sentences and for paragraphs of about 100 tokens
- time from pressing Train to AUC for the text sample, with 0 and 1 trainable layers (cold caches,
  backbone load included), then again with another learning rate (caches hit)
- the classic featurisers and the scikit-learn heads on the same sample, for comparison

Run from the repository root: python -m benchmarks.bench_text
"""
from __future__ import annotations

import time

from tlcore import TrainConfig, create_backbone, describe_device, get_backbone_info, resolve_device, train
from tlcore.data import Table, build_text_dataset, text_sample
from tlcore.engine.cache import TensorCache
from tlcore.engine.adapters import TextAdapter
from tlcore.engine.frozen import frozen_pass
from tlcore.engine.model import TransferModel

BUNDLED = "all-MiniLM-L6-v2"


def embedding_rate(texts: list[str], device, repeats: int = 3) -> float:
    backbone = create_backbone(BUNDLED)
    adapter = TextAdapter(backbone.tokenizer, get_backbone_info(BUNDLED).preprocessing)
    model = TransferModel(backbone, 2).to(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        frozen_pass(model, adapter, adapter.encode(texts), len(backbone.stages), device=device)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def row(label: str, result, reference: float | None = None) -> None:
    seconds = result.facts.timings_s["total"]
    ratio = f"{seconds / reference:8.2f}" if reference else f"{1:8.2f}"
    print(f"{label:52} {seconds:8.2f} {result.report.auc:6.3f} {ratio}")


def main() -> None:
    device = resolve_device("auto")
    frame = text_sample()
    dataset = build_text_dataset(Table(frame, "sample"), "text", "label")
    sentences = text_sample()["text"].tolist() * 4
    paragraphs = [" ".join(sentences[i:i + 8]) for i in range(0, len(sentences), 8)] * 3
    print(f"text sample: {len(dataset)} sentences, {describe_device(device)}")
    print(f"embedding, short sentences: {embedding_rate(sentences, device):.0f} sentences/s ({len(sentences)})")
    print(f"embedding, ~100-token paragraphs: {embedding_rate(paragraphs, device):.0f} paragraphs/s "
          f"({len(paragraphs)})")
    print(f"{'run':52} {'seconds':>8} {'AUC':>6} {'vs cold':>8}")
    for k in (0, 1):
        cache = TensorCache(None)
        cold = train(dataset, TrainConfig(backbone=BUNDLED, trainable_blocks=k, learning_rate=1e-2),
                                     cache=cache)
        warm = train(dataset, TrainConfig(backbone=BUNDLED, trainable_blocks=k, learning_rate=3e-3),
                                     cache=cache)
        row(f"Train -> AUC, {k} trainable layers, cold", cold)
        row("again, other learning rate (caches hit)", warm, cold.facts.timings_s["total"])
    for backbone, head in (("tfidf", "linear"), ("word-vectors", "linear"), (BUNDLED, "logistic_regression"),
                           (BUNDLED, "random_forest"), (BUNDLED, "linear_svm")):
        result = train(dataset, TrainConfig(backbone=backbone, head=head, learning_rate=1e-2))
        row(f"{backbone} + {head}", result)


if __name__ == "__main__":
    main()
