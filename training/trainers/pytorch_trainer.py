"""A PyTorch MLP for tabular data, reporting validation scores every few epochs (for ASHA).

The logged model is a plain `nn.Sequential` (input standardisation folded into the first layer, softmax last), so
loading it needs no rayship code and `pyfunc.predict` returns class probabilities.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from training.trainers.base import FitJob, Trainer

if TYPE_CHECKING:
    from mlflow.models.model import ModelInfo

DEFAULTS = {
    "hidden_units": 32,
    "hidden_layers": 1,
    "learning_rate": 0.01,
    "weight_decay": 0.0,
    "epochs": 30,
    "batch_size": 32,
    "dropout": 0.0,
}


def build_mlp(n_inputs: int, n_classes: int, hidden_units: int, hidden_layers: int, dropout: float) -> nn.Sequential:
    """Linear -> ReLU (-> Dropout) blocks and a final Linear producing logits."""
    layers: list[nn.Module] = []
    width = n_inputs
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, hidden_units), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = hidden_units
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


def fold_standardisation(net: nn.Sequential, mean: torch.Tensor, std: torch.Tensor) -> nn.Sequential:
    """A copy of `net` that takes raw features: W((x - m) / s) + b == (W / s) x + (b - W m / s)."""
    first = net[0]
    folded = nn.Linear(first.in_features, first.out_features)
    with torch.no_grad():
        folded.weight.copy_(first.weight / std)
        folded.bias.copy_(first.bias - (first.weight * (mean / std)).sum(dim=1))
    return nn.Sequential(folded, *list(net)[1:], nn.Softmax(dim=1)).eval()


class PyTorchTrainer(Trainer):
    """Trainer for a multi-layer perceptron classifier trained with Adam on one thread."""

    framework = "pytorch"
    pyfunc_output = "probabilities"

    def fit(self, job: FitJob) -> nn.Sequential:
        torch.set_num_threads(1)
        torch.manual_seed(job.seed)
        p = {**DEFAULTS, **{k: v for k, v in job.params.items() if k not in ("random_state", "seed")}}
        x = torch.tensor(job.splits.x_train.to_numpy(), dtype=torch.float32)
        y = torch.tensor(job.splits.y_train.to_numpy(), dtype=torch.long)
        mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-6)
        classes = len(job.splits.classes)
        net = build_mlp(x.shape[1], classes, int(p["hidden_units"]), int(p["hidden_layers"]), p["dropout"])
        optimiser = torch.optim.Adam(net.parameters(), lr=p["learning_rate"], weight_decay=p["weight_decay"])
        generator = torch.Generator().manual_seed(job.seed)
        for epoch in range(1, int(p["epochs"]) + 1):
            net.train()
            for batch in torch.randperm(len(x), generator=generator).split(int(p["batch_size"])):
                optimiser.zero_grad()
                loss = nn.functional.cross_entropy(net((x[batch] - mean) / std), y[batch])
                loss.backward()
                optimiser.step()
            job.report_step(epoch, lambda: self.predict_proba(fold_standardisation(net, mean, std), job.splits.x_valid))
        return fold_standardisation(net, mean, std)

    def predict_proba(self, model: nn.Sequential, features: pd.DataFrame) -> np.ndarray:
        with torch.no_grad():
            return model(torch.tensor(features.to_numpy(), dtype=torch.float32)).numpy()

    def pyfunc_predict(self, model: nn.Sequential, features: pd.DataFrame) -> np.ndarray:
        return self.predict_proba(model, features)  # the logged net ends in softmax

    def log_flavour(self, model: nn.Sequential, **logged: Any) -> ModelInfo:
        import mlflow.pytorch

        return mlflow.pytorch.log_model(
            model,
            # pickle, not pt2: torch.export traces a fixed batch size from the input example.
            serialization_format="pickle",
            pip_requirements=["torch==2.13.0", f"mlflow=={mlflow.__version__}"],
            **logged,
        )
