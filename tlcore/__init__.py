"""tlcore: the transfer-learning engine behind the app and the command line (no Streamlit here)."""
from .backbones import BackboneInfo, create_backbone, get_backbone_info, list_backbones
from .classifier import ImageClassifier, TextClassifier
from .config import TrainConfig
from .data import (
    ImageDataset, TextDataset, ValidationReport, build_dataset, build_text_dataset, digits_sample, read_data_path,
    read_table, read_zip, records_from_uploads, text_sample,
)
from .device import describe_device, resolve_device
from .errors import BackboneUnavailable, ConfigError, DataError, ImageReadError, RunLoadError, TLCoreError
from .experiment import TrainResult, train_image_classifier
from .freezing import FreezeSummary, freeze_summary
from .metrics import EvalReport, evaluate
from .persistence import load_run, predictions_frame, save_run
from .tasks import default_config, train_classifier
from .text_experiment import train_text_classifier
from .training import Callback, EpochLog, TrainingCancelled

__all__ = [
    "BackboneInfo", "create_backbone", "get_backbone_info", "list_backbones", "ImageClassifier", "TextClassifier",
    "TrainConfig", "ImageDataset", "TextDataset", "ValidationReport", "build_dataset", "build_text_dataset",
    "digits_sample", "read_data_path", "read_table", "read_zip", "records_from_uploads", "text_sample",
    "describe_device", "resolve_device", "BackboneUnavailable", "ConfigError", "DataError", "ImageReadError",
    "RunLoadError", "TLCoreError", "TrainResult",
    "train_image_classifier", "FreezeSummary", "freeze_summary", "EvalReport", "evaluate", "load_run",
    "predictions_frame", "save_run", "default_config", "train_classifier", "train_text_classifier",
    "Callback", "EpochLog", "TrainingCancelled",
]
