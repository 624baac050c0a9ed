"""The demo's two plots (matplotlib, Agg): hand clarity against blur, and mouth opening against loudness.

Both say plainly what they cannot show: a reference without a detected hand gets a notice instead of scores from a
box guessed from the arm, and silent audio gets a flat, labelled mouth curve instead of one stretched to full height.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.hands.clarity import HANDS, MIN_HAND_POINTS
from models.pose.layout import CONFIDENCE_GATE, FACE_JAW, LOWER_INNER_LIP, NOSE, UPPER_INNER_LIP
from models.pose.types import PoseSequence

HAND_NAMES = ("left hand", "right hand")
SILENCE_LOUDNESS = 0.02  # peak loudness (0..1) under which the audio counts as silent


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def detected_hands(pose: PoseSequence, frame: int = 0, person: int = 0) -> list[bool]:
    """Per hand (subject's left, right): were its own keypoints found (>= MIN_HAND_POINTS above the gate)?"""
    points = pose.keypoints[frame, person]
    return [int((points[hand_slice, 2] >= CONFIDENCE_GATE).sum()) >= MIN_HAND_POINTS for hand_slice, *_ in HANDS]


def plot_clarity_vs_blur(path: Path, sigmas: np.ndarray, per_hand: np.ndarray, found: list[bool]) -> None:
    """Clarity of each detected hand (per_hand float [S, 2]) against the Gaussian blur sigma; a notice if none."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=100)
    ax.set_xlabel("Gaussian blur sigma (pixels)")
    ax.set_ylabel("hand clarity (std of Laplacian)")
    ax.set_title("hand clarity of the reference as it is blurred")
    drawn = False
    for hand, name in enumerate(HAND_NAMES):
        values = per_hand[:, hand]
        if found[hand] and np.isfinite(values).any():
            ax.plot(sigmas, values, marker="o", lw=1.2, label=name)
            drawn = True
    if drawn:
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no hand detected in the reference image:\nnothing to score", ha="center", va="center",
                transform=ax.transAxes, fontsize=11)
        ax.set_xlim(float(sigmas.min()), float(sigmas.max()))
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def mouth_opening(motion: PoseSequence, person: int = 0) -> np.ndarray:
    """Inner-lip gap per frame as a fraction of the nose-to-chin distance (0 = closed, ~0.5 = wide open)."""
    kp = motion.keypoints[:, person]
    gap = np.maximum(kp[:, LOWER_INNER_LIP, 1] - kp[:, UPPER_INNER_LIP, 1], 0.0)
    chin = kp[:, FACE_JAW.start + 8, 1]
    face = np.maximum(np.abs(chin - kp[:, NOSE, 1]), 1e-6)
    return gap / face


def plot_mouth_vs_loudness(path: Path, motion: PoseSequence, loudness: np.ndarray) -> float | None:
    """Plot mouth opening against loudness on fixed scales; returns their Pearson r, or None if undefined."""
    plt = _pyplot()
    mouth = mouth_opening(motion)
    loudness = np.asarray(loudness, dtype=np.float64)
    silent = float(loudness.max(initial=0.0)) < SILENCE_LOUDNESS
    corr = None
    if mouth.std() > 0 and loudness.std() > 0:
        corr = float(np.corrcoef(mouth, loudness)[0, 1])
    t = np.arange(len(mouth)) / motion.fps
    fig, ax = plt.subplots(figsize=(8, 2.6), dpi=100)
    ax.plot(t, loudness, label="loudness (0..1)", lw=1)
    ax.plot(t, mouth, label="mouth opening (lip gap / nose-to-chin)", lw=1)
    ax.set_ylim(0.0, max(1.0, float(mouth.max(initial=0.0)) * 1.1))
    ax.set_xlabel("seconds")
    if silent:
        ax.set_title("silent audio: no speech to follow, the mouth stays as in the reference")
    else:
        ax.set_title("mouth vs loudness, " + (f"r = {corr:.2f}" if corr is not None else "r undefined (a flat curve)"))
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return corr
