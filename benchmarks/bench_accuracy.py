"""How good the defaults are (not a test; prints a table): on each dataset, the validation AUC of a
run at default settings (0 trainable blocks) against a plain scikit-learn baseline on the same frozen
features and the same split: StandardScaler + LogisticRegression with C chosen by 5-fold
cross-validation on the training part. The target is that the defaults are never below it. Each
dataset is split three ways (seeds 0, 1, 2; the backbone runs once, its features are cached) and the
table shows the mean AUC of each and the smallest gap, since on a few hundred validation examples two
good fits differ by chance.

Datasets, all made from what is installed: the app's image sample (400 digits), all 1,797 of
scikit-learn's digits, the digits under heavy noise and shifts, generated shapes, the app's text
sample, 1,000 generated sentences, and 1,000 harder ones (one topic word each, a fifth mislabelled).

Run from the repository root: python -m benchmarks.bench_accuracy
"""
from __future__ import annotations

import io
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from PIL import Image

from benchmarks.bench_train import make_text_set
from tests.conftest import shape_records
from tlcore import build_dataset, create_backbone, default_config, describe_device, get_backbone_info, resolve_device
from tlcore import train
from tlcore.data import Table, build_text_dataset, digits_sample, text_sample
from tlcore.data.sources import Record
from tlcore.engine.adapters import adapter_for
from tlcore.engine.frozen import frozen_pass
from tlcore.engine.model import TransferModel
from tlcore.insight.metrics import roc_auc


SEEDS = (0, 1, 2)


def noisy_digits(seed: int = 0) -> list[Record]:
    """All 1,797 digits shifted by up to 2 of their 8 pixels and buried in noise (sd 40 % of the range)."""
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(seed)
    digits = load_digits()
    records = []
    for n, (pixels, digit) in enumerate(zip(digits.images, digits.target)):
        shifted = np.roll(pixels / 16, tuple(rng.integers(-2, 3, 2)), axis=(0, 1))
        big = np.kron(shifted, np.ones((8, 8))) + rng.normal(0, 0.4, (64, 64))
        buffer = io.BytesIO()
        Image.fromarray((255 * (1 - big.clip(0, 1))).astype(np.uint8), "L").save(buffer, format="PNG")
        records.append(Record(str(digit), f"{digit}/noisy_{n:04d}.png", buffer.getvalue()))
    return records


def hard_sentences(count: int, seed: int = 0) -> pd.DataFrame:
    """Sentences of filler with one topic word each, a fifth of them given a wrong label."""
    rng = np.random.default_rng(seed)
    frame = pd.read_csv(make_text_set(Path(tempfile.mkdtemp()) / "s.csv", count, seed))
    topics = sorted(frame["label"].unique())
    filler = "the a today we our new very after before with and really quite some many this".split()
    words = {label: [w for text in frame.loc[frame.label == label, "text"] for w in text.lower().strip(".").split()
                     if w not in filler] for label in topics}
    rows = []
    for i in range(count):
        label = topics[i % len(topics)]
        text = " ".join([str(rng.choice(words[label]))] + list(rng.choice(filler, 12)))
        shown = str(rng.choice(topics)) if rng.random() < 0.2 else label
        rows.append({"text": text.capitalize() + ".", "label": shown})
    return pd.DataFrame(rows)


def pooled_features(dataset, config, device) -> np.ndarray:
    """Every example's pooled features from the pretrained backbone, prepared by the run's own adapter."""
    backbone = create_backbone(config.backbone)
    adapter = adapter_for(get_backbone_info(config.backbone), backbone, config)
    model = TransferModel(backbone, len(dataset.classes)).to(device)
    raw = [e.text if hasattr(e, "text") else (e.name, e.data) for e in dataset.examples]
    return frozen_pass(model, adapter, adapter.encode(raw), len(backbone.stages), device=device).float().numpy()


def baseline_auc(dataset, run, x: np.ndarray) -> float:
    """scikit-learn's logistic regression (C by cross-validation) on the run's own split."""
    row = {e.name: i for i, e in enumerate(dataset.examples)}
    val = [row[name] for name in run.val_names]  # in the run's order, as run.y_val
    train_rows = np.setdiff1d(np.arange(len(dataset)), val)
    y = np.array([run.classes.index(e.label) for e in dataset.examples])
    model = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=10, cv=5, max_iter=5000))
    model.fit(x[train_rows], y[train_rows])
    proba = np.zeros((len(val), len(run.classes)))
    proba[:, model.classes_] = model.predict_proba(x[val])
    return roc_auc(run.y_val, proba, len(run.classes))


def main() -> None:
    device = resolve_device("auto")
    print(f"{describe_device(device)}; default settings, 0 trainable blocks")
    print(f"{'dataset':48} {'n':>6} {'defaults AUC':>13} {'sklearn LR-CV AUC':>18} {'mean gap':>9} {'least gap':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        sentences = pd.read_csv(make_text_set(Path(tmp) / "sentences.csv", 1000))
        sets = [
            ("images: app sample, 400 digits", "image", build_dataset(digits_sample())),
            ("images: all 1,797 digits", "image", build_dataset(digits_sample(per_class=1000))),
            ("images: 1,797 digits, noisy and shifted", "image", build_dataset(noisy_digits())),
            ("images: generated shapes, 2 classes", "image", build_dataset(shape_records(per_class=40))),
            ("texts: app sample, 90 sentences", "text",
             build_text_dataset(Table(text_sample(), "sample"), "text", "label")),
            ("texts: 1,000 generated sentences, 4 topics", "text",
             build_text_dataset(Table(sentences, "sentences"), "text", "label")),
            ("texts: 1,000 harder sentences, 20 % mislabelled", "text",
             build_text_dataset(Table(hard_sentences(1000), "hard"), "text", "label")),
        ]
        for name, task, dataset in sets:
            x = pooled_features(dataset, default_config(task), device)
            ours, theirs = [], []
            for seed in SEEDS:
                run = train(dataset, replace(default_config(task), seed=seed))
                ours.append(run.report.auc)
                theirs.append(baseline_auc(dataset, run, x))
            gaps = np.subtract(ours, theirs)
            print(f"{name:48} {len(dataset):>6} {np.mean(ours):>13.4f} {np.mean(theirs):>18.4f} "
                  f"{gaps.mean():>+9.4f} {gaps.min():>+10.4f}", flush=True)


if __name__ == "__main__":
    main()
