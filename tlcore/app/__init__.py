"""The only package that imports Streamlit: the workspace (workspace.py), cached loaders (loaders.py),
the cached insight views (insights.py) and figures (figures.py), and shared widgets (widgets.py). Pages import from here and
from tlcore only; what they need from tlcore's subpackages is re-exported below."""
from ..core.config import HEADS, head_choices
from ..core.formats import count_for_people
from ..core.settings import limits, readable
from ..data import column_choices, guess_columns, table_from_pasted, texts_from_upload
from ..engine.reuse import describe_reuse
from ..insight import glossary
from ..insight.embedding_map import methods
from ..insight.metrics import majority_baseline, operating_point, pr_curve
from ..insight.plots import (
    confusion_figure, embedding_figure, history_figure, operating_point_figures, roc_figure, runs_history_figure,
    runs_roc_figure,
)
from ..runs import jobs
from ..runs.files import copy_run
from ..runs.archive import zip_run
from ..runs.folders import run_folder_name, runs_dir, user_file_path
from ..runs.sweep import sweep_problem
from ..runs.work import SweepWork, TrainWork
from .advice import advice_section, layer_sweep_section
from .camera import CameraShots, Shot, camera_shots, webcam_allowed, webcam_works
from .class_rows import ClassRows
from .exports import export_section
from .figures import confusion_chart, curve_charts, embedding_chart, example_caption
from .insights import (
    heat_legend, heat_overlays, imagenet_top, predictions_frame, predictions_table, run_projection, run_separation,
    run_word_importance, text_importance, thumbnails, upload_heat, upload_thumbnail, validation_image,
)
from .loaders import (
    RunVersion, cached_freeze_summary, cached_run, cached_table, choice_version, digest, folder_version,
    load_choice, load_classifier, predict_table, run_intervals, run_version, sweep_estimates, upload_digest,
)
from .reopen import project_download, project_upload, run_upload
from .widgets import (
    MARKDOWN_SPECIALS, backbone_title, chart, csv_download, explain, explanations_switch, follow_job,
    highlighted_words, need_data, need_result, plain, image_bytes, readable_seconds, setting_widget, show_error,
    thumbnail_uri,
)
from .workspace import (
    KEY, SESSION_PARAM, THIS_SESSION, Workspace, run_choices, run_folder, run_folders, run_label, sweep_label,
    workspace,
)

__all__ = [
    # the workspace and the runs it can look at
    "KEY", "SESSION_PARAM", "THIS_SESSION", "Workspace", "run_choices", "run_folder", "run_folders", "run_label",
    "sweep_label", "workspace",
    # the guidance on the Model and Compare pages
    "advice_section", "layer_sweep_section",
    # the Data page's class rows and their webcam shots
    "ClassRows", "CameraShots", "Shot", "camera_shots", "webcam_allowed", "webcam_works",
    # runs and projects opened from a file, and Save project
    "project_download", "project_upload", "run_upload", "export_section",
    # cached loaders
    "RunVersion", "cached_freeze_summary", "cached_run", "cached_table", "choice_version", "digest",
    "folder_version", "load_choice", "load_classifier", "predict_table", "run_intervals", "run_version",
    "sweep_estimates", "upload_digest",
    # cached insight views and figures
    "heat_legend", "heat_overlays", "imagenet_top", "predictions_frame", "predictions_table", "run_projection",
    "run_separation", "run_word_importance", "text_importance", "thumbnails", "upload_heat", "upload_thumbnail",
    "validation_image", "confusion_chart", "curve_charts", "embedding_chart", "example_caption",
    # widgets
    "MARKDOWN_SPECIALS", "backbone_title", "chart", "csv_download", "explain", "explanations_switch",
    "follow_job", "highlighted_words", "need_data", "need_result", "plain", "image_bytes", "readable_seconds",
    "setting_widget", "show_error", "thumbnail_uri",
    # from tlcore's subpackages, for the pages
    "HEADS", "head_choices", "count_for_people", "limits", "readable", "column_choices", "guess_columns",
    "table_from_pasted", "texts_from_upload", "describe_reuse", "glossary", "methods", "majority_baseline",
    "operating_point", "pr_curve", "confusion_figure", "embedding_figure", "history_figure",
    "operating_point_figures", "roc_figure", "runs_history_figure", "runs_roc_figure", "jobs", "copy_run",
    "run_folder_name", "runs_dir", "user_file_path", "zip_run", "sweep_problem", "SweepWork", "TrainWork",
]
