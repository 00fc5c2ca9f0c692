"""tlcore: the transfer-learning engine behind the app and the command line (no Streamlit here).

The flow, one folder per step: core (settings, errors) -> data (uploads to datasets) -> backbones
(registry, preprocessing) -> engine (adapters, model, training loop, caches) -> insight (metrics,
checks, explanations, plots) -> runs (train, the Run, saving and loading, sweeps, jobs) -> app
(the only Streamlit code)."""
from .backbones import BackboneInfo, ImagePreprocessing, create_backbone, get_backbone_info, list_backbones
from .core.config import HEADS, TrainConfig, default_config, head_choices
from .core.device import describe_device, resolve_device
from .core.errors import BackboneUnavailable, ConfigError, DataError, ImageReadError, RunLoadError, TLCoreError
from .data import (
    DataReport, ImageDataset, TextDataset, build_dataset, build_text_dataset, digits_sample, read_data_path,
    read_table, read_zip, records_from_uploads, text_sample,
)
from .engine.classifier import Classifier
from .engine.freezing import FreezeSummary, freeze_summary
from .engine.loop import Callback, EpochLog, TrainingCancelled
from .insight.metrics import EvalReport, evaluate
from .runs.files import copy_run, load_classifier, load_run, save_run
from .runs.run import Run, RunFacts
from .runs.sweep import sweep_depths
from .runs.train import train

__all__ = [
    "BackboneInfo", "ImagePreprocessing", "create_backbone", "get_backbone_info", "list_backbones", "HEADS",
    "TrainConfig", "default_config", "head_choices", "describe_device", "resolve_device", "BackboneUnavailable",
    "ConfigError", "DataError", "ImageReadError", "RunLoadError", "TLCoreError", "DataReport", "ImageDataset",
    "TextDataset", "build_dataset", "build_text_dataset", "digits_sample", "read_data_path", "read_table",
    "read_zip", "records_from_uploads", "text_sample", "Classifier", "FreezeSummary", "freeze_summary", "Callback",
    "EpochLog", "TrainingCancelled", "EvalReport", "evaluate", "copy_run", "load_classifier", "load_run",
    "save_run", "Run", "RunFacts", "sweep_depths", "train",
]
