"""Frame-aligned audio features: exact frame counts, any rate/channels/fps, bad input, the shipped speech clip."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from models.audio.features import FEATURE_DIM, AudioFeatures, compute_audio_features, num_video_frames
from tests.helpers.synthetic_inputs import syllable_train

SPEECH = Path(__file__).parent / "data" / "speech.wav"


def _tone(seconds: float, sr: int, start: float = 0.0, stop: float | None = None, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    y = amp * np.sin(2 * np.pi * 220 * t) + 0.3 * amp * np.sin(2 * np.pi * 1330 * t)
    on = (t >= start) & (t < (seconds if stop is None else stop))
    return (y * on).astype(np.float32)


@pytest.mark.parametrize("fps", [24, 25, 29.97, 30, 60, 120])
@pytest.mark.parametrize("seconds", [0.1, 1.234, 3.0])
def test_frame_count_is_round_duration_times_fps(fps: float, seconds: float) -> None:
    y = _tone(seconds, 16000)
    f = compute_audio_features(y, 16000, fps)
    assert f.num_frames == round(len(y) / 16000 * fps) == num_video_frames(seconds, fps)
    assert f.features.shape == (f.num_frames, FEATURE_DIM) and f.features.dtype == np.float32
    assert np.isfinite(f.features).all()
    assert f.fps == fps and f.sample_rate == 16000 and f.duration_s == pytest.approx(len(y) / 16000)


@pytest.mark.parametrize("sr", [8000, 11025, 16000, 22050, 44100, 48000, 96000])
def test_any_sample_rate_gives_the_same_features(sr: int) -> None:
    ref = compute_audio_features(_tone(1.5, 16000, 0.5, 1.0), 16000, 25)
    f = compute_audio_features(_tone(1.5, sr, 0.5, 1.0), sr, 25)
    assert f.num_frames == ref.num_frames == 38
    # Tone components (220 + 1330 Hz) lie below every Nyquist, so resampling keeps them: same loudness and mel.
    np.testing.assert_allclose(f.loudness, ref.loudness, atol=0.03)
    loud = ref.loudness > 0.5
    strong = ref.mel[loud] > 0.3  # bins holding the tones (window leakage above 4 kHz differs at 8 kHz, as it should)
    assert strong.sum() > 50
    assert np.abs(f.mel[loud][strong] - ref.mel[loud][strong]).max() < 0.15


def test_loudness_and_onset_are_time_aligned_at_any_fps() -> None:
    y = _tone(3.0, 16000, start=1.0, stop=2.0)
    for fps in (25, 30, 24):
        f = compute_audio_features(y, 16000, fps)
        on = np.flatnonzero(f.loudness > 0.5)
        assert on[0] == round(1.0 * fps) and on[-1] == round(2.0 * fps) - 1, (fps, on[[0, -1]])
        assert f.loudness[: round(1.0 * fps) - 1].max() == 0.0
        assert abs(int(np.argmax(f.onset)) - round(1.0 * fps)) <= 1
        assert f.onset.max() == pytest.approx(1.0)


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_channel_counts_and_torch_batch_layout(channels: int) -> None:
    mono = _tone(1.0, 44100, 0.2, 0.8)
    wave = torch.from_numpy(np.stack([mono] * channels))[None]  # [1, C, T] like ComfyUI's AUDIO
    f = compute_audio_features(wave, 44100, 25)
    ref = compute_audio_features(mono, 44100, 25)
    np.testing.assert_allclose(f.features, ref.features, atol=1e-5)


def test_stereo_is_downmixed_by_averaging() -> None:
    left, right = _tone(1.0, 16000, 0.0, 0.5), _tone(1.0, 16000, 0.5, 1.0)
    f = compute_audio_features(np.stack([left, right]), 16000, 25)
    assert (f.loudness[2:10] > 0.5).all() and (f.loudness[15:23] > 0.5).all()


def test_batch_uses_first_item_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    a, b = _tone(1.0, 16000, 0.0, 0.3), _tone(1.0, 16000, 0.6, 1.0)
    wave = torch.from_numpy(np.stack([a, b]))[:, None]  # [2, 1, T]
    with caplog.at_level(logging.WARNING):
        f = compute_audio_features(wave, 16000, 25)
    assert "first one" in caplog.text
    np.testing.assert_allclose(f.features, compute_audio_features(a, 16000, 25).features)


def test_silent_audio_is_all_rest() -> None:
    f = compute_audio_features(np.zeros((2, 32000), np.float32), 16000, 25)
    assert f.num_frames == 50
    assert f.loudness.max() == 0.0 and f.onset.max() == 0.0
    assert np.ptp(f.mel) == 0.0 and f.mel.max() == pytest.approx(-1.0)


def test_quiet_hiss_is_not_loud_and_has_no_strong_onsets() -> None:
    noise = np.random.default_rng(0).normal(0, 10 ** (-70 / 20), 32000).astype(np.float32)
    f = compute_audio_features(noise, 16000, 25)
    assert f.loudness.max() == 0.0 and f.onset.max() < 0.3


def test_clipped_and_integer_audio() -> None:
    y = _tone(1.0, 16000, 0.2, 0.8, amp=1.0)
    clipped = np.clip(4 * y, -1, 1)
    f = compute_audio_features(clipped, 16000, 25)
    assert np.isfinite(f.features).all() and 0 <= f.loudness.min() and f.loudness.max() <= 1
    y = 0.7 * y
    pcm = np.round(y * 32768).astype(np.int16)
    np.testing.assert_allclose(compute_audio_features(pcm, 16000, 25).features,
                               compute_audio_features(y, 16000, 25).features, atol=1e-2)  # 16-bit quantisation noise


def test_feature_columns_and_properties() -> None:
    f = compute_audio_features(_tone(0.52, 16000), 16000, 25, n_mels=40)
    assert f.names == ("mel",) * 40 + ("loudness", "onset")
    assert f.mel.shape == (13, 40) and f.loudness.shape == (13,) and f.onset.shape == (13,)
    assert isinstance(f, AudioFeatures) and f.audio is None


@pytest.mark.parametrize(
    ("wave", "sr", "fps", "match"),
    [
        (np.zeros((1, 0), np.float32), 16000, 25, "empty"),
        (np.zeros((0, 1, 100), np.float32), 16000, 25, "empty batch"),
        (np.r_[np.zeros(1000), np.nan, np.zeros(1000)], 16000, 25, "NaN"),
        (np.r_[np.zeros(1000), np.inf], 16000, 25, "NaN/inf"),
        (np.zeros(80), 16000, 25, "shorter than one video frame"),
        (np.zeros(1600), 0, 25, "sample_rate"),
        (np.zeros(1600), 16000, 0, "fps"),
        (np.zeros((1, 1, 1, 1600)), 16000, 25, "must be"),
        (np.array(["a", "b"]), 16000, 25, "numbers"),
    ],
)
def test_bad_input_gives_clear_errors(wave: np.ndarray, sr: int, fps: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compute_audio_features(wave, sr, fps)


def test_shipped_speech_clip_has_speech_and_pauses() -> None:
    assert SPEECH.stat().st_size < 150_000
    y, sr = sf.read(SPEECH, dtype="float32")
    assert sr == 16000 and y.ndim == 1 and 3.0 <= len(y) / sr <= 4.0
    f = compute_audio_features(y, sr, 25)
    silent = f.loudness < 0.12
    runs, run = [], 0
    for s in silent:
        run = run + 1 if s else 0
        runs.append(run)
    assert max(runs) >= 13, "the clip needs a pause longer than 0.5 s"
    assert (~silent).sum() >= 40 and (f.onset >= 0.5).sum() >= 3


def test_syllable_train_onsets_line_up_with_syllable_starts() -> None:
    y, starts = syllable_train(4.0, seed=3, gap=(0.25, 0.5))
    f = compute_audio_features(y, 16000, 25)
    for s in starts:
        window = f.onset[max(0, round(s * 25) - 1): round(s * 25) + 2]
        assert window.max() >= 0.3, s


def test_ten_minutes_is_fast_and_exact() -> None:
    sr = 8000
    t = np.arange(600 * sr) / sr
    y = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.7 * t) > 0)).astype(np.float32)
    start = time.perf_counter()
    f = compute_audio_features(y, sr, 29.97)
    elapsed = time.perf_counter() - start
    assert f.num_frames == round(600 * 29.97) == 17982
    assert np.isfinite(f.features).all()
    # Behaviour, not a timing assertion: minutes of audio must stay in the seconds range (generous for shared CI).
    assert elapsed < 60, elapsed
