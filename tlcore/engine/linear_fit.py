"""The new layer on frozen features, fitted to convergence the way scikit-learn fits a logistic
regression: standardised features, the whole training set per step (L-BFGS), and the strength of the
L2 penalty chosen by stratified k-fold cross-validation (repeated) on the training examples only, along
a path of C values, each fit starting from the previous one. The C kept has the lowest held-out log
loss among those whose held-out AUC is within one standard error of the best (AUC is the number the
app reports, and with noisy labels it asks for a stronger penalty than log loss alone; where nothing
can be learnt, every AUC is alike and the loss picks the strongest penalty). The scaler is folded into
the weights, so the result is one plain linear layer on the backbone's own features.

Several problems on the same features (folds, and the subsets of a learning curve) are solved as one:
their objectives are independent, so one L-BFGS over all their weights solves each of them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

C_PATH = tuple(float(c) for c in np.logspace(-4, 3, 15))  # C = 1 / (L2 strength x examples), as in scikit-learn
FOLDS = 5
REPEATS = 2  # cross-validation repeated with another shuffle: a steadier choice of C, at little cost here
DEFAULT_C = 1.0  # scikit-learn's, when a class has too few examples to cross-validate
PATH_MAX_ITER = 50  # along the path each fit starts from the previous one, so few steps are needed
FINAL_MAX_ITER = 1000


@dataclass(frozen=True)
class LinearFit:
    """A fitted linear layer (on unscaled features) and how its penalty was chosen."""

    weight: torch.Tensor  # [classes, features]
    bias: torch.Tensor  # [classes]
    C: float
    folds: int  # 0 when some class had fewer than two examples (C left at DEFAULT_C)
    held_out: list[tuple[float, float, float, float]]  # per C tried: C, held-out AUC, its standard error, log loss

    def proba(self, x: torch.Tensor) -> np.ndarray:
        """Probabilities [n, classes] of features x (as the head gives them)."""
        return torch.softmax(x.float() @ self.weight.T + self.bias, 1).numpy()

    def to_dict(self) -> dict:
        how = f", L2 strength chosen by {self.folds}-fold cross-validation (twice)" if self.folds else ""
        return {"method": "full-batch L-BFGS on standardised features" + how, "C": self.C, "folds": self.folds,
                "held_out": [{"C": c, "auc": round(auc, 5), "auc_se": round(se, 5), "log_loss": round(loss, 5)}
                             for c, auc, se, loss in self.held_out]}


def _scaled(x: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per problem, the mean and standard deviation of its training rows (as StandardScaler)."""
    counts = masks.sum(1, keepdim=True)
    mean = masks @ x / counts
    std = (masks @ (x * x) / counts - mean ** 2).clamp(min=0).sqrt()
    return mean, torch.where(std > 1e-6, std, torch.ones_like(std))


