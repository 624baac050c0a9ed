"""Region codebook training, the parts: region masks and heatmaps from keypoints, the EDM v-prediction objective,
loss weights, the heatmap noise gate, mask BCE, the output-path check and the shared training-state module."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.io.train_state import load_state, output_inside, save_state, side_paths
from models.video.region_train.losses import (
    HEATMAP_SIGMA,
    LossConfig,
    heatmap_gate,
    heatmap_l2,
    loss_weight,
    mask_bce,
    noisy_input,
    sigma_to_ddpm_t,
    weighted_diffusion_loss,
)
from models.video.region_train.regions import (
    confident_hand_mask,
    hand_heatmaps,
    mask_iou,
    movement_box_map,
    region_masks,
)
from models.video.sigmas import sigma_to_timestep
from tests.helpers.region_synth import synthetic_clip


def _clip(size: int = 64, frames: int = 3) -> tuple[torch.Tensor, np.ndarray]:
    return synthetic_clip(1, frames, size, np.random.default_rng(0))


def test_region_masks_cover_the_drawn_boxes() -> None:
    px, kp = _clip(128)
    masks = region_masks(kp, (128, 128), (16, 16))
    assert masks.shape == (3, 2, 16, 16)
    # The synthetic face is a solid square of colour a on its upper half: the face mask covers it and not the
    # background far away.
    grey = np.linspace(0.35, 0.65, 128)[:, None]
    drawn = (np.abs(px[0].numpy() - grey[None]).max(axis=0) > 0.1).astype(np.float32)  # [128, 128] regions drawn
    drawn_latent = drawn.reshape(16, 8, 16, 8).mean(axis=(1, 3)) > 0.5
    union = masks[0].max(axis=0) > 0.5
    assert mask_iou(union.astype(np.float32), drawn_latent.astype(np.float32)) >= 0.6
    assert masks[0, 0].sum() > 0 and masks[0, 1].sum() > 0


def test_confident_hand_mask_follows_the_threshold() -> None:
    _, kp = _clip()
    assert confident_hand_mask(kp, (64, 64), (8, 8), 0.6).sum() > 0
    low = kp.copy()
    low[:, 91:133, 2] = 0.5
    assert confident_hand_mask(low, (64, 64), (8, 8), 0.6).sum() == 0
    assert confident_hand_mask(low, (64, 64), (8, 8), 0.4).sum() > 0


def test_hand_heatmaps_peak_at_the_keypoints() -> None:
    _, kp = _clip()
    maps, weight = hand_heatmaps(kp, (32, 32), sigma=1.0)
    assert maps.shape == (3, 42, 32, 32) and weight.shape == (3, 42)
    f, k = 1, 10
    y, x = np.unravel_index(np.argmax(maps[f, k]), (32, 32))
    point = kp[f, 91 + k]
    assert abs((x + 0.5) / 32 - point[0]) <= 1 / 32 and abs((y + 0.5) / 32 - point[1]) <= 1 / 32
    gone = kp.copy()
    gone[:, 91 + k, 2] = 0.0
    maps2, weight2 = hand_heatmaps(gone, (32, 32))
    assert weight2[f, k] == 0 and maps2[f, k].max() == 0


def test_movement_map_is_a_box_around_the_chest() -> None:
    _, kp = _clip(64, 6)
    m = movement_box_map(kp, (64, 64), (64, 64))
    assert 0 < m.sum() < 64 * 64
    chest = (kp[:, 5, :2] + kp[:, 6, :2]) / 2
    for x, y in chest:
        assert m[int(y * 64), int(x * 64)] == 1.0


def test_v_target_inverts_the_sampler_step() -> None:
    """x0 recovered from (scaled input, v_target) with the sampler's formula x0 = x/(s^2+1) - s/sqrt(s^2+1) v."""
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(2, 3, 4, 5, 5, generator=gen)
    noise = torch.randn(x0.shape, generator=gen)
    sigma = torch.tensor([0.05, 20.0])
    x_in, v = noisy_input(x0, noise, sigma)
    s = sigma.view(-1, 1, 1, 1, 1)
    x = x_in * (s**2 + 1).sqrt()
    torch.testing.assert_close(x, x0 + s * noise)
    torch.testing.assert_close(x / (s**2 + 1) - s / (s**2 + 1).sqrt() * v, x0, atol=1e-4, rtol=1e-4)


def test_loss_weights_combine_cyberhost_and_mimicmotion() -> None:
    region = torch.zeros(1, 1, 2, 2, 2)
    region[0, 0, 0, 0, 0] = 1  # face pixel
    region[0, 0, 1, 1, 1] = 1  # hand pixel
    hand = torch.zeros(1, 1, 2, 2)
    hand[0, 0, 1, 1] = 1  # confident hand
    w = loss_weight(region, hand, LossConfig(alpha=1.0, hand_amplification=10.0))[0, 0, 0]
    assert w.tolist() == [[2.0, 1.0], [1.0, 11.0]]
    # The weighted loss puts more weight on errors inside: same error inside vs outside gives different losses.
    err = torch.zeros(1, 1, 4, 2, 2)
    err[..., 0, 0] = 1.0
    inside = weighted_diffusion_loss(err, torch.zeros_like(err), w.view(1, 1, 1, 2, 2), torch.ones(1, 1))
    err2 = torch.zeros_like(err)
    err2[..., 0, 1] = 1.0
    outside = weighted_diffusion_loss(err2, torch.zeros_like(err), w.view(1, 1, 1, 2, 2), torch.ones(1, 1))
    assert inside > 1.9 * outside


