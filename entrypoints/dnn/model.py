"""A small CNN for 28x28 grey images: fast on a CPU, above 99% on MNIST in a few epochs."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

ARCHITECTURE: dict[str, Any] = {
    "name": "smtune-mnist-cnn",
    "input": [1, 28, 28],
    "conv_channels": [16, 32],
    "hidden": 128,
    "classes": 10,
}


class Net(nn.Module):
    def __init__(
        self, conv_channels: tuple[int, int] = (16, 32), hidden: int = 128, classes: int = 10
    ):
        super().__init__()
        first, second = conv_channels
        self.features = nn.Sequential(
            nn.Conv2d(1, first, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 14x14
            nn.Conv2d(first, second, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 7x7
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(second * 7 * 7, hidden), nn.ReLU(), nn.Linear(hidden, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build(architecture: dict[str, Any] = ARCHITECTURE) -> Net:
    first, second = architecture["conv_channels"]
    return Net((first, second), architecture["hidden"], architecture["classes"])
