"""A synthetic data set for the region codebook trainer: a region carries a pattern only the reference crop predicts.

Each clip shows one of ``IDENTITIES`` "people" on a shared grey gradient: a face square and two hand squares that
move along a random path, filled with that identity's two colours (upper and lower half), which average to the
background grey over the identities: without the reference crop the best guess inside a region is the background.
Poses are drawn from the same boxes (face points on the square's rim, hand points inside the hand squares, a
confident body), so PoseNet and the mask predictor can see where the regions are.
"""

from __future__ import annotations

import numpy as np
import torch

from models.pose.layout import FACE, LEFT_HAND, LEFT_SHOULDER, LEFT_WRIST, RIGHT_HAND, RIGHT_SHOULDER, RIGHT_WRIST

IDENTITIES = 4
# Signs of each identity's two colours around grey: columns sum to zero over identities.
_SIGNS = np.array([[1, 1, -1], [-1, -1, 1], [1, -1, 1], [-1, 1, -1]], np.float32)


def identity_colours(k: int) -> tuple[np.ndarray, np.ndarray]:
    s = _SIGNS[k % IDENTITIES]
    return 0.5 + 0.4 * s, 0.5 - 0.2 * s


def _draw(img: np.ndarray, box: tuple[int, int, int, int], k: int) -> None:
    a, b = identity_colours(k)
    x0, y0, x1, y1 = box
    img[y0:y1, x0:x1] = a
    img[y0 + (y1 - y0) // 2 : y1, x0:x1] = b  # lower half in the second colour


def _keypoints(face: tuple[int, ...], hands: list[tuple[int, ...]], size: int) -> np.ndarray:
    kp = np.zeros((133, 3), np.float32)
    fx0, fy0, fx1, fy1 = face
    cx, cy = (fx0 + fx1) / 2, (fy0 + fy1) / 2
    kp[:17, :2] = [cx, fy1 + 4]
    kp[:17, 2] = 1.0
    kp[LEFT_SHOULDER, :2] = [cx + 10, fy1 + 8]
    kp[RIGHT_SHOULDER, :2] = [cx - 10, fy1 + 8]
    n = FACE.stop - FACE.start
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rx, ry = (fx1 - fx0) / 2 / 1.2, (fy1 - fy0) / 2 / 1.2  # the face box grows the points' box by 1.2
    kp[FACE, 0] = cx + rx * np.cos(ang)
    kp[FACE, 1] = cy + ry * np.sin(ang)
    kp[FACE, 2] = 1.0
    for sl, wrist, box in ((LEFT_HAND, LEFT_WRIST, hands[0]), (RIGHT_HAND, RIGHT_WRIST, hands[1])):
        x0, y0, x1, y1 = box
        hx, hy = (x0 + x1) / 2, (y0 + y1) / 2
        half = (x1 - x0) / 2 / 1.25  # hand_box grows the points' box by 1.25
        g = np.linspace(-half, half, 5)
        pts = np.array([(hx + a, hy + b) for a in g for b in g][:21], np.float32)
        kp[sl, :2] = pts
        kp[sl, 2] = 1.0
        kp[wrist, :2] = [hx, hy + half]
    kp[:, 0] /= size
    kp[:, 1] /= size
    kp[:, :2] = kp[:, :2].clip(0.0, 1.0)
    return kp


def synthetic_clip(k: int, frames: int, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray]:
    """(frames float [F, 3, size, size] 0..1, keypoints [F, 133, 3] normalised) of identity ``k``."""
    face_side, hand_side = size * 3 // 8, size // 4
    bg = np.linspace(0.35, 0.65, size, dtype=np.float32)[:, None, None] * np.ones((1, size, 3), np.float32)
    start = rng.uniform(0.05, 0.4, size=2) * size
    vel = rng.uniform(-1.5, 1.5, size=2) * size / 64
    imgs, kps = [], []
    for f in range(frames):
        img = bg.copy()
        fx, fy = (start + vel * f).clip(2, size - face_side - hand_side - 4).astype(int)
        face = (fx, fy, fx + face_side, fy + face_side)
        hands = []
        for dx in (-1, 1):
            hx = int(np.clip(fx + face_side // 2 + dx * (face_side // 2 + hand_side) - hand_side // 2, 1,
                             size - hand_side - 1))
            hy = int(np.clip(fy + face_side + 2, 1, size - hand_side - 1))
            hands.append((hx, hy, hx + hand_side, hy + hand_side))
        for box in (face, *hands):
            _draw(img, box, k)
        imgs.append(img)
        kps.append(_keypoints(face, hands, size))
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous(), np.stack(kps)


# The tiny random VAE's scaled latents have a std of about 0.11 where SVD's VAE gives about 1; at 0.11 the content
# term of the v target (sigma x0 / sqrt(sigma^2 + 1)) would vanish under the noise term, so nothing about the
# picture could be learned. The helper multiplies the latents by this gain to give them SVD's unit scale.
LATENT_GAIN = 9.0


def synthetic_dataset(components, clips_per_identity: int, frames: int, size: int, seed: int):  # type: ignore[no-untyped-def]
    """RegionDataset of ``IDENTITIES * clips_per_identity`` clips (clip i is identity i % IDENTITIES)."""
    from models.video.region_train.data import RegionDataset, clip_from_arrays, encode_frames

    rng = np.random.default_rng(seed)
    clips = []
    for i in range(IDENTITIES * clips_per_identity):
        px, kp = synthetic_clip(i % IDENTITIES, frames, size, rng)
        latents = (encode_frames(components, px, "cpu").float() * LATENT_GAIN).to(torch.float16)
        clips.append(clip_from_arrays(components, px, kp, np.full(frames, 50.0, np.float32), "cpu", f"synth{i}",
                                      latents=latents))
    return RegionDataset(clips, (size, size))
