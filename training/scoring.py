"""Classification metrics from predicted probabilities, under the names specs use."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as sk_metrics


def score(y_true: np.ndarray, proba: np.ndarray, classes: list[int]) -> dict[str, float]:
    """accuracy, f1_macro, log_loss and roc_auc (one-vs-rest for several classes) of probabilities `proba`."""
    y_true = np.asarray(y_true)
    proba = np.clip(np.asarray(proba, dtype="float64"), 1e-12, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    scores = {
        "accuracy": float(sk_metrics.accuracy_score(y_true, predicted)),
        "f1_macro": float(sk_metrics.f1_score(y_true, predicted, average="macro", labels=classes, zero_division=0)),
        "log_loss": float(sk_metrics.log_loss(y_true, proba, labels=classes)),
    }
    scores["roc_auc"] = _roc_auc(y_true, proba, classes)
    return scores


def _roc_auc(y_true: np.ndarray, proba: np.ndarray, classes: list[int]) -> float:
    if len(np.unique(y_true)) < 2:
        return float("nan")  # undefined with one class present; never the case with stratified splits
    if len(classes) == 2:
        return float(sk_metrics.roc_auc_score(y_true, proba[:, 1]))
    return float(sk_metrics.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes))
