"""Run folders: model.safetensors + config.json + metrics.json + history.json + predictions.csv.
Written atomically; nothing is ever pickled or unpickled."""
from __future__ import annotations

import io
import json
import os
import platform
import shutil
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_model, save_model

from .backbones import Preprocessing, create_backbone
from .classifier import ImageClassifier
from .errors import RunLoadError, TLCoreError
from .experiment import TrainResult
from .freezing import apply_freeze
from .model import TransferModel

FORMAT = "tlcore-run/1"
FILES = ("model.safetensors", "config.json")


def _versions() -> dict:
    import sklearn
    import torchvision

    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "scikit-learn": sklearn.__version__}


def predictions_frame(result: TrainResult) -> pd.DataFrame:
    """Validation predictions: file, true class, predicted class, one probability column per class."""
    classes = result.classifier.classes
    frame = pd.DataFrame({
        "file": [e.name for e in result.val_examples],
        "true": [classes[i] for i in result.y_val],
        "predicted": [classes[i] for i in result.val_proba.argmax(1)],
    })
    frame["correct"] = frame["true"] == frame["predicted"]
    for i, c in enumerate(classes):
        frame[f"p_{c}"] = result.val_proba[:, i]
    return frame


def save_run(result: TrainResult, run_dir: str | Path) -> Path:
    """Write the run to a temporary folder beside run_dir, then swap it in, so a crash never
    leaves a half-written model where a good one was."""
    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    clf = result.classifier
    staging = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", dir=run_dir.parent))
    try:
        save_model(clf.model.cpu(), str(staging / "model.safetensors"))
        config = {
            "format": FORMAT, "task": "image", "classes": clf.classes, "backbone": clf.backbone,
            "trainable_blocks": clf.trainable_blocks, "preprocessing": clf.preprocessing.to_dict(),
            "train_config": result.config.to_dict(), "seed": result.config.seed, "versions": _versions(),
        }
        (staging / "config.json").write_text(json.dumps(config, indent=2))
        (staging / "metrics.json").write_text(json.dumps(result.metrics_dict(), indent=2))
        (staging / "history.json").write_text(json.dumps([h.to_dict() for h in result.history], indent=2))
        predictions_frame(result).to_csv(staging / "predictions.csv", index=False)
        if run_dir.exists():
            old = run_dir.with_name(f".{run_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(run_dir, old)
            os.replace(staging, run_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, run_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        clf.model.to(clf.device)
    return run_dir


def load_run(run_dir: str | Path, device: torch.device | None = None) -> ImageClassifier:
    """Load a saved run for prediction; needs no download (the weights are all in the folder)."""
    run_dir = Path(run_dir)
    missing = [f for f in FILES if not (run_dir / f).is_file()]
    if missing:
        raise RunLoadError(f"'{run_dir}' is not a saved run: {', '.join(missing)} missing. "
                           "Choose the folder that training wrote.")
    try:
        config = json.loads((run_dir / "config.json").read_text())
        if config.get("format") != FORMAT:
            raise RunLoadError(f"'{run_dir}' was not saved by this app (unknown format). Train and save it here.")
        classes = [str(c) for c in config["classes"]]
        model = TransferModel(create_backbone(config["backbone"], pretrained=False), len(classes))
        apply_freeze(model, int(config["trainable_blocks"]))
        load_model(model, str(run_dir / "model.safetensors"))
        prep = Preprocessing.from_dict(config["preprocessing"])
    except TLCoreError:
        raise
    except Exception as exc:
        raise RunLoadError(f"The saved run in '{run_dir}' is damaged or from another version ({exc}).") from None
    device = device or torch.device("cpu")
    model.to(device).eval()
    return ImageClassifier(model, classes, prep, config["backbone"], int(config["trainable_blocks"]), device)


def runs_dir() -> Path:
    """Where the app saves runs: $TLCORE_RUNS_DIR, else ./runs."""
    return Path(os.environ.get("TLCORE_RUNS_DIR", "runs"))


def list_runs(folder: str | Path | None = None) -> list[Path]:
    """Saved run folders, newest first."""
    folder = Path(folder) if folder else runs_dir()
    if not folder.is_dir():
        return []
    runs = [p for p in folder.iterdir() if (p / "config.json").is_file() and not p.name.startswith(".")]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)


def zip_run(run_dir: str | Path) -> bytes:
    """The run folder as zip bytes, for a download button."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(Path(run_dir).iterdir()):
            archive.write(path, f"{Path(run_dir).name}/{path.name}")
    return buffer.getvalue()
