"""Progressive latent fusion: official windows/weights, other weightings, noise modes, frame-count advice, sigmas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.video.fusion import (
    FusionSchedule,
    frame_count_advice,
    initial_noise,
    window_indices,
    window_weights,
)
from models.video.sigmas import AYS_SVD_10, ays_sigmas, get_sigmas, karras_sigmas, sigma_to_timestep


def official_windows(n: int, t: int, o: int) -> list[list[int]]:
    """The official pipeline's index rule, restated from its pipeline for comparison."""
    out = [[0, *range(i + 1, min(i + t, n))] for i in range(0, n - t + 1, t - o)]
    if out[-1][-1] < n - 1:
        out.append([0, *range(n - t + 1, n)])
    return out


@pytest.mark.parametrize("n,t,o", [(16, 16, 4), (20, 8, 3), (29, 8, 3), (73, 72, 6), (138, 72, 6), (526, 72, 6)])
def test_official_windows(n: int, t: int, o: int) -> None:
    wins = window_indices(n, FusionSchedule(t, o))
    assert wins == official_windows(n, t, o)
    assert all(len(w) == t and w[0] == 0 for w in wins)
    assert sorted(set().union(*map(set, wins))) == list(range(n))


def test_official_window_count_for_35s_demo() -> None:
    assert len(window_indices(526, FusionSchedule().resolved("1.1"))) == 8


def test_triangular_weights_match_official_values() -> None:
    w = window_weights([list(range(16))], FusionSchedule(16, 4))[0]
    expected = np.array([0.0625, 0.1875, 0.3125, 0.4375, 0.5625, 0.6875, 0.8125, 0.9375])
    np.testing.assert_allclose(w.numpy(), np.concatenate([expected, expected[::-1]]), rtol=1e-6)


@pytest.mark.parametrize("weighting", ["triangular", "pyramid", "overlap-linear", "flat", "gaussian"])
@pytest.mark.parametrize("anchor", [True, False])
def test_weights_positive_and_fusion_is_weighted_mean(weighting: str, anchor: bool) -> None:
    sch = FusionSchedule(8, 3, weighting=weighting, anchor_reference=anchor)
    n = 25
    wins = window_indices(n, sch)
    ws = window_weights(wins, sch)
    assert all(len(w) == len(i) and (w > 0).all() for w, i in zip(ws, wins, strict=True))
    # A constant prediction must fuse to itself; a frame seen by one window keeps that window's value.
    acc, cnt = torch.zeros(n), torch.zeros(n)
    for j, (idx, w) in enumerate(zip(wins, ws, strict=True)):
        acc[idx] += w * (j + 1.0)
        cnt[idx] += w
    fused = acc / cnt
    only_first = [f for f in wins[0] if all(f not in other for other in wins[1:])]
    assert torch.allclose(fused[only_first], torch.ones(len(only_first)))
    assert (fused >= 1).all() and (fused <= len(wins)).all()


def test_pyramid_and_overlap_linear_shapes() -> None:
    sch = FusionSchedule(8, 3, weighting="pyramid", anchor_reference=False)
    assert window_weights([list(range(8))], sch)[0].tolist() == [1, 2, 3, 4, 4, 3, 2, 1]
    sch = FusionSchedule(8, 3, weighting="overlap-linear", anchor_reference=False)
    wins = window_indices(13, sch)  # [0..7], [5..12]: 3 shared frames
    w0, w1 = window_weights(wins, sch)
    np.testing.assert_allclose(w0.numpy(), [1, 1, 1, 1, 1, 0.75, 0.5, 0.25])
    np.testing.assert_allclose(w1.numpy(), [0.25, 0.5, 0.75, 1, 1, 1, 1, 1])


def test_shrink_tail_covers_only_new_frames() -> None:
    sch = FusionSchedule(8, 3, tail="shrink")
    wins = window_indices(17, sch)  # regular: [0,1..7], [0,6..12]; tail holds 11..16
    assert wins[:2] == official_windows(17, 8, 3)[:2]
    assert wins[-1] == [0, 11, 12, 13, 14, 15, 16]
    assert sorted(set().union(*map(set, wins))) == list(range(17))


def test_short_video_shrinks_window() -> None:
    sch = FusionSchedule(16, 4)
    assert window_indices(5, sch) == [[0, 1, 2, 3, 4]]
    assert window_indices(16, sch) == [list(range(16))]
    with pytest.raises(ValueError, match="at least 2 frames"):
        window_indices(1, sch)


@pytest.mark.parametrize("kw", [dict(window=8, overlap=7), dict(window=8, overlap=0), dict(weighting="cosine"),
                                dict(noise="pink"), dict(window=1, overlap=0)])
