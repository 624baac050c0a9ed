"""Proof that the region codebook trainer learns (issue 12), on the CPU with the tiny MimicMotion UNet.

Synthetic data (tests/helpers/region_synth.py): four "identities" whose face and hand squares carry colours only the
reference tells apart, moving over a shared background, with poses drawn from the same boxes. Training runs on 16
clips (4 per identity) at 128 x 128 and is judged on 4 held-out clips (new paths, the same identities) at fixed noise
levels and noise. The issue's goals:

* the diffusion loss falls clearly more inside the face / hand regions than outside them;
* the mask predictors find the region boxes on the held-out frames: IoU >= 0.5 (thresholded mask vs keypoint boxes).

What limited the earlier version (64 x 64, one clip per identity: IoU 0.36 at 80 steps, 0.43 at 400, the loss falling
as much outside as inside): at 64 px the latent is 8 x 8 and a hand box is 2 x 2 latent pixels, so one pixel of error
halves the IoU; and 4 training clips (24 frames) let the mask predictor fit their few positions instead of the
pose. At 128 px (16 x 16 latents) with 16 clips the same trainer reaches the goals (numbers in the asserts' comments;
EMBODY_SLOW_TESTS=1 runs a longer training with stricter bounds).
"""

from __future__ import annotations

import os

import pytest
import torch

from models.video.region import RegionCodebook, RegionCodebookConfig
from models.video.region_train.losses import LossConfig
from models.video.region_train.objective import encode_clip_conditions, evaluate
from models.video.region_train.trainer import RegionTrainConfig, train_region_codebook
from tests.helpers.region_synth import synthetic_dataset
from tests.helpers.tiny_mimicmotion import tiny_components

CODEBOOK = dict(dim=32, heads=4, spatial_tokens=8, temporal_tokens=4, identity_tokens=2, mask_hidden=16,
                clarity=False, movement=False)
SLOW = os.environ.get("EMBODY_SLOW_TESTS") == "1"
SIZE, CLIPS_PER_IDENTITY = 128, 4


def run(tmp_path, steps: int, lr: float = 6e-3, mask_weight: float = 5.0) -> tuple[dict, dict]:
    torch.manual_seed(0)
    comps = tiny_components(0)
    train = synthetic_dataset(comps, CLIPS_PER_IDENTITY, 6, SIZE, seed=0)
    test = synthetic_dataset(comps, 1, 6, SIZE, seed=1)  # held out: other paths
    loss = LossConfig(mask_weight=mask_weight)
    tc = RegionTrainConfig(steps=steps, batch_size=2, frames=4, lr=lr, warmup=10, checkpoint_every=0,
                           log_every=10, cpu=True, noise_aug=0.0, loss=loss)
    device = torch.device("cpu")
    config = RegionCodebookConfig.for_unet(comps.unet, identity_dim=32, **CODEBOOK)
    conds = encode_clip_conditions(comps, test, config.regions, device)
    torch.manual_seed(0)
    before = evaluate(comps, RegionCodebook(config), conds, test, loss, device, 4)
    result = train_region_codebook(comps, train, str(tmp_path / "cb.safetensors"), CODEBOOK, tc, resume=False)
    after = evaluate(comps, result.codebook, conds, test, loss, device, 4)
    print("before", before, "after", after)
    return before, after


def _drops(before: dict, after: dict) -> tuple[float, float]:
    return before["diff_in"] - after["diff_in"], before["diff_out"] - after["diff_out"]


def test_training_lowers_the_region_loss_and_finds_the_regions(tmp_path) -> None:
    before, after = run(tmp_path, 120)
    assert before["iou_face"] < 0.2 and before["iou_hands"] < 0.2  # untrained masks do not find the regions
    # 120 steps: held-out IoU face 0.52, hands 0.61 (untrained 0.12 / 0.11)
    assert after["iou_face"] >= 0.5 and after["iou_hands"] >= 0.5, after
    # loss inside the regions 1.886 -> 1.430 (-0.456), outside 1.040 -> 0.927 (-0.113)
    drop_in, drop_out = _drops(before, after)
    assert drop_in > 2.0 * drop_out and drop_in / before["diff_in"] > 1.5 * drop_out / before["diff_out"], (
        before, after)


@pytest.mark.skipif(not SLOW, reason="set EMBODY_SLOW_TESTS=1 for the longer training run")
def test_longer_training_meets_the_issue_goals_with_margin(tmp_path) -> None:
    before, after = run(tmp_path, 300)
    # 300 steps: held-out IoU face 0.55, hands 0.63; loss inside -0.499, outside -0.160
    assert after["iou_face"] >= 0.53 and after["iou_hands"] >= 0.58, after
    drop_in, drop_out = _drops(before, after)
    assert drop_in > 2.5 * drop_out, (before, after)
