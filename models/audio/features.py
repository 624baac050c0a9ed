"""Frame-aligned audio features (log-mel, loudness, onset strength) at any video frame rate.

Any input rate and channel count is downmixed to mono and resampled to a fixed 16 kHz analysis rate (the rate of
Whisper and Wav2Lip, research notes "Audio features without downloads"). Features are computed at a fine 100 Hz
hop (10 ms, Whisper's hop) and then integrated over each video frame's time span [i/fps, (i+1)/fps): box
averages of the step function the fine frames define, so 24, 25, 29.97, 30, 60 or 120 fps all get exactly
round(duration * fps) frames without an integer hop per frame.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

ANALYSIS_RATE = 16000
HOP = 160  # 10 ms at 16 kHz: the fine frame grid, 100 Hz
WIN = 400  # 25 ms analysis window (Whisper)
N_FFT = 512
FMIN, FMAX = 55.0, 7600.0  # Wav2Lip's mel range: speech band, drops rumble and the top octave
N_MELS = 80
FEATURE_DIM = N_MELS + 2

# Log-mel scaling: log10 of mel power, floored at 1e-8 (-80 dB), then (x + 4) / 4 as Whisper does, so a fixed
# level always maps to the same value (no per-clip normalisation that would make silence look like speech).
_MEL_FLOOR = 1e-8
# Loudness: dB of the mean square over the video frame, relative to the clip's speech level (99th percentile),
# which is never taken below -45 dBFS so a near-silent clip stays near 0 instead of being amplified; and capped by an
# absolute ramp from -65 dBFS (0) to -45 dBFS (1) so hiss and dither in a clip without speech read as silence.
_LOUDNESS_RANGE_DB = 40.0
_LOUDNESS_REF_FLOOR_DB = -45.0
_ABS_SILENCE_DB, _ABS_FULL_DB = -65.0, -45.0
# Onset: spectral flux of the dB mel (librosa.onset.onset_strength); normalised by its 99th percentile but never by
# less than this flux (dB per band), so hiss between words does not become "strong onsets".
_ONSET_MIN_NORM = 4.0
_DB_DYNAMIC_RANGE = 70.0  # floor of the dB mel below its maximum before the flux, as librosa's power_to_db top_db
_DB_ABS_FLOOR = -60.0  # absolute floor (dB of mel power) so dither in digital silence yields no flux


@dataclass
class AudioFeatures:
    """Per-video-frame audio features (EMBODY_AUDIO_FEATURES).

    features: float32 [F, D]; columns named by ``names`` (default 80 log-mel bins, then loudness, then onset).
    fps: video frames per second the rows are aligned to (row i covers [i/fps, (i+1)/fps) seconds).
    sample_rate: the analysis rate (16 kHz), not the source rate.
    names: one group name per column, e.g. ("mel",) * 80 + ("loudness", "onset").
    duration_s: duration of the source audio in seconds; F == round(duration_s * fps).
    audio: the source AUDIO dict ({"waveform" [B,C,T], "sample_rate"}) when known, for muxing downstream.
    """

    features: np.ndarray
    fps: float
    sample_rate: int
    names: tuple[str, ...]
    duration_s: float
    audio: dict[str, Any] | None = None

    def _columns(self, name: str) -> np.ndarray:
        idx = [i for i, n in enumerate(self.names) if n == name]
        if not idx:
            raise KeyError(f"audio features have no {name!r} column; columns are {sorted(set(self.names))}")
        return self.features[:, idx]

    @property
    def mel(self) -> np.ndarray:
        """float32 [F, n_mels]: log-mel, roughly -1 (silence) .. 1.5 (loud)."""
        return self._columns("mel")

    @property
    def loudness(self) -> np.ndarray:
        """float32 [F]: 0 = 40 dB or more below the clip's speech level (or below -65 dBFS), 1 = at or above it."""
        return self._columns("loudness")[:, 0]

    @property
    def onset(self) -> np.ndarray:
        """float32 [F]: onset strength (spectral flux), 0..1, 1 = the clip's strong onsets."""
        return self._columns("onset")[:, 0]

    @property
    def num_frames(self) -> int:
        return int(self.features.shape[0])


