"""CyberHost's Region Attention Module (RAM): latent banks as keys/values, identity tokens, a mask, a zero output.

For UNet features x [B*F, C, h, w] (frames flattened batch-major, as the UNet does):

1. q = to_q(GroupNorm(x)) per pixel token, [B*F, h*w, dim].
2. Spatial attention per frame: keys/values = the spatial latent bank C_spa [n, dim] (orthonormalised by
   Gram-Schmidt in every forward, times sqrt(dim)) concatenated with the identity tokens of the batch element
   [k, dim]; z = q + attn, [B*F, h*w, dim].
3. Temporal attention per pixel over the F frames: keys/values = that pixel's F tokens plus the temporal latent bank
   C_temp [m, dim] (orthonormalised the same way), queries carry a sinusoidal frame position; z = z + attn.
4. Mask predictor on GroupNorm(x): conv3x3 -> SiLU -> conv3x3 -> sigmoid, M [B*F, 1, h, w].
5. out = x + proj_out(z) * M * strength, with proj_out zero-initialised, so an untrained module returns x exactly.
6. (hands) a heatmap head, conv1x1 on z -> [B*F, hand_keypoints, h, w], for the trainer's L2 keypoint loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def gram_schmidt(bank: torch.Tensor) -> torch.Tensor:
    """Orthonormal rows spanning ``bank`` [n, d] (n <= d), in order (row i is orthogonal to rows < i).

    Differentiable (reduced QR of bank^T, signs fixed so each row keeps its direction); computed in float32 and
    returned in the bank's dtype.
    """
    q, r = torch.linalg.qr(bank.float().t(), mode="reduced")  # q [d, n]
    sign = torch.sign(torch.diagonal(r))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    return (q * sign).t().to(bank.dtype)


def orthogonality_loss(bank: torch.Tensor) -> torch.Tensor:
    """||B_n B_n^T - I||_F^2 / n^2 for the row-normalised bank [n, d]: 0 when the rows are orthogonal.

    The forward pass orthonormalises the banks anyway; this keeps the raw parameters near orthogonal so Gram-Schmidt
    stays well conditioned (the trainer may add it with a small weight).
    """
    b = F.normalize(bank.float(), dim=-1)
    gram = b @ b.t()
    eye = torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype)
    return ((gram - eye) ** 2).sum() / gram.shape[0] ** 2


def _groups(channels: int) -> int:
    return math.gcd(32, channels)


def frame_positions(frames: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Sinusoidal frame-position embedding [frames, dim] (first half sin, second half cos)."""
    half = dim // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, device=device, dtype=torch.float32) / max(half, 1))
    ang = torch.arange(frames, device=device, dtype=torch.float32)[:, None] * freq[None]
    emb = torch.cat([ang.sin(), ang.cos()], dim=-1)
    if emb.shape[-1] < dim:
        emb = F.pad(emb, (0, dim - emb.shape[-1]))
    return emb.to(dtype)


