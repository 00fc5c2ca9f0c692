"""Classifier heads on top of a backbone's features.

`linear` and `mlp` train in the fit loop (and can sit on top of fine-tuned blocks). The scikit-learn
heads fit on frozen pooled features and are then copied into small torch modules, so a saved run is
still only tensors (safetensors) and JSON, and prediction is one code path for every head.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..core.errors import ConfigError

MLP_HIDDEN = 256


class Dropout(nn.Module):
    """Dropout drawing from the run's own generator (`generator`, set by the fit loop), so runs at the
    same time in one process do not share random numbers; without one, the global generator."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)
        return x * keep / (1 - self.p)


def torch_head(name: str, num_features: int, num_classes: int, dropout: float = 0.2,
               generator: torch.Generator | None = None) -> nn.Module:
    """A freshly initialised head that the fit loop trains (also the shape a logistic head is copied into).
    Its weights are drawn from `generator` when given (PyTorch's default initialisation)."""
    if name == "mlp":
        head = nn.Sequential(Dropout(dropout), nn.Linear(num_features, MLP_HIDDEN), nn.ReLU(),
                             Dropout(dropout), nn.Linear(MLP_HIDDEN, num_classes))
    else:
        head = nn.Sequential(Dropout(dropout), nn.Linear(num_features, num_classes))
    if generator is not None:
        for layer in head:
            if isinstance(layer, nn.Linear):
                _initialise(layer, generator)
    return head


def _initialise(layer: nn.Linear, generator: torch.Generator) -> None:
    """nn.Linear's own reset_parameters, drawing from `generator`."""
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    bound = 1 / math.sqrt(layer.in_features) if layer.in_features else 0
    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class CalibratedLinear(nn.Module):
    """Linear scores with one Platt sigmoid per class (scikit-learn's CalibratedClassifierCV,
    method='sigmoid', ensemble=False); outputs log-probabilities, so softmax gives them back."""

    def __init__(self, num_features: int, num_scores: int):
        super().__init__()
        self.linear = nn.Linear(num_features, num_scores)
        self.register_buffer("a", torch.zeros(num_scores))
        self.register_buffer("b", torch.zeros(num_scores))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(-(self.a * self.linear(x.float()) + self.b))
        if p.shape[1] == 1:  # binary: the calibrated score is the positive class
            proba = torch.cat([1 - p, p], dim=1)
        else:
            total = p.sum(1, keepdim=True)
            proba = torch.where(total > 0, p / total.clamp(min=1e-30), torch.full_like(p, 1 / p.shape[1]))
        return proba.clamp(min=1e-12).log()


class ForestHead(nn.Module):
    """A fitted random forest as padded node tables [trees, nodes]; forward walks every tree at once."""

    def __init__(self, feature: torch.Tensor, threshold: torch.Tensor, left: torch.Tensor,
                 right: torch.Tensor, value: torch.Tensor, depth: int):
        super().__init__()
        for name, t in (("feature", feature), ("threshold", threshold), ("left", left), ("right", right),
                        ("value", value)):
            self.register_buffer(name, t)
        self.register_buffer("depth", torch.tensor(depth))
        self.steps = depth  # the same as a number, so an exported graph is one fixed walk

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        trees = torch.arange(self.feature.shape[0], device=x.device)
        node = torch.zeros((x.shape[0], len(trees)), dtype=torch.long, device=x.device)
        for _ in range(self.steps):
            feature = self.feature[trees, node].clamp(min=0)
            go_left = x.gather(1, feature) <= self.threshold[trees, node]
            child = torch.where(go_left, self.left[trees, node], self.right[trees, node])
            if not torch.compiler.is_exporting() and not (child >= 0).any():
                break  # every example is at a leaf (an exported walk takes every step instead)
            node = torch.where(child >= 0, child, node)  # leaves have no children: stay
        proba = self.value[trees, node].mean(1)
        return proba.clamp(min=1e-12).log()

    @classmethod
    def from_sklearn(cls, forest) -> "ForestHead":
        trees = [est.tree_ for est in forest.estimators_]
        nodes = max(t.node_count for t in trees)
        n_classes = trees[0].value.shape[2]

        def table(get, fill, dtype):
            out = np.full((len(trees), nodes), fill, dtype=dtype)
            for i, t in enumerate(trees):
                out[i, :t.node_count] = get(t)
            return torch.from_numpy(out)

        value = np.zeros((len(trees), nodes, n_classes), dtype=np.float32)
        for i, t in enumerate(trees):
            v = t.value[:, 0, :]
            value[i, :t.node_count] = v / np.maximum(v.sum(1, keepdims=True), 1e-30)
        return cls(table(lambda t: t.feature, -2, np.int64), table(lambda t: t.threshold, 0.0, np.float64),
                   table(lambda t: t.children_left, -1, np.int64), table(lambda t: t.children_right, -1, np.int64),
                   torch.from_numpy(value), max(t.max_depth for t in trees))

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> "ForestHead":
        return cls(state["feature"], state["threshold"], state["left"], state["right"], state["value"],
                   int(state["depth"]))


