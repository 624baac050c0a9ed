"""Audio nodes: frame-aligned audio features and the procedural (non-learned) rhythm motion driver."""

from __future__ import annotations

import dataclasses
import logging

import comfy.model_management
import comfy.utils

from ..models.audio.features import compute_audio_features
from ..models.audio.procedural.rhythm import rhythm_motion
from ._api import CATEGORY, EmbodyPose, io
from ._api import EmbodyAudioFeatures as AudioFeaturesType  # the node below has the same name

logger = logging.getLogger(__name__)


class EmbodyAudioFeatures(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyAudioFeatures",
            display_name="Embody Audio Features",
            category=f"{CATEGORY}/audio",
            description="Turns speech audio into one row of features per video frame (80-band log-mel, loudness, "
            "onset strength) for the audio-driven motion nodes. Any sample rate and channel count works (downmixed "
            "and analysed at 16 kHz); the clip gives exactly round(duration x fps) frames. With a batch of several "
            "clips only the first is used.",
            inputs=[
                io.Audio.Input("audio", tooltip="The speech to follow (e.g. from Load Audio)."),
                io.Float.Input("fps", default=25.0, min=1.0, max=240.0, step=0.01,
                               tooltip="Frame rate of the video you will make; set the same value on Create Video."),
            ],
            outputs=[
                AudioFeaturesType.Output(display_name="features",
                                         tooltip="Per-frame audio features plus the source audio."),
                io.Int.Output(display_name="frames", tooltip="Number of video frames the audio covers."),
            ],
        )

    @classmethod
    def execute(cls, audio, fps) -> io.NodeOutput:
        if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
            raise ValueError("audio must be a ComfyUI AUDIO ({'waveform': [B,C,T], 'sample_rate': int}); "
                             "connect a Load Audio node")
        comfy.model_management.throw_exception_if_processing_interrupted()
        features = compute_audio_features(audio["waveform"], int(audio["sample_rate"]), float(fps))
        features = dataclasses.replace(features, audio=audio)
        return io.NodeOutput(features, features.num_frames)


class EmbodyRhythmMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyRhythmMotion",
            display_name="Embody Rhythm Motion (procedural)",
            category=f"{CATEGORY}/audio",
            description="Procedural talking-body motion, no learned model and no weights: the mouth opens with "
            "loudness, the head nods and the hands make beat gestures on syllable onsets (spring-damper shaped), "
            "the body breathes and sways, and long pauses return to the rest pose. The body stays inside a "
            "movement box around the chest (CyberHost's body movement map). Starts from the reference pose.",
            inputs=[
                EmbodyPose.Input("reference", tooltip="Pose of the reference image (first frame is used), e.g. from "
                                 "Embody Pose Extract."),
                AudioFeaturesType.Input("features", tooltip="From Embody Audio Features; sets length and fps."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Variation of breathing, sway and which hand gestures; same seed, same motion."),
                io.Float.Input("intensity", default=1.0, min=0.0, max=3.0, step=0.05,
                               tooltip="Overall amount of movement (0 = still reference pose)."),
                io.Float.Input("gesture_amount", default=1.0, min=0.0, max=3.0, step=0.05,
                               tooltip="How much the forearms lift and beat with the speech."),
                io.Float.Input("nod_amount", default=1.0, min=0.0, max=3.0, step=0.05,
                               tooltip="How strongly the head nods on stressed syllables."),
                io.Float.Input("box_enlarge", default=1.25, min=0.0, max=3.0, step=0.05,
                               tooltip="Movement box = chest box enlarged by this fraction (1.25 = +125%). "
                               "Bigger lets the body sway further; 0 keeps the chest in place."),
                io.Int.Input("person", default=0, min=0, max=63, optional=True,
                             tooltip="Which person slot of the reference to animate (0 = the first)."),
            ],
            outputs=[EmbodyPose.Output(display_name="pose",
                                       tooltip="One pose per video frame (procedural driver, marked in its meta).")],
        )

    @classmethod
    def execute(cls, reference, features, seed, intensity, gesture_amount, nod_amount, box_enlarge,
                person=0) -> io.NodeOutput:
        comfy.model_management.throw_exception_if_processing_interrupted()
        pbar = comfy.utils.ProgressBar(1)
        pose = rhythm_motion(reference, features, seed=int(seed), intensity=float(intensity), person=int(person),
                             gesture_amount=float(gesture_amount), nod_amount=float(nod_amount),
                             box_enlarge=float(box_enlarge))
        pbar.update(1)
        return io.NodeOutput(pose)


NODES = [EmbodyAudioFeatures, EmbodyRhythmMotion]
