"""How good the defaults are (not a test; prints a table): on each dataset, the validation AUC of a
run at default settings (0 trainable blocks) against a plain scikit-learn baseline on the same frozen
features and the same split: StandardScaler + LogisticRegression with C chosen by 5-fold
cross-validation on the training part. The target is that the defaults are never below it.

Datasets, all made from what is installed: the app's image sample (400 digits), all 1,797 of
scikit-learn's digits, generated shapes, the app's text sample, and 1,000 generated sentences.

Run from the repository root: python -m benchmarks.bench_accuracy
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.bench_train import make_text_set
from tests.conftest import shape_records
from tlcore import build_dataset, create_backbone, default_config, describe_device, get_backbone_info, resolve_device
from tlcore import train
from tlcore.data import Table, build_text_dataset, digits_sample, text_sample
from tlcore.engine.adapters import adapter_for
from tlcore.engine.frozen import frozen_pass
from tlcore.engine.model import TransferModel
from tlcore.insight.metrics import roc_auc


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
    print(f"{'dataset':44} {'n':>6} {'defaults AUC':>13} {'sklearn LR-CV AUC':>18} {'gap':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        sentences = pd.read_csv(make_text_set(Path(tmp) / "sentences.csv", 1000))
        sets = [
            ("images: app sample, 400 digits", "image", build_dataset(digits_sample())),
            ("images: all 1,797 digits", "image", build_dataset(digits_sample(per_class=1000))),
            ("images: generated shapes, 2 classes", "image", build_dataset(shape_records(per_class=40))),
            ("texts: app sample, 90 sentences", "text",
             build_text_dataset(Table(text_sample(), "sample"), "text", "label")),
            ("texts: 1,000 generated sentences, 4 topics", "text",
             build_text_dataset(Table(sentences, "sentences"), "text", "label")),
        ]
        for name, task, dataset in sets:
            config = default_config(task)
            run = train(dataset, config)
            x = pooled_features(dataset, config, device)
            baseline = baseline_auc(dataset, run, x)
            print(f"{name:44} {len(dataset):>6} {run.report.auc:>13.4f} {baseline:>18.4f} "
                  f"{run.report.auc - baseline:>+8.4f}", flush=True)


if __name__ == "__main__":
    main()
