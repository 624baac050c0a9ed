"""Official-mode pose alignment against the OFFICIAL MimicMotion code, numerically.

tests/data/align_official_expected.npz was made once (script kept outside the repo) by running the OFFICIAL code of
Tencent/MimicMotion at commit 62f91e1f4ab750e1ab0d96c08f2d199b6e84e8b1: mimicmotion/dwpose/preprocess.py
get_video_pose(video_path, ref_image, sample_stride=1), unmodified, with only its inputs and outputs stubbed:
- the detector: a real dwpose_detector.DWposeDetector whose Wholebody (wholebody.py, real __call__: neck insertion
  and OpenPose reorder) gets its inference_detector / inference_pose patched to return our fixed people for the
  image at hand (pixels = keypoints[..., :2] as float64 * (W, H), scores float32, as the ONNX pipeline hands them on);
- decord: a stand-in VideoReader serving the driving frames (25 fps, so sample_stride stays 1), vr[0] of the driving
  canvas size; the reference image has the reference canvas size;
- draw_pose: replaced by a function that records the aligned pose dict it is given.
Two scenarios, "a": driving canvas 640x480, reference 512x768; "b": driving 360x640, reference 768x512 (W x H).
Inputs (stored): "{s}_driving" float32 [6, 2, 133, 3] normalised, confidences 0.05..1 (one knee at 0.1, which the
official fit still uses), frame 3 holds two people (excluded from the fit, still aligned), slot 1 empty elsewhere;
"{s}_reference" float32 [1, 2, 133, 3]: person 0 (used) with a weak right ear (0.2) and right ankle (0.25), which drop
out of the fit's point set, and a second, smaller person (ignored); "{s}_canvases" [[W_drv, H_drv], [W_ref, H_ref]].
Outputs: the recorded aligned dicts, per frame and person slot (zeros for empty slots): "{s}_body18" [6, 2, 18, 2]
(bodies.candidate), "{s}_face" [6, 2, 68, 2] (faces), "{s}_hands" [6, 2, 2, 21, 2] (hands: left, right), all
normalised to the reference canvas.
Known difference (documented in models/pose/align.py): we leave points with confidence 0 out of the fit and unmoved;
DWPose's raw output gives every point a position, so the inputs here give every driving point confidence > 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.pose.align import align_poses, fit_official
from models.pose.layout import FACE, LEFT_HAND, RIGHT_HAND, coco_to_openpose18
from models.pose.types import PoseSequence

DATA = Path(__file__).parent / "data" / "align_official_expected.npz"


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    with np.load(DATA) as data:
        return {k: data[k] for k in data.files}


def sequences(expected: dict[str, np.ndarray], name: str) -> tuple[PoseSequence, PoseSequence]:
    (wd, hd), (wr, hr) = expected[f"{name}_canvases"].tolist()
    driving = PoseSequence(expected[f"{name}_driving"], (wd, hd), fps=25.0)
    reference = PoseSequence(expected[f"{name}_reference"], (wr, hr))
    return driving, reference


@pytest.mark.parametrize("name", ["a", "b"])
def test_official_mode_reproduces_get_video_pose(name, expected):
    driving, reference = sequences(expected, name)
    aligned = align_poses(driving, reference, mode="official")
    assert aligned.canvas == reference.canvas and aligned.meta["align"]["frames_used"] == 5
    kp = aligned.keypoints.astype(np.float64)
    present = driving.person_present()
    assert present.sum() == 7  # six frames, one of them with two people
    body18 = np.where(present[..., None, None], coco_to_openpose18(kp)[..., :2], 0.0)
    face = np.where(present[..., None, None], kp[..., FACE, :2], 0.0)
    hands = np.where(present[..., None, None, None], np.stack([kp[..., LEFT_HAND, :2], kp[..., RIGHT_HAND, :2]], 2),
                     0.0)
    np.testing.assert_allclose(body18, expected[f"{name}_body18"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(face, expected[f"{name}_face"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(hands, expected[f"{name}_hands"], atol=1e-4, rtol=0)
    # Confidences are untouched (the official code only moves positions).
    np.testing.assert_array_equal(aligned.keypoints[..., 2], driving.keypoints[..., 2])


def test_fixture_is_not_trivial(expected):
    # The alignment must really move things: aligned != driving, and frame 3's second person is moved too.
    driving, _ = sequences(expected, "a")
    moved = np.abs(expected["a_body18"][..., 0, :] - driving.keypoints[:, :, 0, :2]).max()
    assert moved > 0.05
    assert np.abs(expected["a_body18"][3, 1]).sum() > 0 and np.abs(expected["a_body18"][2, 1]).sum() == 0


def test_fit_uses_single_person_frames_and_reference_visibility(expected):
    # Dropping the two-person frame entirely does not change the fit: it never took part.
    driving, reference = sequences(expected, "a")
    fit = fit_official(driving, reference)
    singles = driving.select_frames(np.array([0, 1, 2, 4, 5]))
    fit2 = fit_official(singles, reference)
    assert (fit.ax, fit.ay, fit.bx, fit.by) == pytest.approx((fit2.ax, fit2.ay, fit2.bx, fit2.by), abs=1e-12)
