"""The fusion schedule node: how Embody Sampler blends overlapping windows (thin glue over models/video/fusion.py)."""

from __future__ import annotations

from ..models.video.fusion import NOISE_MODES, TAIL_MODES, WEIGHTINGS, FusionSchedule
from ._api import CATEGORY, EmbodyFusion, io


class EmbodyFusionSchedule(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyFusionSchedule",
            display_name="Embody Fusion Schedule",
            category=f"{CATEGORY}/video",
            description="How Embody Sampler renders videos longer than the model's window: overlapping windows "
            "whose predictions are blended at every step (MimicMotion's progressive latent fusion). Defaults are "
            "the official ones; leave window at 0 to use the model's own (72 frames for 1.1, 16 for 1.0).",
            inputs=[
                io.Int.Input("window", default=0, min=0, max=256, tooltip="Frames per window, counting the "
                             "reference frame. 0 = the model's default (1.1: 72, 1.0: 16). MimicMotion 1.1 gives "
                             "artifacts with other window sizes."),
                io.Int.Input("overlap", default=-1, min=-1, max=255, tooltip="Frames shared by consecutive "
                             "windows (including the reference frame). -1 = the model's default (1.1: 6, 1.0: 4). "
                             "More overlap = smoother seams, more windows."),
                io.Combo.Input("weighting", options=list(WEIGHTINGS), default="triangular", tooltip="Blend weight "
                               "by position in a window. triangular = official; pyramid = AnimateDiff's; "
                               "overlap-linear = full weight except ramps over the shared frames; flat = plain mean; "
                               "gaussian = bell curve."),
                io.Combo.Input("noise", options=list(NOISE_MODES), default="repeated", tooltip="Starting noise. "
                               "repeated = official (the first window's noise tiled over the video); freenoise = "
                               "shuffled copies of earlier noise (FreeNoise); independent = fresh noise per frame."),
                io.Boolean.Input("anchor_reference", default=True, tooltip="Put frame 0 (the reference pose) in "
                                 "every window, as the official pipeline does. Keeps identity and colours stable."),
                io.Combo.Input("tail", options=list(TAIL_MODES), default="official", tooltip="Last window when "
                               "the frames do not divide evenly. official = a full window aligned to the end (may "
                               "redo almost a whole window for a few frames); shrink = a shorter last window that "
                               "costs only what it adds."),
            ],
            outputs=[EmbodyFusion.Output(display_name="fusion", tooltip="The fusion schedule for Embody Sampler.")],
        )

    @classmethod
    def execute(cls, window, overlap, weighting, noise, anchor_reference, tail) -> io.NodeOutput:
        fusion = FusionSchedule(window, overlap, weighting, noise, anchor_reference, tail)
        fusion.resolved("1.1")  # validate now, with a clear error, rather than at sampling time
        return io.NodeOutput(fusion)


NODES = [EmbodyFusionSchedule]
