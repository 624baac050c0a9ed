"""What training a region codebook at 512x512 x 16 frames costs, computed from the model (no GPU needed).

Counts parameters of the SVD/MimicMotion UNet, PoseNet and a default region codebook, FLOPs of one UNet forward at
the training size (torch.utils.flop_counter on the meta device: matmuls, convolutions, attention), and estimates the
activation memory kept for the backward pass from the saved tensors of a forward on the meta device (with and
without diffusers' gradient checkpointing). Prints a Markdown table; README's training section quotes it.

Run from the pack folder: python -m benchmarks.region_train_cost [--frames 16 --size 512]
"""

from __future__ import annotations

import argparse

import torch


def saved_bytes(fn) -> int:  # type: ignore[no-untyped-def]
    """Bytes of tensors autograd saves for backward during fn() (meta tensors: sizes only)."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total


def main() -> None:
    from diffusers import UNetSpatioTemporalConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    from models.video.config_infer import SVD_UNET_CONFIG
    from models.video.posenet import PoseNet
    from models.video.region import RegionCodebook, RegionCodebookConfig

    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=512)
    a = p.parse_args()
    with torch.device("meta"):
        unet = UNetSpatioTemporalConditionModel(**SVD_UNET_CONFIG).to("meta", torch.bfloat16)
        pose_net = PoseNet(noise_latent_channels=320)
    cfg = RegionCodebookConfig.for_unet(unet, identity_dim=1024)
    codebook = RegionCodebook(cfg)
    n_unet = sum(p.numel() for p in unet.parameters())
    n_pose = sum(p.numel() for p in pose_net.parameters())
    n_cb = sum(p.numel() for p in codebook.parameters())
    f, h = a.frames, a.size // 8
    codebook = codebook.to("meta")

    def forward(checkpointing: bool, grad: bool = True) -> None:
        from models.video.region import attach_region_codebook

        if checkpointing:
            unet.enable_gradient_checkpointing()
        else:
            unet.disable_gradient_checkpointing()
        x = torch.zeros(1, f, 8, h, h, device="meta", dtype=torch.bfloat16, requires_grad=grad)
        with attach_region_codebook(unet, codebook) as handle, torch.device("meta"):
            handle.clarity = torch.zeros(1, device="meta")
            out = unet(x, torch.zeros(1, device="meta"), encoder_hidden_states=torch.zeros(
                1, 1, 1024, device="meta", dtype=torch.bfloat16), added_time_ids=torch.zeros(
                1, 3, device="meta", dtype=torch.bfloat16), return_dict=False)[0]
        del out

    unet.requires_grad_(False)
    codebook.requires_grad_(False)
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            forward(False, grad=False)
    fwd = counter.get_total_flops()
    codebook.requires_grad_(True)
    act = saved_bytes(lambda: forward(False))
    act_ckpt = saved_bytes(lambda: forward(True))
    gib = 2**30
    print(f"| quantity ({a.size}x{a.size}, {f} frames, batch 1, bf16) | value |")
    print("|---|---|")
    print(f"| UNet parameters (frozen) | {n_unet / 1e9:.3f} B = {n_unet * 2 / gib:.2f} GiB in bf16 |")
    print(f"| PoseNet parameters (frozen) | {n_pose / 1e6:.2f} M |")
    print(f"| region codebook parameters (trained, default config) | {n_cb / 1e6:.1f} M = "
          f"{n_cb * 16 / gib:.2f} GiB with fp32 weights + grads + AdamW (16 B each) |")
    print(f"| UNet forward FLOPs | {fwd / 1e12:.1f} TFLOP |")
    print(f"| step FLOPs: forward + backward (frozen weights: input gradients only, ~1x forward), and with "
          f"checkpointing one more forward | {2 * fwd / 1e12:.0f} / {3 * fwd / 1e12:.0f} TFLOP |")
    print(f"| activations saved for backward, no checkpointing | {act / gib:.1f} GiB |")
    print(f"| activations saved for backward, gradient checkpointing | {act_ckpt / gib:.1f} GiB |")


if __name__ == "__main__":
    main()
