"""Uploads -> records -> validated dataset -> stratified split."""
from .dataset import ImageDataset, ImageExample, ValidationReport, build_dataset, stratified_split
from .images import decode_image
from .samples import digits_sample
from .sources import Record, Skipped, read_data_path, read_folder, read_zip, records_from_uploads

__all__ = [
    "ImageDataset", "ImageExample", "ValidationReport", "build_dataset", "stratified_split",
    "decode_image", "digits_sample", "Record", "Skipped", "read_data_path", "read_folder",
    "read_zip", "records_from_uploads",
]
