"""A line plot of per-frame hand clarity, drawn with OpenCV so the pack needs no plotting library.

Curves: frame score (white, thick), subject's left hand (orange), right hand (cyan); threshold as a dashed red
line; frames without any hand shaded grey; frames under the threshold marked with a red tick on the x axis.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import ArrayLike

_BG = (24, 24, 28)
_AXIS = (160, 160, 160)
_FRAME = (245, 245, 245)
_LEFT = (255, 150, 40)
_RIGHT = (40, 200, 255)
_THRESHOLD = (235, 60, 60)
_NO_HAND = (60, 60, 66)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _nice_top(value: float) -> float:
    """Smallest 1/2/5 x 10^k at or above ``value`` (axis top)."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    exp = np.floor(np.log10(value))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * 10**exp >= value:
            return float(m * 10**exp)
    return float(10 ** (exp + 1))


def _polyline(img: np.ndarray, xs: np.ndarray, ys: np.ndarray, colour: tuple[int, int, int], thick: int) -> None:
    """Draw a curve, breaking it at NaN values (frames without that hand); lone points become dots."""
    finite = np.isfinite(ys)
    start = None
    for i in range(len(ys) + 1):
        if i < len(ys) and finite[i]:
            start = i if start is None else start
            continue
        if start is not None:
            seg = np.stack([xs[start:i], ys[start:i]], axis=1).round().astype(np.int32)
            if len(seg) == 1:
                cv2.circle(img, tuple(int(v) for v in seg[0]), thick + 1, colour, -1, cv2.LINE_AA)
            else:
                cv2.polylines(img, [seg], False, colour, thick, cv2.LINE_AA)
            start = None


def plot_clarity(
    per_frame: np.ndarray,
    per_hand: np.ndarray | None = None,
    threshold: float | None = None,
    size: tuple[int, int] = (768, 256),
) -> np.ndarray:
    """Plot clarity over the clip.

    per_frame: float [F] (NaN = no hand). per_hand: optional float [F, 2] (left, right) for one person.
    threshold: optional horizontal line. size: (width, height) in pixels (at least 128 x 96). Text grows with the
    height (0.55 font scale at 256 pixels, never under 0.35), so the labels stay readable when a preview shows the
    plot at half its size.
    Returns uint8 [height, width, 3] RGB.
    """
    width, height = int(size[0]), int(size[1])
    if width < 128 or height < 96:
        raise ValueError(f"plot size must be at least 128x96 pixels, got {width}x{height}")
    per_frame = np.asarray(per_frame, dtype=np.float64).reshape(-1)
    frames = len(per_frame)
    img = np.empty((height, width, 3), np.uint8)
    img[:] = _BG
    font = max(0.35, 0.55 * height / 256)
    thick = 1 if font < 0.5 else 2
    (_, text_h), _ = cv2.getTextSize("0", _FONT, font, thick)
    values = [per_frame]
    if per_hand is not None:
        per_hand = np.asarray(per_hand, dtype=np.float64).reshape(frames, 2)
        values.append(per_hand.reshape(-1))
    if threshold is not None:
        values.append(np.array([threshold], np.float64))
    stacked = np.concatenate(values)
    finite = stacked[np.isfinite(stacked)]
    y_top = _nice_top(float(finite.max()) * 1.05 if finite.size else 1.0)
    labels = [f"{frac * y_top:g}" for frac in (0.0, 0.5, 1.0)]
    left = max(cv2.getTextSize(t, _FONT, font, thick)[0][0] for t in labels) + 10
    right, top, bottom = 10, text_h + 12, text_h + 12
    x0, x1, y0, y1 = left, width - right, top, height - bottom

    def px(i: ArrayLike) -> np.ndarray:
        return x0 + (np.asarray(i, np.float64) + 0.5) * (x1 - x0) / max(frames, 1)

    def py(v: ArrayLike) -> np.ndarray:
        return y1 - np.clip(np.asarray(v, np.float64) / y_top, 0.0, 1.0) * (y1 - y0)

    no_hand = ~np.isfinite(per_frame)
    step = (x1 - x0) / max(frames, 1)
    for i in np.flatnonzero(no_hand):
        cv2.rectangle(img, (int(x0 + i * step), y0), (int(np.ceil(x0 + (i + 1) * step)) - 1, y1), _NO_HAND, -1)
    for frac, label in zip((0.0, 0.5, 1.0), labels, strict=True):
        yy = int(round(float(py(frac * y_top))))
        cv2.line(img, (x0, yy), (x1, yy), (48, 48, 54), 1)
        cv2.putText(img, label, (4, yy + text_h // 2), _FONT, font, _AXIS, thick, cv2.LINE_AA)
    cv2.line(img, (x0, y0), (x0, y1), _AXIS, 1)
    cv2.line(img, (x0, y1), (x1, y1), _AXIS, 1)
    cv2.putText(img, "frame 0", (x0, height - 5), _FONT, font, _AXIS, thick, cv2.LINE_AA)
    last = f"{max(frames - 1, 0)}"
    last_w = cv2.getTextSize(last, _FONT, font, thick)[0][0]
    cv2.putText(img, last, (x1 - last_w, height - 5), _FONT, font, _AXIS, thick, cv2.LINE_AA)
    cv2.putText(img, "hand clarity (std of Laplacian) per frame", (x0 + 4, text_h + 5), _FONT, font, _AXIS, thick,
                cv2.LINE_AA)
    if threshold is not None:
        yy = int(round(float(py(threshold))))
        for dash in range(x0, x1, 8):
            cv2.line(img, (dash, yy), (min(dash + 4, x1), yy), _THRESHOLD, 1)
        with np.errstate(invalid="ignore"):
            below = np.flatnonzero(np.isfinite(per_frame) & (per_frame < threshold))
        for i in below:
            xx = int(round(float(px(i))))
            cv2.line(img, (xx, y1 + 1), (xx, y1 + 5), _THRESHOLD, 1)
    xs = px(np.arange(frames))
    if per_hand is not None:
        _polyline(img, xs, py(per_hand[:, 0]), _LEFT, 1)
        _polyline(img, xs, py(per_hand[:, 1]), _RIGHT, 1)
    _polyline(img, xs, py(per_frame), _FRAME, 2)
    return img
