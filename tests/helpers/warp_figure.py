"""A synthetic textured figure with coloured markers on known joints, for geometric checks of the pose warp.

The astronaut photo has no arm a detector can find once moved (the suit's arm merges with the torso), so the arm's
geometry is checked here: markers drawn at the joints must land where the driving pose puts those joints.
"""

from __future__ import annotations

import cv2
import numpy as np

SIZE = 512
# COCO body keypoints in pixels (subject's left on the image right).
JOINTS = {0: (256, 92), 1: (266, 82), 2: (246, 82), 3: (278, 88), 4: (234, 88), 5: (316, 150), 6: (196, 150),
          7: (340, 235), 8: (172, 235), 9: (352, 315), 10: (160, 315), 11: (292, 300), 12: (220, 300),
          13: (296, 400), 14: (216, 400), 15: (298, 490), 16: (214, 490)}
BODY_HEIGHT = 490 - 50  # ankles to the top of the head
MARKERS = {8: (255, 0, 0), 10: (0, 255, 0), 7: (0, 0, 255), 0: (255, 0, 255)}  # joint -> pure RGB colour


def figure_pose() -> np.ndarray:
    """float64 [133, 3]: the figure's pose, normalised, confidence 0.9 on the body and 0 elsewhere."""
    kp = np.zeros((133, 3))
    for j, (x, y) in JOINTS.items():
        kp[j] = (x / SIZE, y / SIZE, 0.9)
    return kp


def figure_image(seed: int = 0) -> np.ndarray:
    """uint8 RGB [512, 512, 3]: textured background, textured body, markers on the joints in MARKERS."""
    rng = np.random.default_rng(seed)
    noise = cv2.resize(rng.uniform(0, 1, (16, 16)).astype(np.float32), (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
    img = np.stack([90 + 60 * noise, 110 + 50 * noise, 140 + 40 * noise], axis=-1).clip(0, 255).astype(np.uint8)
    body = np.zeros((SIZE, SIZE), np.uint8)
    p = {j: tuple(int(v) for v in xy) for j, xy in JOINTS.items()}
    cv2.fillConvexPoly(body, np.array([p[5], p[6], p[12], p[11]], np.int32), 1)
    for a, b in ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16)):
        cv2.line(body, p[a], p[b], 1, 34)
    cv2.circle(body, (256, 90), 40, 1, -1)
    cv2.line(body, (256, 120), (256, 150), 1, 30)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    stripes = (((xx // 6 + yy // 6) % 2) * 40).astype(np.int32)
    cloth = np.stack([200 - stripes, 150 - stripes // 2, 60 + stripes // 3], axis=-1).clip(0, 255).astype(np.uint8)
    img[body > 0] = cloth[body > 0]
    for j, colour in MARKERS.items():
        cv2.circle(img, p[j], 6, colour, -1)
    return img


def marker_centre(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray | None:
    """Centroid (x, y) of the pixels within 60 of a marker colour in every channel, or None if there are none."""
    near = (np.abs(image.astype(np.int32) - np.array(colour)) < 60).all(axis=-1)
    ys, xs = np.nonzero(near)
    return None if xs.size == 0 else np.array([xs.mean(), ys.mean()])
