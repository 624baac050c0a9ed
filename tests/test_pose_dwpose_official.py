"""DWPose backend against the OFFICIAL DWPose pre/post-processing, numerically, on content-following stand-in models.

tests/data/dwpose_official_expected.npz was made once (script kept outside the repo) by running the OFFICIAL code of
Tencent/MimicMotion at commit 62f91e1f4ab750e1ab0d96c08f2d199b6e84e8b1: mimicmotion/dwpose/onnxdet.py
inference_detector(session_det, image) and mimicmotion/dwpose/onnxpose.py inference_pose(session_pose, boxes, image),
i.e. exactly what wholebody.Wholebody.__call__ runs before its OpenPose reordering, with onnxruntime 1.31.1
CPUExecutionProvider sessions (intra_op_num_threads=1; numpy 2.4.6, opencv 5.0.0) on:
- "varied{i}", i = 0..3: tests/helpers/tiny_dwpose_varied.py models (every output follows the pixels: boxes from
  green markers, sizes from red bodies, SimCC peaks from the crop's rows/columns) on fixture_image(i), uint8 RGB of
  (H, W) = 480x640 (letterbox ratio 1), 720x405 (0.889, portrait), 199x301 (2.126, upscaled), 150x260 (nobody: the
  official code then poses the whole image). Images 0-2 hold two people (one near the right border, so its crop leaves
  the image), a blue non-person object over person 0 and a weak marker (score between 0.1 and 0.3).
- "planted0": tests/helpers/tiny_dwpose.py models (planted constant outputs) on a 768x512 black frame with a white
  4x4 corner block.
Stored per case: "{case}_boxes" float32 [P, 4] (official person boxes, xyxy pixels, in official order),
"{case}_keypoints" float32 [P, 133, 2] (pixels) and "{case}_scores" float32 [P, 133] (RAW SimCC maxima: the varied
models give values from about -5 to 1.6, so both the "score <= 0 -> location -1" rule and scores above 1 occur),
and the official crops: "{case}_warp" float64 [P', 2, 3] = onnxpose.get_warp_matrix(center, scale, 0, (288, 384))
with center/scale from bbox_xyxy2cs(box, padding=1.25) and top_down_affine's aspect fix, and "{case}_crop_rows"
int32 [P', 3, 384] = per-channel row sums of top_down_affine's uint8 crop (P' = P, or 1 whole-image box if P = 0).

Known, documented differences handled here: we clip scores to 0..1 (EMBODY_POSE), so clipped official scores are
compared; with no detection we return no person unless ``whole_image_fallback=True`` (the official behaviour).
Found by this test and fixed in models/pose/simcc.py: (1) the crop warp matrix is now solved from three float32 point
pairs with cv2.getAffineTransform like the official get_warp_matrix (the closed form differed by up to 2e-4 px in
translation, which changed a few crop pixels by one grey level and scores by ~3e-5); (2) keypoints whose score is
<= 0 get the official location -1 (before the split ratio) instead of their argmax.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.pose import simcc
from models.pose.dwpose import DWPoseBackend
from tests.helpers import tiny_dwpose as tiny
from tests.helpers import tiny_dwpose_varied as varied

DATA = Path(__file__).parent / "data" / "dwpose_official_expected.npz"
CASES = [f"varied{i}" for i in range(len(varied.IMAGE_SIZES))] + ["planted0"]


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    with np.load(DATA) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, tuple[str, str]]:
    folder = str(tmp_path_factory.mktemp("dwpose_official"))
    return {"varied": varied.write_tiny_dwpose_varied(folder), "planted": tiny.write_tiny_dwpose(folder)}


def case_input(case: str, models: dict[str, tuple[str, str]]) -> tuple[np.ndarray, tuple[str, str]]:
    if case.startswith("varied"):
        return varied.fixture_image(int(case[len("varied"):])), models["varied"]
    frame = np.zeros((768, 512, 3), np.uint8)
    frame[:4, :4] = 255
    return frame, models["planted"]


def test_fixture_exercises_the_interesting_paths(expected):
    counts = [len(expected[f"{c}_boxes"]) for c in CASES]
    assert counts == [4, 2, 4, 0, 2]
    scores = np.concatenate([expected[f"{c}_scores"].ravel() for c in CASES])
    assert (scores <= 0).any() and (scores > 1).any() and ((scores > 0.3) & (scores < 1)).any()


@pytest.mark.parametrize("pose_batch", [16, 1])
@pytest.mark.parametrize("case", CASES)
def test_matches_official_boxes_keypoints_and_scores(case, pose_batch, expected, models):
    image, (det, pose) = case_input(case, models)
    backend = DWPoseBackend(det, pose, providers=["CPUExecutionProvider"], pose_batch=pose_batch,
                            whole_image_fallback=True)
    boxes = backend.detect_boxes(image[None])[0]
    want_boxes = expected[f"{case}_boxes"]
    assert boxes.shape == (len(want_boxes), 5)
    np.testing.assert_allclose(boxes[:, :4], want_boxes, atol=1e-3)
    people = backend.detect(image[None])[0]
    want_xy, want_score = expected[f"{case}_keypoints"], expected[f"{case}_scores"]
    assert people.shape == (len(want_xy), 133, 3)
    np.testing.assert_allclose(people[..., :2], want_xy, atol=1e-3)
    np.testing.assert_allclose(people[..., 2], np.clip(want_score, 0.0, 1.0), atol=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_crops_are_the_official_crops_pixel_for_pixel(case, expected, models):
    # Scores of the stand-ins only see a few lines of each crop, so compare the crops themselves: a warp matrix that
    # is off by 1e-4 px already moves some bilinear pixels by one grey level, which real models would see.
    image, _ = case_input(case, models)
    boxes = expected[f"{case}_boxes"]
    if len(boxes) == 0:
        boxes = np.array([[0, 0, image.shape[1], image.shape[0]]], np.float32)
    centers, scales = simcc.box_to_center_scale(boxes, (288, 384))
    for i, (center, scale) in enumerate(zip(centers, scales, strict=True)):
        np.testing.assert_allclose(simcc.warp_matrix(center, scale, (288, 384)), expected[f"{case}_warp"][i],
                                   rtol=0, atol=1e-9)
        normalised = simcc.crop(image, center, scale, (288, 384))
        pixels = np.rint(normalised * simcc.STD[:, None, None] + simcc.MEAN[:, None, None]).astype(np.int64)
        np.testing.assert_array_equal(pixels.sum(axis=2), expected[f"{case}_crop_rows"][i])


def test_no_detection_gives_no_person_by_default(models):
    image, (det, pose) = case_input("varied3", models)
    assert DWPoseBackend(det, pose, providers=["CPUExecutionProvider"]).detect(image[None])[0].shape == (0, 133, 3)