def _to_mono(waveform: Any) -> np.ndarray:
    """[T], [C,T] or [B,C,T] (numpy or torch, float or int PCM) -> float64 mono [T]; B > 1 uses item 0."""
    if hasattr(waveform, "detach"):  # torch.Tensor, without importing torch here
        waveform = waveform.detach().to("cpu").float().numpy()
    x = np.asarray(waveform)
    if x.dtype.kind in "iu":
        # Integer PCM: scale to -1..1 as LoadAudio does for int16/int32.
        x = x.astype(np.float64) / float(2 ** (8 * x.dtype.itemsize - 1))
    elif x.dtype.kind != "f":
        raise ValueError(f"audio waveform must hold numbers, got dtype {x.dtype}")
    x = x.astype(np.float64, copy=False)
    if x.ndim == 3:
        if x.shape[0] == 0:
            raise ValueError("audio waveform has an empty batch (B=0); connect an AUDIO with at least one clip")
        if x.shape[0] > 1:
            logger.warning("audio batch has %d clips; Embody uses the first one only", x.shape[0])
        x = x[0]
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"audio waveform must be [T], [C,T] or [B,C,T], got shape {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(
            f"audio is empty (shape [channels={x.shape[0]}, samples={x.shape[1]}]); load a clip with sound in it"
        )
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise ValueError(
            f"audio has {bad} NaN/inf samples; re-export the file or clean it (e.g. with a normalisation node) first"
        )
    return x.mean(axis=0)


