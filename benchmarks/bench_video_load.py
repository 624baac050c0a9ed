"""Build-and-load time of a spatio-temporal UNet: ours (meta-device build, assign-load) vs the official way
(random init, then load_state_dict). Medium-size SVD-shaped config so it runs on a laptop CPU.

    python -m benchmarks.bench_video_load
"""

from __future__ import annotations

import time

import torch
from diffusers import UNetSpatioTemporalConditionModel

from models.video.config_infer import SVD_UNET_CONFIG
from models.video.loader import build_unet


def main() -> None:
    torch.set_num_threads(2)
    cfg = dict(SVD_UNET_CONFIG, block_out_channels=(128, 256, 512, 512), num_attention_heads=(2, 4, 8, 8),
               cross_attention_dim=256)
    sd = {k: v.half() for k, v in UNetSpatioTemporalConditionModel(**cfg).state_dict().items()}
    params = sum(v.numel() for v in sd.values())
    for dtype in (torch.float16, torch.float32):
        t0 = time.perf_counter()
        ref = UNetSpatioTemporalConditionModel(**cfg)
        ref.load_state_dict(sd)
        ref = ref.to(dtype)
        t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        ours = build_unet(sd, dtype, "bench")
        t_ours = time.perf_counter() - t0
        pairs = zip(ref.state_dict().values(), ours.state_dict().values(), strict=True)
        same = all(torch.equal(a, b) for a, b in pairs)
        print(f"{params / 1e6:.0f} M params, {dtype}: random-init+load {t_ref:.2f} s, meta+assign {t_ours:.2f} s, "
              f"speed-up x{t_ref / t_ours:.1f}, identical weights: {same}")


if __name__ == "__main__":
    main()
