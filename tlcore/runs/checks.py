"""Every file of a saved run checked before anything is built from it: names, types, ranges and
tensor shapes. Anything wrong becomes one RunLoadError sentence that names the folder and the fault;
nothing in a folder is ever unpickled or run."""
from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path

import torch

from ..backbones import ImagePreprocessing, check_feature_block, list_backbones
from ..backbones.text_preprocessing import TextPreprocessing
from ..core.config import HEADS, TrainConfig, check_head
from ..core.errors import BackboneUnavailable, RunLoadError, TLCoreError
from ..core.settings import limits
from ..core.verify import check, check_finite, number, read_json, tensor_specs, whole
from ..engine.heads import check_forest_shapes, head_state_shapes
from ..engine.loop import EpochLog
from .folders import FORMAT

FILES = ("model.safetensors", "config.json")
MAX_NUM_FEATURES = 100_000  # a backbone's or featuriser's output width
MAX_EPOCHS = 2 * 1000 + 1  # TrainConfig allows 1000 epochs, two stages log up to twice that
VALIDATION_TENSORS = {"y_val", "val_proba", "features/pretrained", "features/fine-tuned"}


@contextmanager
def reading(run_dir: Path):
    """Anything wrong in a run folder's files becomes one sentence that names it."""
    try:
        yield
    except (RunLoadError, BackboneUnavailable):
        raise
    except TLCoreError as exc:
        raise _damaged(run_dir, exc.user_message) from None
    except Exception as exc:
        raise _damaged(run_dir, str(exc)) from None


def _damaged(run_dir: Path, what: str) -> RunLoadError:
    what = what.rstrip(".")
    return RunLoadError(f"The saved run in '{run_dir}' is damaged or from another version "
                        f"({what[:1].lower() + what[1:]}).")


def _check_config(config: dict) -> None:
    """Every field of config.json that loading reads, against its allowed values."""
    task = config.get("task", "image")
    backbones = {info.name: info for info in list_backbones(modality=task)}
    name = config.get("backbone")
    check(name in backbones, f"unknown {task} backbone {str(name)[:40]!r}")
    classes, most = config.get("classes"), limits().max_classes
    check(isinstance(classes, list) and all(isinstance(c, str) for c in classes) and len(set(classes)) == len(classes)
           and 2 <= len(classes) <= most, f"the classes must be 2 to {most} different names")
    blocks, head = config.get("trainable_blocks"), config.get("head", "linear")
    check(whole(blocks, 0, backbones[name].num_blocks),
           f"trainable blocks must be 0 to {backbones[name].num_blocks}, not {str(blocks)[:40]}")
    check(head in HEADS, f"unknown head {str(head)[:40]!r}")
    check_head(head, blocks)
    check(whole(config.get("num_features"), 1, MAX_NUM_FEATURES),
           f"the feature count must be 1 to {MAX_NUM_FEATURES}")
    train = TrainConfig.from_dict(config.get("train_config"))
    check((train.backbone, train.trainable_blocks, train.head, train.seed) ==
           (name, blocks, head, config.get("seed", train.seed)), "the training settings disagree with the run")
    check_feature_block(backbones[name], train.feature_block)
    if task == "image":
        ImagePreprocessing.from_dict(config.get("preprocessing"))
    elif config.get("preprocessing") is not None:  # texts: absent in runs saved before it was kept
        TextPreprocessing.from_dict(config["preprocessing"])


def _check_model_specs(specs: dict, config: dict) -> None:
    """model.safetensors' tensor names, dtypes and shapes: the backbone's are floats (checked against the
    architecture when loaded), the head's exactly what a head of that kind and size holds."""
    head, classes, features = config.get("head", "linear"), len(config["classes"]), config["num_features"]
    check(all(k.startswith(("backbone.", "head.")) for k in specs), "model.safetensors holds foreign tensors")
    check(all(dtype in ("F32", "F16", "BF16") or (key.endswith("num_batches_tracked") and dtype == "I64")
               for key, (dtype, _) in specs.items() if key.startswith("backbone.")),
           "the backbone's tensors are not floating point")
    head_specs = {k.removeprefix("head."): spec for k, spec in specs.items() if k.startswith("head.")}
    if head == "random_forest":
        check_forest_shapes(head_specs, classes)
    else:
        expected = {k: ("F32", shape) for k, shape in head_state_shapes(head, features, classes).items()}
        check(head_specs == expected,
               f"the {head} head's tensors do not fit {features} features and {classes} classes")