def test_bad_schedules(kw: dict) -> None:
    with pytest.raises(ValueError):
        FusionSchedule(**kw)


def test_frame_count_advice() -> None:
    sch = FusionSchedule().resolved("1.1")
    a = frame_count_advice(73, sch)
    assert a.wasteful and a.windows == 2 and a.tail_new_frames == 1 and (a.fewer, a.more) == (72, 138)
    assert "72 frames" in a.message() and "138 frames" in a.message()
    assert not frame_count_advice(138, sch).wasteful and frame_count_advice(138, sch).windows == 2
    assert not frame_count_advice(120, sch).wasteful  # tail adds 48 of 66 new frames: worth it
    assert not frame_count_advice(73, FusionSchedule(72, 6, tail="shrink")).wasteful


def test_noise_modes() -> None:
    g = torch.Generator().manual_seed(3)
    rep = initial_noise((4, 2, 2), 20, FusionSchedule(8, 3), g)
    assert rep.shape == (20, 4, 2, 2)
    assert torch.equal(rep[8:16], rep[:8]) and torch.equal(rep[16:], rep[:4])
    # Official draw: one (1, T, C, h, w) tensor from the generator.
    g = torch.Generator().manual_seed(3)
    assert torch.equal(rep[:8], torch.randn((1, 8, 4, 2, 2), generator=g)[0])

    g = torch.Generator().manual_seed(3)
    fn = initial_noise((4, 2, 2), 20, FusionSchedule(8, 3, noise="freenoise"), g)
    assert torch.equal(fn[:8], rep[:8])
    block = fn[8:13].flatten(1)
    src = fn[0:5].flatten(1)
    # Each later block is a permutation of the block one window earlier.
    assert sorted(map(tuple, block.tolist())) == sorted(map(tuple, src.tolist()))

    g = torch.Generator().manual_seed(3)
    ind = initial_noise((4, 2, 2), 20, FusionSchedule(8, 3, noise="independent"), g)
    assert not torch.equal(ind[8:16], ind[:8])
    assert abs(float(ind.std()) - 1.0) < 0.2


def test_karras_matches_diffusers_svd_scheduler() -> None:
    from diffusers import EulerDiscreteScheduler

    sched = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", prediction_type="v_prediction",
        sigma_min=0.002, sigma_max=700.0, timestep_spacing="leading", timestep_type="continuous",
        use_karras_sigmas=True, steps_offset=1, interpolation_type="linear",
    )
    for steps in (3, 10, 25):
        sched.set_timesteps(steps)
        ours = karras_sigmas(steps)
        assert torch.equal(ours, sched.sigmas.float())
        assert torch.allclose(sigma_to_timestep(ours[:-1]), sched.timesteps)
    assert karras_sigmas(3).tolist()[:3] == pytest.approx([700, 15.59, 0.002], rel=1e-3)


def test_ays_sigmas() -> None:
    s10 = ays_sigmas(10)
    np.testing.assert_allclose(s10[:-1].numpy(), np.array(AYS_SVD_10[:-1], dtype=np.float32), rtol=1e-6)
    assert s10[-1] == 0
    for steps in (5, 15, 30):
        s = ays_sigmas(steps)
        assert len(s) == steps + 1 and s[0] == pytest.approx(700) and s[-1] == 0
        assert (s[:-1] > s[1:]).all()
    with pytest.raises(ValueError, match="Unknown sigma schedule"):
        get_sigmas("linear", 10)
    with pytest.raises(ValueError, match="steps"):
        get_sigmas("karras", 0)


def test_one_fusion_type_resolves_the_model_defaults() -> None:
    """EMBODY_FUSION is one class: window 0 / overlap -1 mean the model version's official values."""
    auto = FusionSchedule()
    assert (auto.resolved("1.1").window, auto.resolved("1.1").overlap) == (72, 6)
    assert (auto.resolved("1.0").window, auto.resolved("1.0").overlap) == (16, 4)
    assert FusionSchedule(window=4).resolved("1.1").overlap == 2  # official overlap clipped to fit a tiny window
    assert FusionSchedule(overlap=3).resolved("1.0") == FusionSchedule(16, 3)
    custom = FusionSchedule(window=24, overlap=8, weighting="pyramid", noise="freenoise", tail="shrink")
    assert custom.resolved("1.0") is custom
    with pytest.raises(ValueError, match="overlap"):
        FusionSchedule(window=8, overlap=8)
    with pytest.raises(ValueError, match="version"):
        auto.resolved("2.0")
    with pytest.raises(ValueError, match="resolved"):
        window_indices(100, auto)  # an unresolved schedule never reaches the maths with 0 / -1
