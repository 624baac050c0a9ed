"""Voice and motion timeline (models/audio/timeline.py) for the audio nodes' widget."""

from __future__ import annotations

import json

import numpy as np

from models.audio.features import compute_audio_features
from models.audio.timeline import bucket_max, motion_energy, timeline, waveform_envelope
from models.pose.layout import LEFT_WRIST, LOWER_INNER_LIP, RIGHT_WRIST, UPPER_INNER_LIP
from models.pose.types import PoseSequence


def test_thinning_keeps_short_peaks() -> None:
    values = np.zeros(10_000)
    values[4321] = 5.0  # one onset in a long clip
    thin = bucket_max(values, 600)
    assert len(thin) == 600 and thin.max() == 5.0 and (thin > 0).sum() == 1
    assert np.array_equal(bucket_max(np.arange(5.0), 600), np.arange(5.0))


def test_waveform_envelope_spans_the_signal() -> None:
    t = np.arange(16000) / 16000
    wave = 0.5 * np.sin(2 * np.pi * 220 * t)
    env = np.array(waveform_envelope(wave[None, None], 100))
    assert env.shape == (100, 2)
    assert np.allclose(env[:, 0], -0.5, atol=0.01) and np.allclose(env[:, 1], 0.5, atol=0.01)


def test_motion_energy_measures_mouth_and_hands() -> None:
    frames = 10
    kp = np.zeros((frames, 1, 133, 3), np.float32)
    kp[..., 2] = 1.0
    kp[:, 0, UPPER_INNER_LIP, :2] = [0.5, 0.40]
    kp[:, 0, LOWER_INNER_LIP, :2] = [0.5, 0.40]
    kp[5, 0, LOWER_INNER_LIP, 1] = 0.45  # the mouth opens on frame 5 by 0.05 canvas heights
    kp[:, 0, LEFT_WRIST, 1] = 0.5 + 0.01 * np.arange(frames)  # 0.01 canvas heights per frame
    kp[:, 0, RIGHT_WRIST, :2] = 0.3  # still
    energy = motion_energy(PoseSequence(kp, (200, 100), 25.0))
    assert np.allclose(energy["mouth"][5], 0.05, atol=1e-6) and energy["mouth"][4] == 0
    # mean of the two wrists: (0.01 * 25 + 0) / 2 canvas heights per second, none on frame 0
    assert np.allclose(energy["hands"][1:], 0.125, atol=1e-5) and energy["hands"][0] == 0


def test_timeline_puts_voice_and_motion_on_one_axis() -> None:
    rate, fps = 16000, 25.0
    t = np.arange(2 * rate) / rate
    wave = (np.sin(2 * np.pi * 200 * t) * (t > 1.0)).astype(np.float32)  # silence, then a tone at 1 s
    feats = compute_audio_features(wave[None, None], rate, fps)
    feats = type(feats)(**{**feats.__dict__, "audio": {"waveform": wave[None, None], "sample_rate": rate}})
    pose = PoseSequence.empty(feats.num_frames, (64, 64), fps)
    payload = timeline(feats, pose)
    assert payload["duration_s"] == 2.0 and len(payload["loudness"]) == feats.num_frames == 50
    assert len(payload["mouth"]) == len(payload["hands"]) == 50
    loud = np.array(payload["loudness"])
    assert loud[:20].max() < 0.2 and loud[30:].min() > 0.8, loud  # loud only after 1 s, on the same axis
    assert max(payload["loudness"]) == 1.0 and payload["loudness_max"] > 0
    assert len(json.dumps(payload)) < 60_000