def fit_sklearn_head(name: str, x: np.ndarray, y: np.ndarray, num_classes: int, seed: int) -> nn.Module:
    """Fit the scikit-learn model on frozen features and return it as an equivalent torch head."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    x = np.asarray(x, dtype=np.float32)
    if name == "random_forest":
        forest = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=-1).fit(x, y)
        return ForestHead.from_sklearn(forest)
    if name == "logistic_regression":
        model = LogisticRegression(max_iter=2000).fit(x, y)
        head = torch_head("linear", x.shape[1], num_classes)
        weight, bias = model.coef_, model.intercept_
        if num_classes == 2:  # sigmoid(z) is softmax([0, z])
            weight, bias = np.vstack([np.zeros_like(weight), weight]), np.concatenate([[0.0], bias])
        head[1].weight.data = torch.as_tensor(weight, dtype=torch.float32)
        head[1].bias.data = torch.as_tensor(bias, dtype=torch.float32)
        return head
    if name == "linear_svm":
        folds = int(min(3, np.bincount(y).min()))
        calibrated = CalibratedClassifierCV(LinearSVC(random_state=seed), method="sigmoid", cv=folds,
                                            ensemble=False).fit(x, y)
        fitted = calibrated.calibrated_classifiers_[0]
        head = CalibratedLinear(x.shape[1], fitted.estimator.coef_.shape[0])
        head.linear.weight.data = torch.as_tensor(fitted.estimator.coef_, dtype=torch.float32)
        head.linear.bias.data = torch.as_tensor(fitted.estimator.intercept_, dtype=torch.float32)
        head.a.copy_(torch.tensor([c.a_ for c in fitted.calibrators], dtype=torch.float32))
        head.b.copy_(torch.tensor([c.b_ for c in fitted.calibrators], dtype=torch.float32))
        return head
    raise ConfigError(f"'{name}' is not a scikit-learn head.")


MAX_FOREST_TREES = 1_000
MAX_FOREST_VALUES = 250_000_000  # trees x nodes x classes (1 GB of float32)
FOREST_TABLES = {"feature": ("I64", 2), "threshold": ("F64", 2), "left": ("I64", 2), "right": ("I64", 2),
                 "value": ("F32", 3), "depth": ("I64", 0)}  # safetensors dtype and number of dimensions


def head_state_shapes(name: str, num_features: int, num_classes: int) -> dict[str, tuple[int, ...]]:
    """The tensors (name -> shape, all float32) a saved head of this kind holds; the forest's depend on
    its size, see check_forest_shapes."""
    if name == "linear_svm":
        scores = 1 if num_classes == 2 else num_classes
        return {"linear.weight": (scores, num_features), "linear.bias": (scores,), "a": (scores,), "b": (scores,)}
    if name == "mlp":
        return {"1.weight": (MLP_HIDDEN, num_features), "1.bias": (MLP_HIDDEN,),
                "4.weight": (num_classes, MLP_HIDDEN), "4.bias": (num_classes,)}
    return {"1.weight": (num_classes, num_features), "1.bias": (num_classes,)}


def check_forest_shapes(tables: dict[str, tuple[str, tuple[int, ...]]], num_classes: int) -> None:
    """Raise ValueError unless (dtype, shape) per table is a forest of bounded size for num_classes."""
    if set(tables) != set(FOREST_TABLES):
        raise ValueError(f"the forest holds {', '.join(sorted(tables))}, not {', '.join(FOREST_TABLES)}")
    for key, (dtype, dims) in FOREST_TABLES.items():
        if tables[key][0] != dtype or len(tables[key][1]) != dims:
            raise ValueError(f"the forest's {key} table is {tables[key][0]} {list(tables[key][1])}")
    trees, nodes = tables["feature"][1]
    if any(tables[key][1] != (trees, nodes) for key in ("threshold", "left", "right")):
        raise ValueError("the forest's node tables differ in size")
    if tables["value"][1] != (trees, nodes, num_classes):
        raise ValueError(f"the forest's values are {list(tables['value'][1])} for {num_classes} classes")
    if not (1 <= trees <= MAX_FOREST_TREES and nodes >= 1 and trees * nodes * num_classes <= MAX_FOREST_VALUES):
        raise ValueError(f"a forest of {trees} trees of {nodes} nodes is outside the sizes saved here")


def check_forest_tables(state: dict[str, torch.Tensor], num_features: int) -> None:
    """Raise ValueError unless every tree is a tree: children come after their node (so a walk ends)
    and stay in the table, split features exist, numbers are finite, and the depth fits the nodes."""
    left, right, feature = state["left"], state["right"], state["feature"]
    index = torch.arange(left.shape[1])
    split = left >= 0
    if not torch.equal(split, right >= 0):
        raise ValueError("a forest node has one child")
    children_ok = ((left == -1) | ((left > index) & (left < left.shape[1]))) & \
                  ((right == -1) | ((right > index) & (right < right.shape[1])))
    if not children_ok.all():
        raise ValueError("a forest node points outside its tree")
    if not (((feature >= 0) & (feature < num_features)) | (~split & (feature == -2))).all():
        raise ValueError(f"a forest node splits on a feature outside the {num_features} features")
    if not (torch.isfinite(state["threshold"]).all() and torch.isfinite(state["value"]).all()
            and (state["value"] >= 0).all()):
        raise ValueError("the forest holds numbers that are not finite or are negative")
    if not 0 <= int(state["depth"]) < left.shape[1]:
        raise ValueError(f"a forest depth of {int(state['depth'])} does not fit trees of {left.shape[1]} nodes")


def head_for_state(name: str, state: dict[str, torch.Tensor], num_features: int, num_classes: int) -> nn.Module:
    """An empty head of the right shape to load saved weights into (`state` holds the head's tensors)."""
    if name == "random_forest":
        return ForestHead.from_state(state)
    if name == "linear_svm":
        return CalibratedLinear(num_features, state["linear.weight"].shape[0])
    return torch_head("linear" if name == "logistic_regression" else name, num_features, num_classes)