def _logits(x: torch.Tensor, w: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """[problems, n, classes]: each problem's layer on its own standardisation of x (never materialised)."""
    scaled = w[:, :-1] / std[:, :, None]
    return torch.einsum("nd,fdk->fnk", x, scaled) + (w[:, -1] - torch.einsum("fd,fdk->fk", mean, scaled))[:, None]


def _fit(x: torch.Tensor, y: torch.Tensor, k: int, masks: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
         c: torch.Tensor, start: torch.Tensor | None, max_iter: int) -> torch.Tensor:
    """One penalised multinomial logistic regression per row of `masks`, solved together: weights
    [problems, features + 1, k classes] in standardised units, the last row the bias (not penalised)."""
    problems, n = masks.shape
    w = torch.zeros(problems, x.shape[1] + 1, k, device=x.device) if start is None else start.clone()
    w.requires_grad_(True)
    counts = masks.sum(1)
    optimizer = torch.optim.LBFGS([w], lr=1, max_iter=max_iter, tolerance_grad=1e-5, tolerance_change=1e-9,
                                  history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(_logits(x, w, mean, std).reshape(-1, k), y.repeat(problems),
                               reduction="none").view(problems, n)
        total = ((loss * masks).sum(1) / counts + (w[:, :-1] ** 2).sum((1, 2)) / (2 * c * counts)).sum()
        total.backward()
        return total

    optimizer.step(closure)
    return w.detach()


def choose_c(tried: Sequence[tuple[float, float, float, float]]) -> float:
    """The C with the lowest held-out loss among those within one standard error of the best AUC."""
    best = max(tried, key=lambda t: t[1])
    close = [t for t in tried if t[1] >= best[1] - best[2]]
    return min(close, key=lambda t: t[3])[0]


def held_out_auc(y: np.ndarray, proba: np.ndarray, num_classes: int) -> float:
    """scikit-learn's roc_auc_score (binary; macro one-vs-rest) from ranks (Mann-Whitney U, ties at their
    mean rank): the same number, without its per-call checks, which took most of a fit's time when
    called for every fold and C. Every class must be among `y` (stratified folds make sure of it)."""
    from scipy.stats import rankdata

    columns = [1] if num_classes == 2 else range(num_classes)
    ranks = rankdata(proba[:, list(columns)], axis=0)
    aucs = []
    for i, c in enumerate(columns):
        positive = y == c
        n_pos, n_neg = int(positive.sum()), int((~positive).sum())
        aucs.append((ranks[positive, i].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return float(np.mean(aucs))


def _folds(y: np.ndarray, rows: np.ndarray, num_classes: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training, held-out) rows of each repeated stratified fold of `rows`; none when a class has < 2."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    folds = int(min(FOLDS, np.bincount(y[rows], minlength=num_classes).min()))
    if folds < 2:
        return []
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=REPEATS, random_state=seed)
    return [(rows[a], rows[b]) for a, b in splitter.split(rows, y[rows])]


def _masks(parts: Sequence[np.ndarray], n: int, views: int, device) -> torch.Tensor:
    masks = torch.zeros(len(parts), n, device=device)
    for i, rows in enumerate(parts):
        masks[i, torch.as_tensor(rows, device=device)] = 1
    return masks.repeat(1, views)  # every view of a training example trains


def fit_linear_many(views: Sequence[torch.Tensor], y: np.ndarray, problems: Sequence[np.ndarray], num_classes: int,
                    *, seed: int, device: torch.device,
                    progress: Callable[[int, int], None] | None = None) -> list[LinearFit]:
    """A layer per problem (rows of the examples), each with its own penalty chosen by cross-validation on
    its own rows. `views` hold the same examples (e.g. as they are and mirrored): all train, and an
    example's views stay in one fold. `progress(done, total)` follows the path of C values."""
    n = len(y)
    x = torch.cat([v.float() for v in views]).to(device)
    y_all = torch.as_tensor(np.tile(y, len(views)), device=device)
    splits = [_folds(y, np.asarray(rows), num_classes, seed) for rows in problems]
    fold_train = [train for split in splits for train, _ in split]
    owner = [p for p, split in enumerate(splits) for _ in split]
    tried: list[list[tuple[float, float, float, float]]] = [[] for _ in problems]
    if fold_train:
        masks = _masks(fold_train, n, len(views), device)
        mean, std = _scaled(x, masks)
        held = [held for split in splits for _, held in split]
        w, rising, path = None, set(), []
        for i, c in enumerate(C_PATH):
            w = _fit(x, y_all, num_classes, masks, mean, std, torch.tensor(c, device=device), w, PATH_MAX_ITER)
            path.append(w)
            with torch.no_grad():
                proba = torch.softmax(_logits(x[:n], w, mean, std), 2).cpu().numpy()
            for p in set(owner):
                mine = [f for f, o in enumerate(owner) if o == p]
                aucs = [held_out_auc(y[held[f]], proba[f, held[f]], num_classes) for f in mine]
                losses = [-np.log(np.clip(proba[f, held[f], y[held[f]]], 1e-12, 1)).mean() for f in mine]
                tried[p].append((c, float(np.mean(aucs)), float(np.std(aucs) / np.sqrt(len(mine))),
                                 float(np.mean(losses))))
                t = tried[p]
                if len(t) >= 3 and t[-1][3] > t[-2][3] > t[-3][3] and t[-1][1] <= t[-2][1]:
                    rising.add(p)  # held-out loss has risen twice and AUC no longer rises
            if progress:
                progress(i + 1, len(C_PATH) + 1)
            if rising >= set(owner):
                break  # weaker penalties only overfit more
    chosen = [choose_c(t) if t else DEFAULT_C for t in tried]
    start = torch.zeros(len(problems), x.shape[1] + 1, num_classes, device=device)
    for p in set(owner):  # each problem starts from its folds' mean fit at its C
        start[p] = path[C_PATH.index(chosen[p])][[f for f, o in enumerate(owner) if o == p]].mean(0)
    masks = _masks([np.asarray(rows) for rows in problems], n, len(views), device)
    mean, std = _scaled(x, masks)
    w = _fit(x, y_all, num_classes, masks, mean, std, torch.tensor(chosen, device=device), start, FINAL_MAX_ITER)
    if progress:
        progress(len(C_PATH) + 1, len(C_PATH) + 1)
    fits = []
    for p, split in enumerate(splits):
        weight = (w[p, :-1] / std[p, :, None]).T  # w.(x - mean)/std = (w/std).x - (w/std).mean
        bias = w[p, -1] - (mean[p] / std[p]) @ w[p, :-1]
        fits.append(LinearFit(weight.cpu(), bias.cpu(), chosen[p], len(split) // REPEATS, tried[p]))
    return fits


def fit_linear(views: Sequence[torch.Tensor], y: np.ndarray, num_classes: int, *, seed: int, device: torch.device,
               progress: Callable[[int, int], None] | None = None) -> LinearFit:
    """One layer on every row of `views` (see fit_linear_many)."""
    return fit_linear_many(views, y, [np.arange(len(y))], num_classes, seed=seed, device=device, progress=progress)[0]
