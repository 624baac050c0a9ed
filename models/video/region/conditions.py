"""CyberHost's two conditions and the identity projection, each neutral until trained.

* ``ClarityEmbedding``: hand clarity score (Laplacian std, EmbodyHandClarity units) -> log1p -> Fourier features
  -> MLP -> a residual on the UNet time embedding. The last layer is zero-initialised, so an untrained embedding adds
  exactly nothing. At inference CyberHost sets a high value to ask for sharp hands.
* ``MovementMapEncoder``: the body movement map (chest box, 1 channel, 0..1) -> a PoseNet-like conv encoder (8x
  down) -> a residual on the UNet's ``conv_in`` output, added like PoseNet's; zero final layer.
* ``IdentityProjection``: image-encoder embeddings of the region crops -> identity tokens for the spatial bank; a
  learned "absent" token set (zero at init) stands in for a crop that does not exist (no visible hand / face).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# (in, out, kernel, stride): PoseNet's layout (models/video/posenet.py) with a 1-channel input.
_MOVEMENT_CONVS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 3, 1), (16, 16, 4, 2), (16, 32, 3, 1), (32, 32, 4, 2), (32, 64, 3, 1), (64, 64, 4, 2), (64, 128, 3, 1),
)


def zero_layer(layer: nn.Linear | nn.Conv2d) -> None:
    """Zero a layer's weight and bias in place (the "zero conv" that makes an untrained branch add nothing)."""
    with torch.no_grad():
        layer.weight.zero_()
        if layer.bias is not None:
            layer.bias.zero_()


class ClarityEmbedding(nn.Module):
    """Hand clarity score -> time-embedding residual.

    Args:
        time_embed_dim: the UNet's time embedding width (4 x block_out_channels[0]).
        frequencies: Fourier features of log1p(score).
    """

    def __init__(self, time_embed_dim: int, frequencies: int = 16) -> None:
        super().__init__()
        self.register_buffer("freqs", torch.exp(torch.linspace(0.0, math.log(64.0), frequencies)), persistent=False)
        self.fc1 = nn.Linear(2 * frequencies, time_embed_dim)
        self.fc2 = nn.Linear(time_embed_dim, time_embed_dim)
        zero_layer(self.fc2)

    def forward(self, score: torch.Tensor) -> torch.Tensor:
        """score [B] (clarity, >= 0; NaN = unknown is treated as 0) -> [B, time_embed_dim] in the module's dtype."""
        s = torch.nan_to_num(score.float(), nan=0.0).clamp_min(0.0)
        freqs = self.get_buffer("freqs")
        ang = torch.log1p(s)[:, None] * freqs.float()[None].to(s.device)
        feats = torch.cat([ang.sin(), ang.cos()], dim=-1)
        w = self.fc1.weight
        return self.fc2(F.silu(self.fc1(feats.to(device=w.device, dtype=w.dtype))))


class MovementMapEncoder(nn.Module):
    """Body movement map [N, 1, H, W] (0..1; H, W multiples of 8) -> conv_in residual [N, out_channels, H/8, W/8]."""

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin, cout, k, s in _MOVEMENT_CONVS:
            layers += [nn.Conv2d(cin, cout, kernel_size=k, stride=s, padding=1), nn.SiLU()]
        self.conv_layers = nn.Sequential(*layers)
        self.final_proj = nn.Conv2d(128, out_channels, kernel_size=1)
        zero_layer(self.final_proj)

    @property
    def out_channels(self) -> int:
        return self.final_proj.out_channels

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        if maps.ndim == 3:
            maps = maps[:, None]
        if maps.ndim != 4 or maps.shape[1] != 1:
            raise ValueError(f"The movement map must be [frames, H, W] or [frames, 1, H, W]; got {tuple(maps.shape)}.")
        if maps.shape[-2] % 8 or maps.shape[-1] % 8:
            raise ValueError(f"The movement map must have height and width multiples of 8 (the video size); got "
                             f"{maps.shape[-2]}x{maps.shape[-1]}.")
        w = self.final_proj.weight
        return self.final_proj(self.conv_layers((maps * 2.0 - 1.0).to(device=w.device, dtype=w.dtype)))


class IdentityProjection(nn.Module):
    """Crop embeddings [B, crops, identity_dim] + presence [B, crops] -> identity tokens [B, crops*tokens, dim].

    A crop marked absent (no keypoints for it in the reference pose) uses the learned ``absent`` tokens of its slot
    (zero at init), so a reference without visible hands still runs: the module then attends to its bank alone plus
    those learned tokens.
    """

    def __init__(self, identity_dim: int, dim: int, tokens: int, crops: int) -> None:
        super().__init__()
        self.identity_dim, self.dim, self.tokens, self.crops = identity_dim, dim, tokens, crops
        self.norm = nn.LayerNorm(identity_dim)
        self.proj = nn.Linear(identity_dim, tokens * dim)
        self.absent = nn.Parameter(torch.zeros(crops, tokens, dim))

    def forward(self, embeds: torch.Tensor | None, present: torch.Tensor | None = None) -> torch.Tensor:
        """embeds [B, crops, identity_dim] or None (all absent -> [1, crops*tokens, dim]); present bool [B, crops]."""
        if embeds is None:
            return self.absent.reshape(1, self.crops * self.tokens, self.dim)
        if embeds.ndim != 3 or embeds.shape[1:] != (self.crops, self.identity_dim):
            raise ValueError(f"Identity embeddings must be [batch, {self.crops}, {self.identity_dim}]; got "
                             f"{tuple(embeds.shape)}. Was the codebook built for another image encoder?")
        w = self.proj.weight
        tok = self.proj(self.norm(embeds.to(device=w.device, dtype=w.dtype)))
        tok = tok.reshape(embeds.shape[0], self.crops, self.tokens, self.dim)
        if present is not None:
            keep = present.to(device=w.device, dtype=torch.bool)[:, :, None, None]
            tok = torch.where(keep, tok, self.absent[None].to(tok.dtype))
        return tok.reshape(embeds.shape[0], self.crops * self.tokens, self.dim)
