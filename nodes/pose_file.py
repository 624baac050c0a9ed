"""Pose files: save a pose sequence to ComfyUI's output folder and load one from input/ (or output/) again."""

from __future__ import annotations

import logging
import os

from ..models.io.pose_file import EXTENSION, load_pose_file, safe_file, save_pose_file
from ._api import CATEGORY, EmbodyPose, io, pose_ui


def _folders() -> tuple[str, str]:
    """ComfyUI's (input, output) folders."""
    import folder_paths

    return folder_paths.get_input_directory(), folder_paths.get_output_directory()

logger = logging.getLogger(__name__)

OUTPUT_TAG = " [output]"


def _pose_files() -> list[str]:
    """Pose files in input/ (plain names) and output/ (names ending in ' [output]'), sub-folders included."""
    names: list[str] = []
    input_dir, output_dir = _folders()
    for base, tag in ((input_dir, ""), (output_dir, OUTPUT_TAG)):
        if not os.path.isdir(base):
            continue
        for root, _dirs, files in os.walk(base, followlinks=False):
            for f in files:
                if f.lower().endswith(EXTENSION):
                    rel = os.path.relpath(os.path.join(root, f), base).replace(os.sep, "/")
                    names.append(rel + tag)
    return sorted(names)


def _resolve(name: str) -> str:
    if name.endswith(OUTPUT_TAG):
        return str(safe_file(_folders()[1], name[: -len(OUTPUT_TAG)], input_name="file"))
    return str(safe_file(_folders()[0], name, input_name="file"))


class EmbodyPoseSave(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyPoseSave",
            display_name="Embody Pose Save",
            category=f"{CATEGORY}/pose",
            description="Saves a pose sequence to ComfyUI's output folder as a compressed .npz file (keypoints, "
            "canvas, fps, hand clarity; format in the README), so a slow extraction runs once and the pose can be "
            "shared or edited elsewhere. Load it again with Embody Pose Load (it lists output files with "
            "'[output]'; copy the file to input/ to share it).",
            inputs=[
                EmbodyPose.Input("pose", tooltip="The pose sequence to save."),
                io.String.Input("filename", default="embody/pose",
                                tooltip="File name inside the output folder (sub-folders allowed, '.npz' added). "
                                "An existing file of that name is replaced. Names cannot leave the output folder."),
            ],
            outputs=[io.String.Output(display_name="file", tooltip="The saved file's name, as Embody Pose Load "
                                      "lists it.")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, pose, filename) -> io.NodeOutput:
        base = _folders()[1]
        path = save_pose_file(pose, safe_file(base, filename))
        rel = os.path.relpath(path, base).replace(os.sep, "/")
        logger.info("Embody: saved %d pose frames to %s", pose.num_frames, path)
        return io.NodeOutput(rel + OUTPUT_TAG, ui=pose_ui(pose))


class EmbodyPoseLoad(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        files = _pose_files()
        return io.Schema(
            node_id="EmbodyPoseLoad",
            display_name="Embody Pose Load",
            category=f"{CATEGORY}/pose",
            description="Loads a pose sequence saved by Embody Pose Save (a .npz file in ComfyUI's input folder, or "
            "in output/ marked '[output]'). The file is checked and a bad one is reported with what is wrong. "
            "Also outputs the pose's fps and frame count, to drive audio and video nodes from one source.",
            inputs=[
                io.Combo.Input("file", options=files, default=files[0] if files else None,
                               tooltip="A .npz pose file in input/ (or output/, marked '[output]'). Refresh the "
                               "node list (R) after saving a new one."),
            ],
            outputs=[
                EmbodyPose.Output(display_name="pose", tooltip="The saved pose sequence."),
                io.Float.Output(display_name="fps", tooltip="Frames per second stored with the pose."),
                io.Int.Output(display_name="frames", tooltip="Number of frames in the pose."),
            ],
        )

    @classmethod
    def fingerprint_inputs(cls, file):
        try:
            st = os.stat(_resolve(file))
        except (OSError, ValueError):
            return file
        return f"{file}:{st.st_mtime_ns}:{st.st_size}"

    @classmethod
    def execute(cls, file) -> io.NodeOutput:
        if not file:
            raise ValueError("Embody Pose Load: no pose file chosen. Save one with Embody Pose Save (or put a .npz "
                             "pose file into ComfyUI's input folder), then refresh the node list.")
        pose = load_pose_file(_resolve(file))
        return io.NodeOutput(pose, pose.fps, pose.num_frames, ui=pose_ui(pose))


NODES = [EmbodyPoseSave, EmbodyPoseLoad]
