"""MimicMotion's PoseNet: a small conv encoder that turns a pose image into a residual for the UNet's first features.

Architecture, init and parameter names follow the official module (MimicMotion, arXiv 2406.19680;
mimicmotion/modules/pose_net.py) so the official ``pose_net.*`` weights load with ``strict=True``:
eight 2-D convs with SiLU after each (three of them stride 2, so a fixed 8x downsampling that matches the SVD VAE),
a 1x1 ``final_proj`` to the UNet's first block width, and a learned scalar ``scale`` (init 2.0).
205,557 parameters at the official width.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# (in, out, kernel, stride) of the eight convs; padding 1 keeps k3/s1 sizes and halves with k4/s2.
_CONV_SPECS: tuple[tuple[int, int, int, int], ...] = (
    (3, 3, 3, 1),
    (3, 16, 4, 2),
    (16, 16, 3, 1),
    (16, 32, 4, 2),
    (32, 32, 3, 1),
    (32, 64, 4, 2),
    (64, 64, 3, 1),
    (64, 128, 3, 1),
)


class PoseNet(nn.Module):
    """Pose image -> UNet ``conv_in`` residual.

    Args:
        noise_latent_channels: output channels; must equal the UNet's ``block_out_channels[0]`` (320 for SVD).
    """

    def __init__(self, noise_latent_channels: int = 320) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin, cout, k, s in _CONV_SPECS:
            layers += [nn.Conv2d(cin, cout, kernel_size=k, stride=s, padding=1), nn.SiLU()]
        # Sequential indices 0, 2, ..., 14 are the convs: the official key names conv_layers.{0,2,...,14}.*
        self.conv_layers = nn.Sequential(*layers)
        self.final_proj = nn.Conv2d(128, noise_latent_channels, kernel_size=1)
        self.scale = nn.Parameter(torch.ones(1) * 2.0)  # shape [1], as in the official checkpoints
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He-normal convs, zero biases; zero ``final_proj`` : untrained PoseNet adds nothing (zero conv)."""
        for m in self.conv_layers:
            if isinstance(m, nn.Conv2d):
                fan_in = m.kernel_size[0] * m.kernel_size[1] * m.in_channels
                nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.zeros_(self.final_proj.weight)
        if self.final_proj.bias is not None:
            nn.init.zeros_(self.final_proj.bias)
        with torch.no_grad():
            self.scale.fill_(2.0)

    @property
    def out_channels(self) -> int:
        return self.final_proj.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode pose images.

        Args:
            x: pose images in -1..1, [N, 3, H, W] or [B, F, 3, H, W] (flattened to B*F as official); H, W % 8 == 0.
        Returns:
            [N, noise_latent_channels, H/8, W/8] (N = B*F for 5-D input), in the module's dtype.
        """
        if x.ndim == 5:
            x = x.flatten(0, 1)
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"PoseNet expects pose images [N, 3, H, W] (or [B, F, 3, H, W]); got {tuple(x.shape)}.")
        if x.shape[-2] % 8 or x.shape[-1] % 8:
            raise ValueError(
                f"PoseNet needs pose images with height and width multiples of 8; got {x.shape[-2]}x{x.shape[-1]}. "
                "Resize the pose frames to the video size (a multiple of 8, 64 recommended)."
            )
        x = self.conv_layers(x)
        x = self.final_proj(x)
        return x * self.scale
