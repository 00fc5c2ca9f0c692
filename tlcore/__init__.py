"""tlcore: the transfer-learning engine behind the app and the command line (no Streamlit here)."""
from .backbones import BackboneInfo, create_backbone, get_backbone_info, list_backbones
from .engine.classifier import ImageClassifier, TextClassifier
from .core.config import TrainConfig
from .data import (
    ImageDataset, TextDataset, DataReport, build_dataset, build_text_dataset, digits_sample, read_data_path,
    read_table, read_zip, records_from_uploads, text_sample,
)
from .core.device import describe_device, resolve_device
from .core.errors import BackboneUnavailable, ConfigError, DataError, ImageReadError, RunLoadError, TLCoreError
from .runs.experiment import TrainResult, train_image_classifier
from .engine.freezing import FreezeSummary, freeze_summary
from .insight.metrics import EvalReport, evaluate
from .runs.persistence import load_run, predictions_frame, save_run
from .runs.work import default_config, train_classifier
from .runs.text_experiment import train_text_classifier
from .engine.loop import Callback, EpochLog, TrainingCancelled

__all__ = [
    "BackboneInfo", "create_backbone", "get_backbone_info", "list_backbones", "ImageClassifier", "TextClassifier",
    "TrainConfig", "ImageDataset", "TextDataset", "DataReport", "build_dataset", "build_text_dataset",
    "digits_sample", "read_data_path", "read_table", "read_zip", "records_from_uploads", "text_sample",
    "describe_device", "resolve_device", "BackboneUnavailable", "ConfigError", "DataError", "ImageReadError",
    "RunLoadError", "TLCoreError", "TrainResult",
    "train_image_classifier", "FreezeSummary", "freeze_summary", "EvalReport", "evaluate", "load_run",
    "predictions_frame", "save_run", "default_config", "train_classifier", "train_text_classifier",
    "Callback", "EpochLog", "TrainingCancelled",
]
