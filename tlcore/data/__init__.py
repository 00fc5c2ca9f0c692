"""Uploads -> records -> validated dataset -> stratified split."""
from .dataset import (
    ImageDataset, ImageExample, LabelledDataset, DataReport, build_dataset, stratified_split,
)
from .images import decode_image
from .samples import digits_sample, text_sample
from .sources import Record, Skipped, read_data_path, read_file, read_folder, read_zip, records_from_uploads
from .text import (
    Table, TextDataset, TextExample, build_text_dataset, column_choices, guess_columns, read_table,
    table_from_pasted, texts_from_upload,
)

__all__ = [
    "ImageDataset", "ImageExample", "LabelledDataset", "DataReport", "build_dataset", "stratified_split",
    "decode_image", "digits_sample", "text_sample", "Record", "Skipped", "read_data_path", "read_file", "read_folder",
    "read_zip", "records_from_uploads", "Table", "TextDataset", "TextExample", "build_text_dataset",
    "column_choices", "guess_columns", "read_table", "table_from_pasted", "texts_from_upload",
]
