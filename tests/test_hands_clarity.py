"""Hand clarity (CyberHost): std of the Laplacian of fixed-size hand crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from models.hands.clarity import (
    crop_hand,
    frame_scores,
    hand_box,
    hand_clarity,
    laplacian_std,
    passes_threshold,
    with_clarity,
)
from models.hands.plot import plot_clarity
from models.pose.layout import LEFT_ELBOW, LEFT_SHOULDER, LEFT_WRIST
from models.pose.types import PoseSequence

ASTRONAUT = data.astronaut()  # 512x512 RGB, public domain
# Normalised hand-point circles over textured regions: face, suit, helmet rim.
REGIONS = [(0.45, 0.30, 0.12), (0.75, 0.75, 0.12), (0.20, 0.20, 0.10)]


def _hand_pose(cx: float, cy: float, r: float, frames: int = 1, canvas: tuple[int, int] = (512, 512)) -> PoseSequence:
    kp = np.zeros((frames, 1, 133, 3), np.float32)
    ang = np.linspace(0, 2 * np.pi, 21, endpoint=False)
    kp[:, 0, 91:112, 0] = cx + r * np.cos(ang)
    kp[:, 0, 91:112, 1] = cy + r * np.sin(ang)
    kp[:, 0, 91:112, 2] = 0.9
    return PoseSequence(kp, canvas)


def _laplacian_reference(gray: np.ndarray) -> float:
    lap = cv2.Laplacian(gray.astype(np.float64), cv2.CV_64F, ksize=1)
    return float(lap[1:-1, 1:-1].std())


def test_laplacian_std_matches_opencv_interior() -> None:
    rng = np.random.default_rng(0)
    g = rng.uniform(0, 255, (40, 33)).astype(np.float32)
    assert laplacian_std(g) == pytest.approx(_laplacian_reference(g), rel=1e-5)
    assert laplacian_std(np.full((10, 10), 7.0, np.float32)) == 0.0


@pytest.mark.parametrize("region", REGIONS)
def test_score_falls_strictly_with_gaussian_blur(region: tuple[float, float, float]) -> None:
    pose = _hand_pose(*region)
    scores = []
    for sigma in (0, 1, 2, 4):
        frame = ASTRONAUT if sigma == 0 else cv2.GaussianBlur(ASTRONAUT, (0, 0), sigma)
        scores.append(float(hand_clarity(frame[None], pose)[0, 0, 0]))
    assert all(a > b for a, b in zip(scores[:-1], scores[1:], strict=True)), scores
    assert scores[-1] < 0.5 * scores[0]


@pytest.mark.parametrize("region", REGIONS)
def test_score_is_stable_across_crop_scales(region: tuple[float, float, float]) -> None:
    """The same scene at 1x, 0.75x and 0.6x resolution (hand boxes 154, 115, 92 px; crops >= 1.4x crop_side)."""
    pose = _hand_pose(*region)
    scores = []
    for k in (1.0, 0.75, 0.6):
        n = int(round(512 * k))
        frame = np.asarray(Image.fromarray(ASTRONAUT).resize((n, n), Image.LANCZOS))
        scores.append(float(hand_clarity(frame[None], pose, crop_side=64)[0, 0, 0]))
    scores = np.array(scores)
    assert np.all(np.abs(scores / scores[0] - 1.0) <= 0.15), scores


def test_no_hand_is_nan_and_only_visible_hands_score() -> None:
    pose = _hand_pose(0.45, 0.30, 0.12, frames=3)
    kp = pose.keypoints.copy()
    kp[1, 0, 91:112, 2] = 0.1  # below the 0.3 gate, no arm either -> no hand
    kp[2, 0, 91:112, :2] += 2.0  # hand far outside the frame
    scores = hand_clarity(np.repeat(ASTRONAUT[None], 3, 0), pose.with_keypoints(kp))
    assert scores.shape == (3, 1, 2) and scores.dtype == np.float32
    assert np.isfinite(scores[0, 0, 0])
    assert np.isnan(scores[0, 0, 1])  # right hand never present
    assert np.isnan(scores[1:, 0, 0]).all()


def test_fallback_box_from_wrist_and_elbow() -> None:
    pts = np.zeros((133, 3), np.float32)
    pts[LEFT_SHOULDER] = (100, 100, 0.9)
    pts[LEFT_ELBOW] = (100, 200, 0.9)
    pts[LEFT_WRIST] = (100, 300, 0.9)
    cx, cy, side = hand_box(pts, 0)
    assert (cx, cy) == pytest.approx((100.0, 333.0))
    assert side == pytest.approx(150.0)
    assert hand_box(pts, 1) is None
    pts[LEFT_ELBOW, 2] = 0.2
    assert hand_box(pts, 0) is None


def test_box_from_hand_points_wins_over_arm() -> None:
    pose = _hand_pose(0.5, 0.5, 0.1)
    pts = pose.pixels()[0, 0]
    pts = np.concatenate([pts, pose.keypoints[0, 0, :, 2:]], axis=1)
    cx, cy, side = hand_box(pts, 0)
    assert (cx, cy) == pytest.approx((256.0, 256.0), abs=0.5)
    assert side == pytest.approx(2 * 0.1 * 512 * 1.25, rel=0.01)


def test_border_crop_keeps_scale_and_drops_mostly_outside_boxes() -> None:
    frame = ASTRONAUT
    full = crop_hand(frame, (200.0, 200.0, 128.0), 64)
    assert full is not None and full.shape == (64, 64)
    edge = crop_hand(frame, (20.0, 200.0, 128.0), 64)  # 84 of 128 px visible: same scale, narrower crop
    assert edge is not None and edge.shape == (64, 42)
    assert crop_hand(frame, (-30.0, 200.0, 128.0), 64) is None  # under half inside


def test_frame_count_mismatch_and_bad_inputs() -> None:
    pose = _hand_pose(0.5, 0.5, 0.1, frames=2)
    with pytest.raises(ValueError, match="2"):
        hand_clarity(ASTRONAUT[None], pose)
    with pytest.raises(ValueError, match="uint8"):
        hand_clarity(np.zeros((2, 8, 8, 3), np.float32), pose)
    with pytest.raises(ValueError, match="crop_side"):
        hand_clarity(np.repeat(ASTRONAUT[None], 2, 0), pose, crop_side=4)


def test_with_clarity_aggregation_and_threshold() -> None:
    pose = _hand_pose(0.5, 0.5, 0.1, frames=3)
    scores = np.array([[[10.0, 20.0]], [[np.nan, 5.0]], [[np.nan, np.nan]]], np.float32)
    annotated = with_clarity(pose, scores)
    assert np.array_equal(annotated.hand_clarity, scores, equal_nan=True)
    assert np.array_equal(annotated.keypoints, pose.keypoints)
    with pytest.raises(ValueError, match="shape"):
        with_clarity(pose, scores[:2])
    np.testing.assert_array_equal(frame_scores(scores, "max"), [20.0, 5.0, np.nan])
    np.testing.assert_array_equal(frame_scores(scores, "mean"), [15.0, 5.0, np.nan])
    np.testing.assert_array_equal(frame_scores(scores, "min"), [10.0, 5.0, np.nan])
    with pytest.raises(ValueError, match="aggregation"):
        frame_scores(scores, "median")
    per_frame = frame_scores(scores, "max")
    assert passes_threshold(per_frame, 8.0).tolist() == [True, False, True]
    assert passes_threshold(per_frame, 8.0, keep_without_hands=False).tolist() == [True, False, False]


def test_progress_is_reported_per_frame() -> None:
    pose = _hand_pose(0.5, 0.5, 0.1, frames=3)
    calls: list[tuple[int, int]] = []
    hand_clarity(np.repeat(ASTRONAUT[None], 3, 0), pose, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_plot_is_rgb_and_shows_the_data() -> None:
    per_hand = np.stack([np.linspace(5, 30, 20), np.full(20, np.nan)], axis=1)
    per_hand[5:8, 0] = np.nan
    per_frame = frame_scores(per_hand[:, None, :], "max")
    img = plot_clarity(per_frame, per_hand, threshold=12.0, size=(400, 160))
    assert img.shape == (160, 400, 3) and img.dtype == np.uint8
    empty = plot_clarity(np.full(20, np.nan), None, None, size=(400, 160))
    assert empty.shape == (160, 400, 3)
    assert not np.array_equal(img, empty)
    # the white frame curve is drawn; the left-hand curve hides under it (same values)
    assert (img.min(axis=2) > 230).sum() > 100
    with pytest.raises(ValueError, match="size"):
        plot_clarity(per_frame, size=(50, 50))


def test_plot_labels_are_large_enough_to_read_in_a_preview() -> None:
    """The node's 768x256 plot is shown in a preview at ~0.6-0.8 of its size: its axis labels must be ~10 px tall at
    full size (they were 7 px, about 4 px in the preview)."""
    per_frame = np.array([30, 45, np.nan, 60, 72, 12, 5, 81.9])
    img = plot_clarity(per_frame, None, 8.0, size=(768, 256))
    grey = (img[..., 0] > 110) & (np.abs(img[..., 0].astype(int) - img[..., 2]) < 30)  # axis colour, not the data
    axis_x = next(x for x in range(img.shape[1]) if grey[:, x].sum() > 150)  # the y axis line
    rows = grey[:, :axis_x].any(axis=1)  # text rows left of the axis: the y labels
    tallest = max(np.diff(np.flatnonzero(np.diff(np.r_[0, rows.astype(np.int8), 0]) != 0))[::2], default=0)
    assert tallest >= 10, tallest