def checked_config(run_dir: Path) -> dict:
    """config.json of a folder that is one of our runs, with every field and the model's tensor shapes checked."""
    if not run_dir.exists():
        raise RunLoadError(f"'{run_dir}' does not exist. Give the folder that training wrote, or a run zip.")
    if (run_dir / "run" / "config.json").is_file() and not (run_dir / "config.json").is_file():
        raise RunLoadError(f"'{run_dir}' is an export: its run is the folder '{run_dir / 'run'}' inside it. Give that "
                           "folder, or the export's zip.")
    missing = [f for f in FILES if not (run_dir / f).is_file()]
    if missing:
        raise RunLoadError(f"'{run_dir}' is not a saved run: {', '.join(missing)} missing. "
                           "Choose the folder that training wrote.")
    with reading(run_dir):
        config = read_json(run_dir / "config.json")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise RunLoadError(f"'{run_dir}' was not saved by this app (unknown format). Train and save it here.")
    with reading(run_dir):
        _check_config(config)
        _check_model_specs(tensor_specs(run_dir / "model.safetensors"), config)
    return config


def check_validation_specs(specs: dict, classes: int) -> int:
    """validation.safetensors' names, dtypes and shapes; returns the number of validation examples."""
    check({"y_val", "val_proba"} <= set(specs) <= VALIDATION_TENSORS, "validation.safetensors holds other tensors")
    n = specs["y_val"][1][0] if len(specs["y_val"][1]) == 1 else 0
    check(specs["y_val"] == ("I64", (n,)) and n >= 1, "the validation labels are not a list of class numbers")
    check(specs["val_proba"] == ("F32", (n, classes)), f"the validation probabilities are not {n} x {classes}")
    for key in VALIDATION_TENSORS & set(specs) - {"y_val", "val_proba"}:
        dtype, shape = specs[key]
        check(dtype == "F32" and len(shape) == 2 and shape[0] == n and 1 <= shape[1] <= MAX_NUM_FEATURES,
               f"the validation {key} are not {n} rows of features")
    return n


def check_validation_values(tensors: dict[str, torch.Tensor], classes: int) -> None:
    check_finite(tensors, "validation.safetensors")
    y, proba = tensors["y_val"], tensors["val_proba"]
    check(bool(((y >= 0) & (y < classes)).all()), "a validation label is not one of the classes")
    check(bool(((proba >= 0) & (proba <= 1)).all())
           and torch.allclose(proba.sum(1), torch.ones(len(proba)), atol=1e-3),
           "the validation probabilities do not add up to 1")


def check_examples(examples, n: int, task: str) -> None:
    def texts(key: str) -> bool:
        return isinstance(examples.get(key), list) and len(examples[key]) == n and all(
            isinstance(t, str) for t in examples[key])

    check(isinstance(examples, dict) and texts("names") and (task != "text" or texts("texts")),
           f"validation.json does not name the {n} validation examples")


def check_facts(facts, classes: list[str], n: int) -> None:
    """The metrics.json fields the insight views read."""
    check(isinstance(facts, dict), "metrics.json is not a table")
    timings = facts.get("timings_s")
    check(isinstance(timings, dict) and "total" in timings and all(number(t, 0) for t in timings.values()),
           "metrics.json has no training times")
    check(facts.get("classes") == classes and facts.get("n_val") == n, "metrics.json is about another validation set")
    counts = facts.get("train_counts")
    check(counts is None or (isinstance(counts, list) and len(counts) == len(classes)
                              and all(whole(c, 0, math.inf) for c in counts)),
           "the training counts do not fit the classes")
    duplicates = facts.get("duplicates", [])
    check(isinstance(duplicates, list) and all(isinstance(d, dict) and isinstance(d.get("val"), str)
                                                and isinstance(d.get("train"), str) for d in duplicates),
           "the duplicates list is not pairs of names")
    for key in ("n_train", "epochs_run", "trainable_params"):
        check(facts.get(key) is None or whole(facts[key], 0, math.inf), f"{key} is not a count")
    check(isinstance(facts.get("device", ""), str), "the device is not a name")
    stages = facts.get("stages", [])
    check(isinstance(stages, list) and len(stages) <= 2 and all(isinstance(s, dict) for s in stages),
          "the training stages are not a list of records")


def checked_history(raw) -> list[EpochLog]:
    """history.json as epoch logs: epochs from 1, losses 0 or more (or NaN: a run that diverged), accuracies 0..1."""
    def loss(value) -> bool:
        return number(value, 0) or (isinstance(value, float) and math.isnan(value))

    check(isinstance(raw, list) and len(raw) <= MAX_EPOCHS, "history.json is not a list of epochs")
    keys = set(EpochLog.__dataclass_fields__)
    for h in raw:
        check(isinstance(h, dict) and keys - {"stage"} <= set(h) <= keys and whole(h.get("stage", 1), 1, 2)
              and whole(h["epoch"], 1, MAX_EPOCHS) and loss(h["train_loss"])
              and loss(h["val_loss"]) and number(h["train_accuracy"], 0, 1) and number(h["val_accuracy"], 0, 1)
              and number(h["seconds"], 0), "history.json holds an epoch that is not one")
    return [EpochLog(**h) for h in raw]


