"""Validation embeddings in two dimensions (PCA, t-SNE, or UMAP when installed) and how well they
separate the classes, for the map of pretrained vs fine-tuned features."""
from __future__ import annotations

import importlib.util

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score


def methods() -> list[str]:
    """PCA (default, instant), t-SNE (scikit-learn), UMAP when umap-learn is installed."""
    return ["PCA", "t-SNE"] + (["UMAP"] if importlib.util.find_spec("umap") else [])


def project(features: np.ndarray, method: str = "PCA", seed: int = 0) -> np.ndarray:
    """[n, d] features to [n, 2] points; fewer than 3 examples are laid on a line."""
    x = np.asarray(features, dtype=np.float64)
    n = len(x)
    if n < 3:
        return np.column_stack([np.arange(n, dtype=np.float64), np.zeros(n)])
    if method == "t-SNE":
        return TSNE(2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed).fit_transform(x)
    if method == "UMAP":
        import umap

        return umap.UMAP(n_neighbors=min(15, n - 1), random_state=seed).fit_transform(x)
    return PCA(2, random_state=seed).fit_transform(x)


def separation(features: np.ndarray, labels: np.ndarray) -> float | None:
    """Silhouette score of the classes in the full feature space (cosine): -1..1, higher means each
    example sits closer to its own class than to the others. None when undefined."""
    labels = np.asarray(labels)
    k = len(np.unique(labels))
    if not 2 <= k < len(labels):
        return None
    return float(silhouette_score(np.asarray(features, dtype=np.float64), labels, metric="cosine"))
