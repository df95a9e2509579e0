"""The hybrid 1-D CNN (torch): residual blocks with squeeze-and-excitation, three heads.

Layout (``width`` w = 64 by default, the authors' numbers):

- stem: Conv1d(in → w, kernel 15, "same") + BatchNorm + ReLU + MaxPool(2);
- residual blocks: w→2w (kernel 7, dilation 1), 2w→2w (5, 2), MaxPool(2),
  2w→4w (5, 4), 4w→4w (3, 8), MaxPool(2). Each block: two Conv1d + BatchNorm (ReLU
  between), a 1×1 Conv + BatchNorm shortcut when the channel count changes,
  squeeze-and-excitation after the residual addition, then ReLU;
- neck (fully connected trunk): global average pooling → Conv1d(4w → 8w, kernel 1) + ReLU +
  Dropout;
- heads, each 8w → 4w (BatchNorm, ReLU, Dropout) → 2w (BatchNorm, ReLU) → output: kind
  (2 logits), theta (1), size (a, b: 2). Regression outputs are z-scored targets.

The input has two channels: the z-scored TS (0 where not measured) and the measured mask,
and any length ≥ :data:`MIN_LENGTH` (global pooling makes the network length-agnostic).
With ``position_channel`` the network appends a third channel itself, each bin's position
along the grid (−1 at the first frequency, +1 at the last): global pooling otherwise leaves
the network only the input's edges to tell at which frequency a peak or null lies.
"""

from __future__ import annotations

import torch
from torch import nn

#: Shortest input the three MaxPool(2) stages accept.
MIN_LENGTH = 8


class SqueezeExcitation(nn.Module):
    """Channel attention: global mean → bottleneck (channels/reduction) → sigmoid gates."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.gate = nn.Sequential(
            nn.Linear(channels, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x.mean(dim=-1)).unsqueeze(-1)


class ResidualBlock(nn.Module):
    """Two dilated Conv1d + BatchNorm with a (projected) shortcut and SE attention."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, dilation: int, se_reduction: int = 16
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(c_in, c_out, kernel, padding="same", dilation=dilation, bias=False),
            nn.BatchNorm1d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv1d(c_out, c_out, kernel, padding="same", dilation=dilation, bias=False),
            nn.BatchNorm1d(c_out),
        )
        self.shortcut: nn.Module = (
            nn.Identity()
            if c_in == c_out
            else nn.Sequential(nn.Conv1d(c_in, c_out, 1, bias=False), nn.BatchNorm1d(c_out))
        )
        self.se = SqueezeExcitation(c_out, se_reduction)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.se(self.body(x) + self.shortcut(x)))


def _head(c_in: int, n_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(c_in, c_in // 2),
        nn.BatchNorm1d(c_in // 2),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(c_in // 2, c_in // 4),
        nn.BatchNorm1d(c_in // 4),
        nn.ReLU(inplace=True),
        nn.Linear(c_in // 4, n_out),
    )


class HybridCNN(nn.Module):
    """Spectrum (batch, channels, length) → (kind logits (B, 2), theta (B, 1), a/b (B, 2))."""

    def __init__(
        self,
        in_channels: int = 2,
        width: int = 64,
        dropout: float = 0.4,
        se_reduction: int = 16,
        position_channel: bool = False,
    ) -> None:
        super().__init__()
        w = width
        self.position_channel = position_channel
        self.stem = nn.Sequential(
            nn.Conv1d(in_channels + int(position_channel), w, 15, padding="same", bias=False),
            nn.BatchNorm1d(w),
            nn.ReLU(inplace=True),
            nn.MaxPool1d(2),
        )
        self.blocks = nn.Sequential(
            ResidualBlock(w, 2 * w, 7, 1, se_reduction),
            ResidualBlock(2 * w, 2 * w, 5, 2, se_reduction),
            nn.MaxPool1d(2),
            ResidualBlock(2 * w, 4 * w, 5, 4, se_reduction),
            ResidualBlock(4 * w, 4 * w, 3, 8, se_reduction),
            nn.MaxPool1d(2),
        )
        self.neck = nn.Sequential(
            nn.AdaptiveAvgPool1d(1),
            nn.Conv1d(4 * w, 8 * w, 1),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Flatten(),
        )
        self.kind_head = _head(8 * w, 2, dropout)
        self.theta_head = _head(8 * w, 1, dropout)
        self.size_head = _head(8 * w, 2, dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, theta, size, _ = self.forward_with_embedding(x)
        return logits, theta, size

    def forward_with_embedding(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The outputs of :meth:`forward` and the neck's features (B, 8·width) the heads
        read: the network's representation of each spectrum (used for the OOD check)."""
        if self.position_channel:
            pos = torch.linspace(-1.0, 1.0, x.shape[-1], dtype=x.dtype, device=x.device)
            x = torch.cat([x, pos.expand(x.shape[0], 1, -1)], dim=1)
        h = self.neck(self.blocks(self.stem(x)))
        return self.kind_head(h), self.theta_head(h), self.size_head(h), h


def add_position_input(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict without the position channel, for a network with it: the stem's new
    input weights are zero, so the network computes exactly what the original did."""
    out = dict(state)
    w = state["stem.0.weight"]
    out["stem.0.weight"] = torch.cat([w, torch.zeros_like(w[:, :1])], dim=1)
    return out
