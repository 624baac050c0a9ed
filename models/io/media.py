"""Reading audio and writing videos with PyAV (already in ComfyUI's environment), for the demo and the trainer CLI."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode an audio file (or a video's audio track) to float32 [C, T] in -1..1 and its sample rate (Hz)."""
    import av

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise ValueError(f"{path} has no audio track; pick a file with sound")
            stream = container.streams.audio[0]
            chunks = [frame.to_ndarray() for frame in container.decode(stream)]
            rate = int(stream.codec_context.sample_rate)
            layout_channels = stream.codec_context.channels
    except av.error.FFmpegError as exc:
        raise ValueError(f"could not decode the audio in {path}: {exc}") from exc
    if not chunks:
        raise ValueError(f"{path} holds an empty audio track")
    pcm = np.concatenate([_planar(c, layout_channels) for c in chunks], axis=1)
    if np.issubdtype(pcm.dtype, np.integer):
        pcm = pcm.astype(np.float32) / float(np.iinfo(pcm.dtype).max)
    return pcm.astype(np.float32), rate


def _planar(chunk: np.ndarray, channels: int) -> np.ndarray:
    # PyAV gives planar formats as [C, n] and packed ones as [1, n*C] (interleaved).
    if chunk.shape[0] == channels:
        return chunk
    return chunk.reshape(-1, channels).T


def write_video(path: str | Path, frames: np.ndarray, fps: float,
                audio: np.ndarray | None = None, sample_rate: int | None = None, crf: int = 18,
                fit_audio: bool = True) -> Path:
    """Write uint8 RGB frames [F, H, W, 3] as H.264 MP4, with an optional AAC track from float audio [C, T].

    Odd frame sizes are padded by one black pixel (H.264 with yuv420p needs even sides). With fit_audio the audio is
    trimmed or padded with silence to the video's duration so players see equal lengths; without, it is kept as is.
    """
    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [F, H, W, 3], got {frames.dtype} {frames.shape}")
    if len(frames) == 0:
        raise ValueError("no frames to write")
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(str(path), mode="w") as container:
        vstream = container.add_stream("libx264", rate=rate)
        vstream.width, vstream.height = frames.shape[2], frames.shape[1]
        vstream.pix_fmt = "yuv420p"
        vstream.options = {"crf": str(crf)}
        astream = None
        if audio is not None:
            if sample_rate is None:
                raise ValueError("sample_rate is needed with audio")
            audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))[:2]
            if fit_audio:
                wanted = int(round(len(frames) / float(rate) * sample_rate))
                audio = np.pad(audio[:, :wanted], ((0, 0), (0, max(0, wanted - audio.shape[1]))))
            astream = container.add_stream("aac", rate=sample_rate)
            astream.layout = "stereo" if audio.shape[0] == 2 else "mono"
        for image in frames:
            for packet in vstream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
        if astream is not None and audio is not None:
            assert sample_rate is not None  # checked above, where astream was created
            block = 1024
            for start in range(0, audio.shape[1], block):
                chunk = np.ascontiguousarray(audio[:, start:start + block])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=astream.layout.name)
                frame.sample_rate = sample_rate
                frame.pts = start
                for packet in astream.encode(frame):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    logger.info("wrote %s (%d frames at %.3g fps%s)", path, len(frames), float(rate), ", with audio" if astream else "")
    return path