class RegionAttention(nn.Module):
    """One region (face or hands) at one UNet stage.

    Args:
        channels: UNet feature channels at the stage.
        dim, heads: attention width and heads.
        spatial_tokens, temporal_tokens: bank sizes n and m.
        mask_hidden: hidden channels of the mask predictor.
        heatmap_channels: keypoint heatmaps predicted from the region features (0 = none).
    """

    def __init__(self, channels: int, dim: int, heads: int, spatial_tokens: int, temporal_tokens: int,
                 mask_hidden: int, heatmap_channels: int = 0) -> None:
        super().__init__()
        self.channels, self.dim, self.heads = channels, dim, heads
        self.norm = nn.GroupNorm(_groups(channels), channels, eps=1e-6)
        self.to_q = nn.Linear(channels, dim)
        self.spatial_bank = nn.Parameter(torch.randn(spatial_tokens, dim) / math.sqrt(dim))
        self.temporal_bank = nn.Parameter(torch.randn(temporal_tokens, dim) / math.sqrt(dim))
        self.spatial_kv = nn.Linear(dim, 2 * dim)
        self.temporal_q = nn.Linear(dim, dim)
        self.temporal_kv = nn.Linear(dim, 2 * dim)
        self.mask_head = nn.Sequential(
            nn.Conv2d(channels, mask_hidden, 3, padding=1), nn.SiLU(), nn.Conv2d(mask_hidden, 1, 3, padding=1))
        self.proj_out = nn.Linear(dim, channels)
        self.heatmap_head = nn.Conv2d(dim, heatmap_channels, 1) if heatmap_channels > 0 else None
        self.reset_output()

    def reset_output(self) -> None:
        """Zero the output projection: the module then returns its input exactly."""
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def banks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Orthonormalised banks scaled by sqrt(dim): spatial [n, dim], temporal [m, dim]."""
        s = math.sqrt(self.dim)
        return gram_schmidt(self.spatial_bank) * s, gram_schmidt(self.temporal_bank) * s

    def _attend(self, q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
        """q [N, L, dim], kv [N, S, 2*dim] -> [N, L, dim]."""
        n, length, _ = q.shape
        k, v = kv.chunk(2, dim=-1)
        hd = self.dim // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(t.shape[0], t.shape[1], self.heads, hd).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(q), split(k), split(v))
        return out.transpose(1, 2).reshape(n, length, self.dim)

    def forward(self, x: torch.Tensor, frames: int, identity: torch.Tensor | None = None,
                strength: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Apply the module.

        Args:
            x: UNet features [B*F, C, h, w].
            frames: F (the UNet call's frame count).
            identity: identity tokens [B or 1, k, dim] (None = bank only).
            strength: multiplier of the added features (1 = as trained).
        Returns:
            (x + proj_out(z) * mask * strength [B*F, C, h, w], mask [B*F, 1, h, w] in 0..1,
             heatmaps [B*F, hand_keypoints, h, w] or None).
        """
        nf, c, h, w = x.shape
        if c != self.channels:
            raise ValueError(f"Region module built for {self.channels} channels got UNet features with {c}.")
        if nf % frames:
            raise ValueError(f"Feature batch {nf} is not a multiple of the frame count {frames}.")
        b = nf // frames
        xn = self.norm(x)
        q = self.to_q(xn.flatten(2).transpose(1, 2))  # [B*F, hw, dim]
        bank_s, bank_t = self.banks()
        kv_src = bank_s.to(q.dtype)[None].expand(b, -1, -1)
        if identity is not None:
            ident = identity.to(q.dtype)
            if ident.shape[0] not in (1, b) or ident.shape[-1] != self.dim:
                raise ValueError(f"Identity tokens {tuple(ident.shape)} do not fit batch {b} and width {self.dim}.")
            kv_src = torch.cat([kv_src, ident.expand(b, -1, -1)], dim=1)
        kv = self.spatial_kv(kv_src).repeat_interleave(frames, dim=0)  # [B*F, S, 2dim]
        z = q + self._attend(q, kv)
        # temporal: per pixel over frames -> [B*hw, F, dim]
        zt = z.reshape(b, frames, h * w, self.dim).transpose(1, 2).reshape(b * h * w, frames, self.dim)
        qt = self.temporal_q(zt + frame_positions(frames, self.dim, zt.device, zt.dtype)[None])
        kv_t = self.temporal_kv(torch.cat([zt, bank_t.to(zt.dtype)[None].expand(zt.shape[0], -1, -1)], dim=1))
        zt = zt + self._attend(qt, kv_t)
        z = zt.reshape(b, h * w, frames, self.dim).transpose(1, 2).reshape(nf, h * w, self.dim)
        mask = torch.sigmoid(self.mask_head(xn))
        added = self.proj_out(z).transpose(1, 2).reshape(nf, c, h, w)
        heat = None
        if self.heatmap_head is not None:
            heat = self.heatmap_head(z.transpose(1, 2).reshape(nf, self.dim, h, w))
        if strength != 1.0:
            added = added * strength
        return x + added * mask, mask, heat