def test_heatmap_gate_is_t_below_500_with_probability_half() -> None:
    assert sigma_to_ddpm_t(torch.tensor([HEATMAP_SIGMA])).item() == pytest.approx(499.0, abs=0.01)
    assert sigma_to_ddpm_t(torch.tensor([0.0292])).item() == pytest.approx(0.0, abs=0.05)
    assert sigma_to_ddpm_t(torch.tensor([700.0])).item() == pytest.approx(999.0)
    gen = torch.Generator().manual_seed(0)
    low = heatmap_gate(torch.full((4000,), 0.5), LossConfig(), gen)
    high = heatmap_gate(torch.full((4000,), 2.0), LossConfig(), gen)
    assert high.sum() == 0
    assert 0.45 < low.mean().item() < 0.55


def test_heatmap_l2_and_mask_bce() -> None:
    target = torch.zeros(2, 42, 8, 8)
    target[:, :, 3, 4] = 1.0
    weight = torch.ones(2, 42)
    assert heatmap_l2(target.clone(), target, weight, torch.ones(2)).item() == 0.0
    assert heatmap_l2(torch.zeros_like(target), target, weight, torch.zeros(2)).item() == 0.0  # gated off
    assert heatmap_l2(torch.zeros_like(target), target, weight, torch.ones(2)).item() > 0.0
    box = torch.zeros(1, 16, 16)
    box[:, 4:12, 4:12] = 1
    good = torch.full((1, 1, 8, 8), 0.01)
    good[..., 2:6, 2:6] = 0.99
    assert mask_bce(good, box).item() < 0.05 < mask_bce(1 - good, box).item()


def test_sigma_to_timestep_matches_the_sampler() -> None:
    assert sigma_to_timestep(math.e**4).item() == pytest.approx(1.0)


def test_output_path_stays_inside_the_folder(tmp_path) -> None:
    folder = tmp_path / "codebook"
    folder.mkdir()
    assert output_inside(str(folder), "mine") == str(folder.resolve() / "mine.safetensors")
    assert output_inside(str(folder), "sub/mine.safetensors") == str(folder.resolve() / "sub" / "mine.safetensors")
    for bad in ("../escape", "/etc/passwd", "a/../../b", ""):
        if bad == "":
            assert output_inside(str(folder), bad).endswith("my_codebook.safetensors")
            continue
        with pytest.raises(ValueError, match="output_name"):
            output_inside(str(folder), bad)


def test_training_state_round_trip(tmp_path) -> None:
    w = {"a": torch.randn(3), "b": torch.randn(2, 2)}
    params = [torch.nn.Parameter(w["a"].clone()), torch.nn.Parameter(w["b"].clone())]
    opt = torch.optim.AdamW(params, lr=1e-3)
    sum(p.sum() for p in params).backward()
    opt.step()
    path = side_paths(str(tmp_path / "x.safetensors"))["state"]
    save_state(path, {"a": params[0], "b": params[1]}, opt, 7, '{"k": 1}')
    params2 = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2, 2))]
    opt2 = torch.optim.AdamW(params2, lr=1e-3)
    weights, config, step = load_state(path, opt2)
    assert step == 7 and config == '{"k": 1}'
    torch.testing.assert_close(weights["a"], params[0].detach())
    torch.testing.assert_close(opt2.state_dict()["state"][1]["exp_avg"], opt.state_dict()["state"][1]["exp_avg"])


class _BoxBackend:
    """A PoseBackend that 'detects' the synthetic clip's known keypoints (frames are matched by order)."""

    name = "box"

    def __init__(self, keypoints: np.ndarray, size: int) -> None:
        self.kp, self.size, self.seen, self.calls = keypoints, size, 0, 0

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        self.calls += 1
        out = []
        for _ in frames:
            k = self.kp[min(self.seen, len(self.kp) - 1)].copy()
            k[:, :2] *= self.size
            out.append(k[None])
            self.seen += 1
        return out

    def close(self) -> None:
        pass


def test_video_folder_dataset_is_extracted_once_and_cached(tmp_path) -> None:
    from models.io.media import write_video
    from models.video.region_train.data import build_region_dataset
    from tests.helpers.tiny_mimicmotion import tiny_components

    px, kp = synthetic_clip(2, 6, 64, np.random.default_rng(3))
    folder = tmp_path / "videos"
    folder.mkdir()
    write_video(folder / "a.mp4", (px.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8), 10.0)
    comps = tiny_components(0)
    backend = _BoxBackend(kp, 64)
    cache = str(tmp_path / "cache")
    data = build_region_dataset(str(folder), comps, backend, (64, 64), 10.0, cache, "cpu")
    assert len(data.clips) == 1 and data.clips[0].latents.shape == (6, 4, 8, 8)
    assert np.isfinite(data.clips[0].clarity).any()  # hand clarity was scored from the frames
    np.testing.assert_allclose(data.clips[0].keypoints[:, 91:, :2], kp[:, 91:, :2], atol=1 / 64)
    calls = backend.calls
    again = build_region_dataset(str(folder), comps, _BoxBackend(kp * 0, 64), (64, 64), 10.0, cache, "cpu")
    assert backend.calls == calls and len(list((tmp_path / "cache").iterdir())) == 1
    torch.testing.assert_close(again.clips[0].latents, data.clips[0].latents)  # read from the cache, not re-detected
    batch = data.batch(1, 4, np.random.default_rng(0))
    assert batch.poses.shape == (4, 3, 64, 64) and batch.masks.shape == (1, 4, 2, 8, 8)
    with pytest.raises(ValueError, match="min_hand_clarity"):
        build_region_dataset(str(folder), comps, backend, (64, 64), 10.0, None, "cpu", min_hand_clarity=1e9)
