"""The LSTM (torch, training only): sequences of per-day inputs -> the scale of tomorrow's z.

Architecture: inputs standardised by fixed buffers (mean and std of the fit rows, so the exported
graph needs no separate scaler) -> one LSTM layer (`hidden` units) over the last L days -> a linear
head on the last hidden state -> log-scale a, clipped to [-LOG_CLIP, LOG_CLIP] -> v = exp(a).

Loss: the negative log-likelihood of z = r[t+1] / ewma_sigma[t] under a Student-t with location 0,
scale v and fixed nu = 5 (chosen a priori, not tuned: GARCH-t fits of daily BTC/ETH residuals give
nu of about 3-6). Why not the pinball loss: at alpha = 1 % a fit block of ~2,700 days holds ~27 tail
days, so a recurrent net trained on them alone fits noise; a scale likelihood learns from every day
and the conformal step supplies the tail multiple (as for `mlp`). Why not the Gaussian NLL: its score
is dominated by the few crash days (z of 8-10); the t likelihood bounds their influence.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from oracle_node.research.training.lstm_data import LOG_CLIP

NU = 5.0


class LstmScale(nn.Module):
    def __init__(self, n_inputs: int, hidden: int, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, dtype=np.float32)))
        self.register_buffer("std", torch.as_tensor(np.asarray(std, dtype=np.float32)))
        self.lstm = nn.LSTM(n_inputs, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def log_scale(self, x: torch.Tensor) -> torch.Tensor:
        """(n, L, F) -> (n,) clipped log-scale of z."""
        h, _ = self.lstm((x - self.mean) / self.std)
        return torch.clamp(self.head(h[:, -1, :]), -LOG_CLIP, LOG_CLIP).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(n, L, F) -> (n, 1) scale v (the exported graph)."""
        return torch.exp(self.log_scale(x)).unsqueeze(-1)


def student_t_nll(log_scale: torch.Tensor, z: torch.Tensor, nu: float = NU) -> torch.Tensor:
    """Mean negative log-likelihood of z under t(nu, 0, exp(log_scale)), without constant terms."""
    u = z * torch.exp(-log_scale)
    return torch.mean(log_scale + 0.5 * (nu + 1.0) * torch.log1p(u * u / nu))


def weights_of(model: LstmScale) -> dict[str, np.ndarray]:
    """state_dict as float32 NumPy arrays (torch layout: LSTM gates i, f, g, o)."""
    return {k: v.detach().cpu().numpy().astype(np.float32).copy() for k, v in model.state_dict().items()}
