"""tlcore: the transfer-learning engine behind the app and the command line (no Streamlit here)."""
from .backbones import BackboneInfo, create_backbone, get_backbone_info, list_backbones
from .classifier import ImageClassifier
from .config import TrainConfig
from .data import (
    ImageDataset, ValidationReport, build_dataset, digits_sample, read_data_path, read_zip, records_from_uploads,
)
from .device import describe_device, resolve_device
from .errors import BackboneUnavailable, ConfigError, DataError, ImageReadError, RunLoadError, TLCoreError
from .experiment import TrainResult, train_image_classifier
from .freezing import FreezeSummary, freeze_summary
from .metrics import EvalReport, evaluate
from .persistence import load_run, predictions_frame, save_run
from .training import Callback, EpochLog, TrainingCancelled

__all__ = [
    "BackboneInfo", "create_backbone", "get_backbone_info", "list_backbones", "ImageClassifier", "TrainConfig",
    "ImageDataset", "ValidationReport", "build_dataset", "digits_sample", "read_data_path", "read_zip",
    "records_from_uploads", "describe_device", "resolve_device", "BackboneUnavailable", "ConfigError",
    "DataError", "ImageReadError", "RunLoadError", "TLCoreError", "TrainResult",
    "train_image_classifier", "FreezeSummary", "freeze_summary", "EvalReport", "evaluate", "load_run",
    "predictions_frame", "save_run", "Callback", "EpochLog", "TrainingCancelled",
]
