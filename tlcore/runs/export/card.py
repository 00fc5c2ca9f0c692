"""MODEL_CARD.md: what a reader of an exported model needs, in plain words, from the run's own facts."""
from __future__ import annotations

import json

from ...insight.metrics import bootstrap_intervals, majority_baseline
from ..run import Run

INTENDED = {
    "image": "Sorting new photos of the same kinds, taken the same way as the training photos (camera, light, "
             "framing), into the classes above.",
    "text": "Sorting new short texts like the training texts (the same language, length and topics) into the "
            "classes above.",
}
LIMITS = (
    "- It only knows the classes above: anything else is still given one of them, often with high confidence.\n"
    "- The scores come from {n} validation {unit}s of the same collection as the training data; on {unit}s from "
    "elsewhere it will usually do worse. Check it on a few of your own first.\n"
    "- It learns whatever tells the classes apart in the examples, including backgrounds, lighting or wording "
    "that has nothing to do with the class.\n"
    "- It is a teaching and demonstration model: do not use it for decisions about people, health, safety or money."
)


def _interval(value: float | None, interval) -> str:
    if value is None:
        return "not defined (a class is missing from the validation set)"
    return f"{value:.3f}" + (f" (95 % interval {interval.low:.3f} to {interval.high:.3f})" if interval else "")


def _versions(run: Run) -> str:
    config = json.loads((run.folder / "config.json").read_text(encoding="utf-8"))
    return ", ".join(f"{name} {version}" for name, version in config.get("versions", {}).items())


def _preprocessing(prep: dict, unit: str) -> str:
    if unit == "text":
        return (f"Texts are split into tokens by the backbone's own tokenizer (tokenizer.json) and cut at "
                f"{prep['max_length']} tokens. predict.py does exactly this.")
    return (f"Images are turned upright (EXIF), put on white where transparent, resized so the shorter side is "
            f"{prep['resize_size']} pixels ({prep['interpolation']}{', antialiased' if prep['antialias'] else ''}) and "
            f"cropped to the centre {prep['input_size']} x {prep['input_size']}; the model normalises them with mean "
            f"{prep['mean']} and std {prep['std']}. predict.py runs the app's own code for this, copied.")


def _precision_note(verified: dict, unit: str) -> str:
    """Where the run's own answers were computed in lower precision (bf16), how often they differ."""
    differ = round((1 - verified["top_class_agreement"]) * verified["examples"])
    if not differ:
        return " Its answers are the saved run's on every one."
    return (f" The scores above were computed in bf16 (mixed precision, faster on this hardware); at full precision "
            f"{differ} of these {verified['examples']} {unit}s get another answer, so expect accuracy to move by about "
            f"that many {unit}s.")


def model_card(run: Run, labels: dict) -> str:
    """The card: task, classes and counts, backbone and depth, validation scores with their intervals
    and the baseline, the run's warnings, preprocessing, seed and versions, intended use and limits."""
    unit = run.task
    intervals = bootstrap_intervals(run.y_val, run.val_proba)
    counts = run.facts.train_counts or [0] * len(run.classes)
    majority, baseline = majority_baseline(counts, run.y_val)
    verified = labels["verified"]
    lines = [
        f"# Model card: {run.label}", "",
        f"{'An image' if unit == 'image' else 'A text'} classifier with {len(run.classes)} classes, trained with "
        "transfer learning.", "",
        "## Classes", "", "| class | training examples |", "|---|---|",
        *[f"| {name} | {count} |" for name, count in zip(run.classes, counts)], "",
        "## Model", "",
        f"- Backbone: {run.config.backbone}, pretrained"
        + (f", cut after block {run.config.feature_block} (features from its pooled output)"
           if run.config.feature_block else "")
        + f"; {run.config.trainable_blocks} trainable block(s) from the top "
        f"({'only the new head learnt' if run.config.trainable_blocks == 0 else 'fine-tuned'}).",
        f"- Head: {run.config.head}. Seed: {run.config.seed}. Epochs run: {run.facts.epochs_run} "
        f"(kept epoch {run.facts.best_epoch}).",
        f"- Libraries at training: {_versions(run)}.", "",
        "## How well it did", "",
        f"On {len(run.y_val)} validation {unit}s it never trained on:", "",
        f"- AUC: {_interval(run.report.auc, intervals['auc'])}",
        f"- Accuracy: {_interval(run.report.accuracy, intervals['accuracy'])}",
        f"- Baseline (always answering '{run.classes[majority]}', the largest class): accuracy {baseline:.3f}", "",
        "The intervals show how much the numbers could move with another validation set of the same size.", "",
        "## Warnings", "", *([f"- {w}" for w in run.warnings()] or ["None raised by the checks (tiny validation set, "
                                                                  "imbalance, duplicates)."]), "",
        "## Preprocessing", "", _preprocessing(labels["preprocessing"], unit), "",
        "## Checked at export", "",
        f"On {verified['examples']} validation {unit}s, model.onnx (onnxruntime) gives the app's full-precision "
        f"probabilities within {verified['max_difference']:.1g}.{_precision_note(verified, unit)}", "",
        "## Intended use", "", INTENDED[unit], "",
        "## Limits", "", LIMITS.format(n=len(run.y_val), unit=unit), "",
    ]
    return "\n".join(lines)