def _resample(y: np.ndarray, sample_rate: int) -> np.ndarray:
    """Polyphase resampling to ANALYSIS_RATE (exact rational ratio, linear time, anti-aliased)."""
    if sample_rate == ANALYSIS_RATE:
        return y
    from scipy.signal import resample_poly

    g = math.gcd(int(sample_rate), ANALYSIS_RATE)
    return resample_poly(y, ANALYSIS_RATE // g, int(sample_rate) // g)


def _frame_edges(num_frames: int, fps: float, rate: float) -> np.ndarray:
    """[F+1] boundaries of the video frames in units of `rate` (samples or fine frames)."""
    return np.arange(num_frames + 1, dtype=np.float64) * (rate / fps)


def _box_average(values: np.ndarray, edges: np.ndarray, centre_offset: float) -> np.ndarray:
    """Average of a step function over [edges[i], edges[i+1]).

    values: [N, D], value n holds on [n + centre_offset - 0.5, n + centre_offset + 0.5). Works for windows shorter
    than one step (then it is the local value) as well as longer ones, with fractional edge weights.
    """
    n = values.shape[0]
    cum = np.zeros((n + 1, values.shape[1]), np.float64)
    np.cumsum(values, axis=0, out=cum[1:])
    # Integral up to x: piecewise linear through (k + centre_offset - 0.5, cum[k]); extrapolate flat at the ends.
    pos = np.clip(edges - (centre_offset - 0.5), 0.0, float(n))
    k = np.minimum(np.floor(pos).astype(np.int64), n - 1)
    frac = (pos - k)[:, None]
    integral = cum[k] + frac * (cum[k + 1] - cum[k])
    width = np.maximum(np.diff(pos), 1e-9)[:, None]
    out = np.diff(integral, axis=0) / width
    # A window fully outside the data (cannot happen with our padding, kept for safety) takes the nearest value.
    empty = np.diff(pos) <= 0
    if empty.any():
        out[empty] = values[np.minimum(k[:-1][empty], n - 1)]
    return out


def _window_max(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Max of fine-frame values whose centres (at integer positions) fall in [edges[i], edges[i+1]).

    A window that holds no centre (fps above the fine rate) takes the nearest fine frame.
    """
    n = values.shape[0]
    # Window i starts at the first centre >= edges[i]; windows are contiguous, so reduceat over the starts gives the
    # max of each window, and the element at the start where a window is empty (the nearest following frame).
    lo = np.clip(np.ceil(edges[:-1] - 1e-9).astype(np.int64), 0, n - 1)
    out = np.maximum.reduceat(values, lo)
    return out


def num_video_frames(duration_s: float, fps: float) -> int:
    """round(duration_s * fps): the number of video frames a clip of that length gets."""
    return int(round(duration_s * fps))


def compute_audio_features(waveform: Any, sample_rate: int, fps: float, n_mels: int = N_MELS) -> AudioFeatures:
    """Frame-aligned features of a speech clip.

    waveform: numpy array or torch tensor [T], [C,T] or [B,C,T] (ComfyUI AUDIO layout), float in -1..1 or int PCM,
        any channel count (downmixed by averaging). With B > 1 only the first clip is used (logged).
    sample_rate: of `waveform`, in Hz (any, e.g. 8000..96000).
    fps: video frame rate of the output rows.
    Returns AudioFeatures with F == round(duration * fps) rows: log-mel [n_mels], loudness, onset.
    Raises ValueError for empty or non-finite audio, a bad rate or fps, or a clip too short for one frame.
    """
    import librosa

    if not (isinstance(sample_rate, (int, np.integer)) or float(sample_rate).is_integer()) or sample_rate <= 0:
        raise ValueError(f"audio sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
    sample_rate = int(sample_rate)
    if not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number of frames per second, got {fps!r}")
    if n_mels < 1:
        raise ValueError(f"n_mels must be at least 1, got {n_mels}")
    mono = _to_mono(waveform)
    duration_s = mono.shape[0] / sample_rate
    num_frames = num_video_frames(duration_s, fps)
    if num_frames < 1:
        raise ValueError(
            f"audio is {duration_s * 1000:.1f} ms long, shorter than one video frame at {fps:g} fps; "
            f"use a clip of at least {1000 / fps:.0f} ms"
        )
    peak = float(np.abs(mono).max())
    if peak > 1.0 + 1e-3:
        logger.warning("audio peaks at %.3g (above 1.0): it may be unnormalised integer PCM; loudness saturates", peak)

    y = _resample(mono, sample_rate).astype(np.float32)
    edges_s = _frame_edges(num_frames, fps, 1.0)  # seconds

    # Loudness: exact mean square over each video frame's samples (cumulative sum), then dB relative to the clip.
    sq = np.zeros(y.shape[0] + 1, np.float64)
    np.cumsum(y.astype(np.float64) ** 2, out=sq[1:])
    bounds = np.clip(np.round(edges_s * ANALYSIS_RATE).astype(np.int64), 0, y.shape[0])
    counts = np.maximum(np.diff(bounds), 1)
    ms = np.diff(sq[bounds]) / counts
    short = np.diff(bounds) == 0  # a frame shorter than one sample cannot happen below 16 kHz fps; kept for safety
    if short.any():
        ms[short] = (y[np.minimum(bounds[:-1][short], y.shape[0] - 1)].astype(np.float64)) ** 2
    db = 10.0 * np.log10(np.maximum(ms, 1e-12))
    ref = max(float(np.percentile(db, 99)), _LOUDNESS_REF_FLOOR_DB)
    relative = np.clip(1.0 + (db - ref) / _LOUDNESS_RANGE_DB, 0.0, 1.0)
    absolute = np.clip((db - _ABS_SILENCE_DB) / (_ABS_FULL_DB - _ABS_SILENCE_DB), 0.0, 1.0)
    loudness = np.minimum(relative, absolute)

    # Mel power at the fine 100 Hz grid: fine frame j is centred at j * 10 ms (center=True, zero padded).
    spec = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, win_length=WIN, center=True, pad_mode="constant")) ** 2
    mel_basis = librosa.filters.mel(sr=ANALYSIS_RATE, n_fft=N_FFT, n_mels=n_mels, fmin=FMIN, fmax=FMAX)
    mel_fine = (mel_basis @ spec).T.astype(np.float64)  # [N, n_mels]
    edges_fine = edges_s * (ANALYSIS_RATE / HOP)
    # Average power (not log) over the frame span: the energy the frame heard; then the fixed log scaling.
    mel = _box_average(mel_fine, edges_fine, centre_offset=0.0)
    log_mel = (np.log10(np.maximum(mel, _MEL_FLOOR)) + 4.0) / 4.0

    # Onset strength: librosa's spectral flux on the dB mel, floored so dither and hiss do not count.
    s_db = 10.0 * np.log10(np.maximum(mel_fine.T, 1e-10))
    s_db = np.maximum(s_db, max(float(s_db.max()) - _DB_DYNAMIC_RANGE, _DB_ABS_FLOOR))
    # center=False: our frames are already centred; librosa's centring shift assumes its own 2048-point default.
    flux = librosa.onset.onset_strength(S=s_db, sr=ANALYSIS_RATE, hop_length=HOP, lag=1, max_size=1, center=False)
    # Peaks must survive the 100 Hz -> fps reduction, so take the window max rather than the mean.
    onset_frames = _window_max(flux.astype(np.float64), edges_fine)
    norm = max(float(np.percentile(onset_frames, 99)), _ONSET_MIN_NORM)
    onset = np.clip(onset_frames / norm, 0.0, 1.0)

    features = np.concatenate([log_mel, loudness[:, None], onset[:, None]], axis=1).astype(np.float32)
    names = ("mel",) * n_mels + ("loudness", "onset")
    return AudioFeatures(features=features, fps=float(fps), sample_rate=ANALYSIS_RATE, names=names,
                         duration_s=float(duration_s), audio=None)
