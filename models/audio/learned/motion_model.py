"""VLOGGER stage-1 audio-to-motion network: a causal transformer over time that predicts x0 of pose residuals.

VLOGGER (arXiv 2403.08764, stage 1) maps audio to per-frame residuals of the body pose and the face expression
relative to the reference, using 4 temporal attention layers with a causal mask, positional encodings and MLP
embeddings of the audio and the diffusion step, trained to predict x0. Embody keeps that shape but works on 2D
COCO-WholeBody keypoints: the motion vector of one frame is the (dx, dy) residual of all 133 keypoints relative to
the reference pose, in units of the reference person's size, divided by a per-coordinate data std (``motion_std``),
so a model trained on one set of people can animate any reference image.

Parts (VLOGGER separates expression from body): the face (68 points), the body (body + feet, 23 points) and the
hands (42 points) each get their own output head, and per-part loss weights live in the config.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
from torch import nn

from ...pose.layout import NUM_KEYPOINTS, part_index

LAYOUT_NAME = "coco_wholebody_133"
CONFIG_VERSION = 1


@dataclass
class MotionModelConfig:
    """Everything needed to rebuild a motion model; saved as JSON beside the weights.

    Sizes: ``feature_dim`` audio features per frame (82 = 80 log-mel + loudness + onset); ``d_model`` token width.
    Time: ``window`` frames per training clip and per sampling window; ``overlap`` frames a new window inherits from
    the previous one (temporal outpainting); ``fps`` the frame rate the model was trained at.
    Residuals: ``reference`` is how training picks the rest pose of a clip ("median" of the video, or "first").
    Diffusion: ``train_steps`` T of the cosine schedule; ``cond_drop`` probability of dropping the audio in
    training (classifier-free guidance); ``known_prob`` probability of training with a known prefix of 1..overlap
    frames (what temporal outpainting asks for at sampling time).
    Loss weights per part: ``x0_weight`` for the x0 loss, ``temporal_weight`` for the temporal loss.
    ``temporal_loss``: "smooth" is VLOGGER's ||x0_hat[i+1] - x0_hat[i]||^2; "velocity" (default) matches the predicted
    frame-to-frame change to the data's, which damps jitter without shrinking real motion.
    """

    feature_dim: int = 82
    feature_names: list[str] = field(default_factory=list)
    num_keypoints: int = NUM_KEYPOINTS
    layout: str = LAYOUT_NAME
    d_model: int = 128
    num_layers: int = 4
    num_heads: int = 4
    ff_mult: int = 2
    dropout: float = 0.1
    audio_context: int = 2
    window: int = 50
    overlap: int = 25
    max_frames: int = 4096
    fps: float = 25.0
    reference: str = "median"
    train_steps: int = 1000
    cond_drop: float = 0.1
    known_prob: float = 0.5
    temporal_loss: str = "velocity"
    x0_weight: dict[str, float] = field(default_factory=lambda: {"face": 1.0, "body": 1.0, "hands": 1.0})
    temporal_weight: dict[str, float] = field(default_factory=lambda: {"face": 0.5, "body": 1.0, "hands": 1.0})
    version: int = CONFIG_VERSION

    def __post_init__(self) -> None:
        if self.num_keypoints != NUM_KEYPOINTS or self.layout != LAYOUT_NAME:
            raise ValueError(
                f"motion model keypoint layout {self.layout!r} with {self.num_keypoints} points is not supported; "
                f"Embody motion models use {LAYOUT_NAME!r} with {NUM_KEYPOINTS} points. Retrain the model with Embody."
            )
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})")
        if not 0 <= self.overlap < self.window:
            raise ValueError(f"overlap ({self.overlap}) must be in 0..window-1 (window {self.window}): each window "
                             "inherits `overlap` frames from the one before it, so lower overlap or raise window")
        if self.temporal_loss not in ("velocity", "smooth"):
            raise ValueError(f"temporal_loss must be 'velocity' or 'smooth', got {self.temporal_loss!r}")
        if self.reference not in ("median", "first"):
            raise ValueError(f"reference must be 'median' or 'first', got {self.reference!r}")
        for name in ("x0_weight", "temporal_weight"):
            weights = getattr(self, name)
            missing = {"face", "body", "hands"} - set(weights)
            if missing:
                raise ValueError(f"{name} needs a weight for each part; missing {sorted(missing)}")

    @property
    def motion_dim(self) -> int:
        return self.num_keypoints * 2

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MotionModelConfig:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("motion model config must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"motion model config has unknown fields {sorted(unknown)} (made by a newer Embody?)")
        return cls(**data)


def part_coordinate_index(part: str) -> np.ndarray:
    """Indices into the motion vector [133*2] (x, y interleaved per keypoint) of one part."""
    kp = part_index(part)
    return np.stack([kp * 2, kp * 2 + 1], axis=1).reshape(-1)


def sinusoidal_encoding(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer sine/cosine encoding (Vaswani et al. 2017). positions [...] float -> [..., dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    angles = positions.float()[..., None] * freqs
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def audio_windows(features: torch.Tensor, context: int) -> torch.Tensor:
    """Stack each frame's features with ``context`` neighbours each side (edge-padded): [B, F, D] -> [B, F, D*(2c+1)].

    Lips move slightly before the sound is heard, so the audio embedding sees a little of the future; the causal
    mask applies to motion tokens, as in VLOGGER.
    """
    if context == 0:
        return features
    padded = torch.cat(
        [features[:, :1].expand(-1, context, -1), features, features[:, -1:].expand(-1, context, -1)], dim=1
    )
    frames = features.shape[1]
    return torch.cat([padded[:, i : i + frames] for i in range(2 * context + 1)], dim=-1)


class MotionTransformer(nn.Module):
    """x0-predicting denoiser.

    forward(x_t [B, F, 266], t [B] int diffusion steps, audio [B, F, D], audio_keep [B] bool (False = classifier-free
    "no audio"), known [B, F] bool (frames whose clean value is given in x_t, temporal outpainting)) -> x0 [B, F, 266].
    """

    # Declared for type checkers: nn.Module's __getattr__ would type these as ``Tensor | Module``.
    motion_std: torch.Tensor  # buffer registered in __init__
    training_info: dict  # set by checkpoint.load_motion_model (the file's training metadata)

    def __init__(self, config: MotionModelConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        audio_in = config.feature_dim * (2 * config.audio_context + 1)
        self.audio_mlp = nn.Sequential(nn.Linear(audio_in, d), nn.SiLU(), nn.Linear(d, d))
        self.null_audio = nn.Parameter(torch.zeros(d))
        self.motion_in = nn.Linear(config.motion_dim + 1, d)
        self.step_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        layer = nn.TransformerEncoderLayer(
            d, config.num_heads, d * config.ff_mult, config.dropout, activation="gelu", batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.out_norm = nn.LayerNorm(d)
        self.heads = nn.ModuleDict()
        for part in ("face", "body", "hands"):
            idx = torch.from_numpy(part_coordinate_index(part))
            self.register_buffer(f"index_{part}", idx, persistent=False)
            self.heads[part] = nn.Linear(d, len(idx))
        # Data std of the normalised residuals per coordinate; set by the trainer, saved with the weights.
        self.register_buffer("motion_std", torch.ones(config.motion_dim))

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio tokens [B, F, d_model] of audio features [B, F, D] (context stacking + MLP).

        They do not depend on the diffusion step, so a sampler computes them once per window and passes them to
        every step's ``forward`` (``audio_embedding``) instead of recomputing them for every pass.
        """
        return self.audio_mlp(audio_windows(audio, self.config.audio_context))

    def fused_heads(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The three part heads as one linear map (weight [266, d_model], bias [266]) whose rows are already in
        motion-vector order, so inference runs one matmul instead of three matmuls and three scatters.

        A copy (no gradient): build it once per sampling call, after the weights are final.
        """
        heads: dict[str, nn.Linear] = {part: head for part, head in self.heads.items()
                                       if isinstance(head, nn.Linear)}
        with torch.no_grad():
            ref = heads["face"].weight
            weight = ref.new_zeros(self.config.motion_dim, self.config.d_model)
            bias = ref.new_zeros(self.config.motion_dim)
            for part, head in heads.items():
                index = getattr(self, f"index_{part}")
                weight[index] = head.weight
                bias[index] = head.bias
        return weight, bias

    def forward(
        self, x_t: torch.Tensor, t: torch.Tensor, audio: torch.Tensor | None, audio_keep: torch.Tensor,
        known: torch.Tensor, audio_embedding: torch.Tensor | None = None,
        heads: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """audio_embedding: [B, F, d_model] from :meth:`embed_audio` (then ``audio`` is not used and may be None);
        rows whose ``audio_keep`` is False are replaced by the learned null token either way.
        heads: :meth:`fused_heads` for inference (same numbers, fewer ops); None = the per-part heads (training)."""
        batch, frames, _ = x_t.shape
        if frames > self.config.max_frames:
            raise ValueError(f"{frames} frames exceed the model's max_frames ({self.config.max_frames}); use windows")
        d = self.config.d_model
        if audio_embedding is not None:
            a = audio_embedding
        elif audio is not None:
            a = self.embed_audio(audio)
        else:
            raise ValueError("the motion model needs either audio features or their embedding")
        a = torch.where(audio_keep[:, None, None], a, self.null_audio.to(a.dtype))
        h = self.motion_in(torch.cat([x_t, known[..., None].to(x_t.dtype)], dim=-1)) + a
        pos = sinusoidal_encoding(torch.arange(frames, device=x_t.device), d).to(h.dtype)
        step = self.step_mlp(sinusoidal_encoding(t, d).to(h.dtype))
        h = h + pos[None] + step[:, None]
        causal = torch.triu(torch.full((frames, frames), float("-inf"), device=x_t.device), diagonal=1)
        h = self.out_norm(self.encoder(h, mask=causal.to(h.dtype)))
        if heads is not None:
            return nn.functional.linear(h, heads[0], heads[1])
        out = x_t.new_zeros(batch, frames, self.config.motion_dim)
        for part, head in self.heads.items():
            out[..., getattr(self, f"index_{part}")] = head(h)
        return out
