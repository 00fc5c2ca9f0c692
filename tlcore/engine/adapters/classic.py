"""Classic text features (TF-IDF, averaged word vectors): a featuriser fitted on the training texts
turns each text into one vector, which goes straight to the head (the backbone has no blocks)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch
from safetensors.torch import load_file, save_file

from ...backbones import BackboneInfo
from ...backbones.classic_text import TFIDF_MAX_FEATURES, featurizer_from_state, make_featurizer
from ...core.verify import check, check_finite, tensor_specs, whole
from ...data import LabelledDataset
from ..activations import Activations
from ..cache import RunCache
from .base import Adapter
from ..reuse import WORD_FEATURES

MAX_WORD_VECTORS = 2_000_000  # rows of a saved word-vector table
MAX_WORD_VECTOR_VALUES = 400_000_000  # rows x width (800 MB of float16)
TENSORS, META = "featurizer.safetensors", "featurizer.json"


class ClassicTextAdapter(Adapter):
    """A featuriser fitted on the training texts; saved with a run as featurizer.safetensors + .json."""

    modality = "text"
    cacheable = False  # fitted on this run's training texts: nothing another run could reuse
    input_item = WORD_FEATURES
    input_phase = "Computing word features"

    def __init__(self, name: str, word_vectors_file: str | None = None, featurizer=None):
        self.name, self.word_vectors_file, self.featurizer = name, word_vectors_file, featurizer

    @classmethod
    def for_backbone(cls, info: BackboneInfo, backbone, config) -> "ClassicTextAdapter":
        return cls(info.name, config.word_vectors_file)

    def fit(self, backbone, examples: Sequence) -> None:
        """Fit the featuriser on the training texts; the backbone passes its features on unchanged."""
        self.featurizer = make_featurizer(self.name, self.word_vectors_file).fit([e.text for e in examples])
        self.attach(backbone)

    def attach(self, backbone) -> None:
        """The backbone has no blocks: it passes the featuriser's vectors on, so it has their width."""
        backbone.num_features = self.featurizer.num_features

    def inputs(self, dataset: LabelledDataset, cache: RunCache, what: str, progress=None) -> Activations:
        if progress:
            progress(0, 1)
        return self.featurizer.transform(dataset.texts)

    def encode(self, texts: Sequence[str]) -> Activations:
        return self.featurizer.transform([str(t) for t in texts])

    def save(self, folder: Path) -> None:
        tensors, meta = self.featurizer.state()
        save_file(tensors, str(folder / TENSORS))
        (folder / META).write_text(json.dumps(meta))

    @classmethod
    def load(cls, info: BackboneInfo, folder: Path, config: dict, state: dict) -> "ClassicTextAdapter":
        """The saved featuriser, every table checked against the model before it is used."""
        tensors, meta_text = _checked_featurizer(folder, info.name, config["num_features"])
        return cls(info.name, featurizer=featurizer_from_state(info.name, tensors, meta_text))


def _checked_featurizer(folder: Path, name: str, num_features: int) -> tuple[dict[str, torch.Tensor], str]:
    specs = tensor_specs(folder / TENSORS)
    meta_text = (folder / META).read_text(encoding="utf-8")
    meta = json.loads(meta_text)
    if name == "tfidf":
        check(specs == {"idf": ("F64", (num_features,))} and num_features <= TFIDF_MAX_FEATURES,
               "the TF-IDF weights do not fit the model")
        check(isinstance(meta, dict) and set(meta) == {"vocabulary"}, "featurizer.json is not a TF-IDF vocabulary")
        rows = num_features
    else:
        dtype, shape = specs.get("vectors", ("", ()))
        check(set(specs) == {"vectors"} and dtype == "F16" and len(shape) == 2 and shape[1] == num_features
               and 1 <= shape[0] <= MAX_WORD_VECTORS and shape[0] * shape[1] <= MAX_WORD_VECTOR_VALUES,
               "the word vectors do not fit the model")
        check(isinstance(meta, dict) and set(meta) == {"vocabulary", "wordpiece", "source"}
               and isinstance(meta["wordpiece"], bool) and isinstance(meta["source"], str),
               "featurizer.json is not a word-vector vocabulary")
        rows = shape[0]
    vocabulary = meta["vocabulary"]
    check(isinstance(vocabulary, dict) and all(isinstance(w, str) and whole(i, 0, rows - 1)
                                               for w, i in vocabulary.items()), "the vocabulary points outside its table")
    if name == "tfidf":
        check(len(set(vocabulary.values())) == rows == len(vocabulary), "the TF-IDF vocabulary does not fit its weights")
    tensors = load_file(str(folder / TENSORS))
    check_finite(tensors, TENSORS)
    check(name != "tfidf" or bool((tensors["idf"] > 0).all()), "the TF-IDF weights are not positive")
    return tensors, meta_text
