"""Integration: the pack inside a real ComfyUI server (skips unless COMFYUI_DIR and COMFY_PY are set).

Checks that the pack imports without error, that every Embody node is listed in /object_info with the inputs and
outputs recorded in tests/data/node_contract.json (node ids and sockets are frozen once released), that every input
has a tooltip and every node a description, and runs each API-format workflow in tests/workflows/ to success with tiny
random-initialised models written in the official file layouts.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.integration.comfy_server import PACK_DIR, ComfyServer

pytestmark = pytest.mark.integration

if not (os.environ.get("COMFYUI_DIR") and os.environ.get("COMFY_PY")):
    pytest.skip("set COMFYUI_DIR and COMFY_PY to run the ComfyUI integration tests", allow_module_level=True)

WORKFLOWS = sorted((PACK_DIR / "tests" / "workflows").glob("*_api.json"))
CONTRACT = PACK_DIR / "tests" / "data" / "node_contract.json"


def _write_inputs(server: ComfyServer) -> None:
    from PIL import Image
    from skimage import data

    from models.io.media import write_video

    Image.fromarray(data.astronaut()).save(server.input / "example.png")
    shutil.copy(PACK_DIR / "tests" / "data" / "speech.wav", server.input / "speech.wav")
    frames = np.repeat(data.astronaut()[None, ::4, ::4], 6, axis=0)  # 6 frames of 128x128
    write_video(server.input / "driving.mp4", frames, 12.0)
    # A strip wider than the canvas bound (8192) but only 16 pixels high: cheap to load, too wide to draw.
    Image.fromarray(np.zeros((16, 8200, 3), np.uint8)).save(server.input / "too_wide.png")


def _write_models(server: ComfyServer) -> None:
    from tests.helpers.tiny_dwpose import write_tiny_dwpose
    from tests.helpers.tiny_mimicmotion import write_tiny_mimicmotion
    from tests.helpers.tiny_motion import write_tiny_motion_model

    write_tiny_dwpose(server.models / "dwpose")
    write_tiny_mimicmotion(server.models)
    # An SVD folder linked in from elsewhere (as from another drive): listed like a real one.
    (server.models / "diffusers" / "linked-svd").symlink_to(server.models / "diffusers" / "tiny-svd",
                                                            target_is_directory=True)
    write_tiny_motion_model(server.models / "embody" / "motion")
    _write_codebooks(server)


def _write_codebooks(server: ComfyServer) -> None:
    """Region codebooks for the tiny UNet: untrained, 'trained' (random output layers), and one for another UNet."""
    from diffusers import UNetSpatioTemporalConditionModel

    from tests.helpers.tiny_codebook import write_tiny_codebook
    from tests.helpers.tiny_mimicmotion import tiny_components, tiny_unet_config

    unet = tiny_components(seed=0).unet
    write_tiny_codebook(str(server.models), unet)
    write_tiny_codebook(str(server.models), unet, name="tiny_codebook_trained", trained=True)
    other = dict(tiny_unet_config(), block_out_channels=(64, 128))
    write_tiny_codebook(str(server.models), UNetSpatioTemporalConditionModel(**other), name="tiny_codebook_other_unet")
    folder = server.models / "embody" / "codebook"  # the trainer's side files, which are not codebooks
    _write_lora_beside(unet, folder, "tiny_codebook_lora")
    for side in ("tiny_codebook.state.safetensors", "gone.lora.safetensors"):
        shutil.copy(folder / "tiny_codebook.safetensors", folder / side)


def _write_lora_beside(unet, folder: Path, name: str) -> None:
    """An untrained codebook with a non-zero peft LoRA beside it (X.lora.safetensors, as the trainer writes it): the
    codebook alone changes nothing, so any change in the latents comes from the LoRA the sampler applied."""
    import safetensors.torch
    import torch

    from models.video.region.lora import LORA_TARGETS, lora_adapter, lora_path_for, lora_state
    from tests.helpers.tiny_codebook import write_tiny_codebook

    path = write_tiny_codebook(str(folder.parents[1]), unet, name=name)
    gen = torch.Generator().manual_seed(1)
    with lora_adapter(unet, 2, LORA_TARGETS) as params:
        for p in params:
            p.data.copy_(0.3 * torch.randn(p.shape, generator=gen))
        state = {k: v.clone().contiguous() for k, v in lora_state(unet).items()}
    safetensors.torch.save_file(state, lora_path_for(path), metadata={"lora_rank": "2",
                                                                       "targets": ",".join(LORA_TARGETS)})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("comfy")
    srv = ComfyServer(root, port=int(os.environ.get("EMBODY_TEST_PORT", "8231")))
    _write_models(srv)
    _write_inputs(srv)
    extra = srv.write_extra_paths({
        "dwpose": "dwpose", "mimicmotion": "mimicmotion", "diffusers": "diffusers",
        "checkpoints": "checkpoints", "embody_motion": "embody/motion", "embody_codebook": "embody/codebook",
    })
    srv.start(extra)
    try:
        yield srv
    finally:
        srv.stop()


def test_pack_loads_without_import_errors(server: ComfyServer) -> None:
    log = server.log()
    name = PACK_DIR.name
    bad = [line for line in log.splitlines()
           if name in line and ("IMPORT FAILED" in line or "Cannot import" in line or "comfy_entrypoint" in line)]
    assert not bad, "\n".join(bad)
    assert "Embody: the" not in log, "a feature family was disabled:\n" + log[-3000:]


def test_every_node_matches_the_contract(server: ComfyServer) -> None:
    info = server.get("/object_info")
    ours = {k: v for k, v in info.items() if k.startswith("Embody")}
    if os.environ.get("EMBODY_UPDATE_CONTRACT") == "1":  # deliberate node changes only
        CONTRACT.write_text(json.dumps(_contract(ours), indent=1, sort_keys=True) + "\n")
    contract = json.loads(CONTRACT.read_text())
    assert sorted(ours) == sorted(contract), "node ids changed: update tests/data/node_contract.json on purpose only"
    for node_id, spec in contract.items():
        node = ours[node_id]
        inputs = {**node["input"].get("required", {}), **node["input"].get("optional", {})}
        assert sorted(inputs) == sorted(spec["inputs"]), node_id
        for name, (kind, *rest) in inputs.items():
            kind = kind if isinstance(kind, str) else "COMBO"
            assert kind == spec["inputs"][name], f"{node_id}.{name} is {kind}, contract says {spec['inputs'][name]}"
            opts = rest[0] if rest else {}
            assert opts.get("tooltip"), f"{node_id}.{name} has no tooltip"
        assert list(node["output"]) == spec["outputs"], node_id
        assert node.get("description"), f"{node_id} has no description"
        assert node["category"].startswith("Embody"), node_id


def test_symlinked_svd_folder_is_listed(server: ComfyServer) -> None:
    """models/diffusers/linked-svd is a symlink to the tiny SVD folder: the loader offers and loads it."""
    info = server.get("/object_info/EmbodyVideoModelLoader")
    options = info["EmbodyVideoModelLoader"]["input"]["required"]["svd_base"][1]["options"]
    assert "[diffusers] linked-svd" in options, options
    hist = server.run_prompt(_decode_prompt("[diffusers] linked-svd", "EmptyLatentImage", 2, 2, True))
    assert hist["status"]["status_str"] == "success", hist["status"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.stem for w in WORKFLOWS])
def test_workflow_runs(server: ComfyServer, workflow: Path) -> None:
    prompt = json.loads(workflow.read_text())
    prompt = {k: v for k, v in prompt.items() if not k.startswith("_")}
    hist = server.run_prompt(prompt)
    status = hist.get("status", {})
    errors = [m for m in status.get("messages", []) if m[0] in ("execution_error", "execution_interrupted")]
    assert status.get("status_str") == "success", json.dumps(errors, indent=1)[:4000]
    assert hist.get("outputs"), "the workflow produced no outputs"
    images = [img for out in hist["outputs"].values() for img in out.get("images", [])]
    for img in images:
        path = server.output / img.get("subfolder", "") / img["filename"]
        if img.get("type") == "output":
            assert path.exists() and path.stat().st_size > 0, path


# The shipped examples (workflows/), with tiny stand-ins for the files users supply.
EXAMPLE_SUBSTITUTES = {
    "MimicMotion_1-1.pth": "tiny_mimicmotion.pth", "[diffusers] stable-video-diffusion-img2vid-xt-1-1":
    "[diffusers] tiny-svd", "reference.png": "example.png", "dance.mp4": "driving.mp4",
    "my_motion.safetensors": "tiny_motion.safetensors",
    "my_region_codebook.safetensors": "tiny_codebook_trained.safetensors",
}
EXAMPLE_OVERRIDES = {  # fewer steps and frames keep the CPU run short (precision "auto" picks fp32 on a CPU)
    "EmbodySampler": {"steps": 2}, "EmbodyAudioFeatures": {"fps": 5.0},
    "PrimitiveFloat": {"value": 5.0},  # talking_body's one fps source
}


def _example_graph(name: str) -> dict:
    import importlib.util

    spec = importlib.util.spec_from_file_location("example_graphs", PACK_DIR / "tests/browser/example_graphs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graph = module.EXAMPLES[name]()
    for node in graph.values():
        node.pop("_meta", None)
        inputs = node["inputs"]
        for key, value in inputs.items():
            if isinstance(value, str) and value in EXAMPLE_SUBSTITUTES:
                inputs[key] = EXAMPLE_SUBSTITUTES[value]
        # Never replace a link: a linked input (e.g. the fps every node takes from one source) stays linked.
        inputs.update({k: v for k, v in EXAMPLE_OVERRIDES.get(node["class_type"], {}).items()
                       if not isinstance(inputs.get(k), list)})
    return graph


# talking_body_regions runs in its API form (tests/workflows/talking_body_regions_api.json, reference at 128x128):
# at the example's 512x512 the tiny UNet + codebook take over 10 minutes on a loaded 2-core CPU.
@pytest.mark.parametrize("name", ["pose_and_hand_clarity", "talking_body", "pose_transfer"])
def test_shipped_example_runs(server: ComfyServer, name: str) -> None:
    hist = server.run_prompt(_example_graph(name))
    status = hist.get("status", {})
    errors = [m for m in status.get("messages", []) if m[0] == "execution_error"]
    assert status.get("status_str") == "success", json.dumps(errors, indent=1)[:4000]


def test_audio_to_motion_solver_reaches_the_sampler(server: ComfyServer) -> None:
    """The solver widget (issue 10) changes the motion: same seed and steps, ddim vs dpmpp_2m, different poses in
    the node's preview; and an unknown solver is refused by ComfyUI's validation, naming the input."""
    base = json.loads((PACK_DIR / "tests" / "workflows" / "talking_body_api.json").read_text())
    base = {k: v for k, v in base.items() if not k.startswith("_")}
    previews = {}
    for solver in ("ddim", "dpmpp_2m"):
        prompt = json.loads(json.dumps(base))
        prompt["9"]["inputs"].update(steps=4, solver=solver)
        prompt["8"]["inputs"]["filename_prefix"] = f"embody_test/solver_{solver}"
        hist = server.run_prompt(prompt)
        assert hist.get("status", {}).get("status_str") == "success", hist.get("status")
        previews[solver] = json.dumps(hist["outputs"]["9"]["embody_pose"], sort_keys=True)
    assert previews["ddim"] != previews["dpmpp_2m"], "the solver input did not reach the sampler"
    prompt = json.loads(json.dumps(base))
    prompt["9"]["inputs"]["solver"] = "euler"
    with pytest.raises(AssertionError, match="solver"):
        server.run_prompt(prompt)


def test_bad_input_gives_a_clear_error(server: ComfyServer) -> None:
    """A frame-count mismatch between images and poses must fail with a message naming the inputs."""
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
        "2": {"class_type": "RepeatImageBatch", "inputs": {"image": ["1", 0], "amount": 3}},
        "3": {"class_type": "EmbodyPoseExtract", "inputs": _extract_inputs(server, ["1", 0])},
        "4": {"class_type": "EmbodyHandClarity", "inputs": _clarity_inputs(server, ["2", 0], ["3", 0])},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 1]}},
        "90": DWPOSE_LOADER,
    }
    hist = server.run_prompt(prompt)
    status = hist.get("status", {})
    assert status.get("status_str") == "error"
    msgs = [m[1] for m in status.get("messages", []) if m[0] == "execution_error"]
    text = " ".join(str(m.get("exception_message", "")) for m in msgs).lower()
    assert "frame" in text and ("3" in text and "1" in text), text


def _region_graph(codebook: str) -> dict:
    prompt = json.loads((PACK_DIR / "tests" / "workflows" / "region_codebook_exact_api.json").read_text())
    prompt = {k: v for k, v in prompt.items() if not k.startswith("_")}
    prompt["10"]["inputs"]["codebook"] = codebook
    stem = Path(codebook).stem
    prompt["14"]["inputs"]["filename_prefix"] = f"embody_test/{stem}_off"
    prompt["15"]["inputs"]["filename_prefix"] = f"embody_test/{stem}_on"
    return prompt


def _decode_prompt(svd_base: str, empty_latent: str, batch: int, chunk: int, keep_reference: bool) -> dict:
    """Tiny video model -> an empty 64x64 latent batch of ComfyUI's node ``empty_latent`` -> Embody Decode."""
    return {
        "1": {"class_type": "EmbodyVideoModelLoader", "inputs": {
            "mimicmotion": "tiny_mimicmotion.pth", "svd_base": svd_base, "precision": "fp32",
            "version": "1.1", "pose_net": "(inside the MimicMotion file)"}},
        "2": {"class_type": empty_latent, "inputs": {"width": 64, "height": 64, "batch_size": batch}},
        "3": {"class_type": "EmbodyDecode", "inputs": {"video_model": ["1", 0], "latent": ["2", 0],
                                                       "chunk_size": chunk, "decode_on_cpu": False,
                                                       "keep_reference_frame": keep_reference}},
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
    }


def _saved_latents(server: ComfyServer, hist: dict, node: str):
    import safetensors.torch

    (item,) = hist["outputs"][node]["latents"]
    return safetensors.torch.load_file(str(server.output / item["subfolder"] / item["filename"]))["latent_tensor"]


@pytest.mark.parametrize("codebook", ["tiny_codebook.safetensors", "tiny_codebook_trained.safetensors",
                                      "tiny_codebook_lora.safetensors"])
def test_region_codebook_exactness_through_comfyui(server: ComfyServer, codebook: str) -> None:
    """fp32: an untrained codebook leaves the sampler's latents bit-identical; a trained one, or an untrained one
    with a LoRA beside it (applied through peft while the codebook is attached), changes them."""
    hist = server.run_prompt(_region_graph(codebook))
    status = hist.get("status", {})
    assert status.get("status_str") == "success", json.dumps(status.get("messages", []), indent=1)[:4000]
    off, on = _saved_latents(server, hist, "14"), _saved_latents(server, hist, "15")
    assert off.shape == on.shape and off.shape[0] == 5  # reference frame + 4 driving frames
    if codebook == "tiny_codebook.safetensors":
        assert bool((off == on).all()), float((off - on).abs().max())
    else:
        assert float((off - on).abs().max()) > 1e-3


def test_region_codebook_loader_lists_codebooks_not_side_files(server: ComfyServer) -> None:
    spec = server.get("/object_info")["EmbodyRegionCodebookLoader"]["input"]["required"]["codebook"]
    options = spec[0] if isinstance(spec[0], list) else spec[1]["options"]
    assert "tiny_codebook.safetensors" in options
    assert not [o for o in options if o.endswith((".state.safetensors", ".lora.safetensors"))], options


def test_region_codebook_for_another_unet_names_both(server: ComfyServer) -> None:
    hist = server.run_prompt(_region_graph("tiny_codebook_other_unet.safetensors"))
    status = hist.get("status", {})
    assert status.get("status_str") == "error"
    msgs = [m[1] for m in status.get("messages", []) if m[0] == "execution_error"]
    text = " ".join(str(m.get("exception_message", "")) for m in msgs)
    assert "tiny_codebook_other_unet.safetensors" in text and "[64, 128]" in text and "[32, 64]" in text, text


def _contract(ours: dict) -> dict:
    out = {}
    for node_id, node in ours.items():
        inputs = {**node["input"].get("required", {}), **node["input"].get("optional", {})}
        out[node_id] = {"inputs": {name: (spec[0] if isinstance(spec[0], str) else "COMBO")
                                   for name, spec in inputs.items()},
                        "outputs": list(node["output"])}
    return out


def _defaults(server: ComfyServer, node_id: str) -> dict:
    node = server.get("/object_info")[node_id]
    out = {}
    for name, (kind, *rest) in node["input"].get("required", {}).items():
        opts = rest[0] if rest else {}
        if isinstance(kind, list):
            out[name] = kind[0]
        elif "default" in opts:
            out[name] = opts["default"]
    return out


DWPOSE_LOADER = {"class_type": "EmbodyDWPoseLoader",
                 "inputs": {"detector": "yolox_l.onnx", "pose_model": "dw-ll_ucoco_384.onnx"}}


def _extract_inputs(server: ComfyServer, image: list, loader: str = "90") -> dict:
    """Pose Extract's default inputs on ``image``, fed by the prompt's DWPose loader node ``loader``."""
    d = _defaults(server, "EmbodyPoseExtract")
    d.update(image=image, pose_model=[loader, 0])
    return d


def _clarity_inputs(server: ComfyServer, image: list, pose: list) -> dict:
    d = _defaults(server, "EmbodyHandClarity")
    d.update(image=image, pose=pose)
    return d


def _run_then_interrupt(server: ComfyServer, prompt: dict, train_s: float, wait_s: float) -> dict:
    """Queue ``prompt``, let it run ``train_s`` seconds once the queue is busy, POST /interrupt, and return the
    prompt's history status (waiting up to ``wait_s`` for each phase)."""
    import time
    import urllib.request

    body = json.dumps({"prompt": prompt}).encode()
    req = urllib.request.Request(server.base + "/prompt", data=body, headers={"Content-Type": "application/json"})
    prompt_id = json.load(urllib.request.urlopen(req, timeout=60))["prompt_id"]
    deadline = time.time() + wait_s
    while time.time() < deadline and not server.get("/queue")["queue_running"]:
        time.sleep(0.2)
    time.sleep(train_s)  # let it train for a while
    urllib.request.urlopen(urllib.request.Request(server.base + "/interrupt", data=b"", method="POST"), timeout=30)
    hist: dict = {}
    while time.time() < deadline + wait_s:
        hist = server.get(f"/history/{prompt_id}")
        if prompt_id in hist:
            break
        time.sleep(0.5)
    return hist[prompt_id]["status"]


def test_interrupting_a_training_run_keeps_a_checkpoint_and_the_server_recovers(server: ComfyServer) -> None:
    """Interrupt mid-run: the run stops as interrupted, its last state is saved, and the next prompt works."""
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
        "2": {"class_type": "RepeatImageBatch", "inputs": {"image": ["1", 0], "amount": 90}},
        "3": {"class_type": "EmbodyPoseExtract", "inputs": _extract_inputs(server, ["2", 0])},
        "4": {"class_type": "LoadAudio", "inputs": {"audio": "speech.wav"}},
        "5": {"class_type": "EmbodyTrainMotionModel", "inputs": {
            **_defaults(server, "EmbodyTrainMotionModel"), "output_name": "interrupted_run", "pose": ["3", 0],
            "audio": ["4", 0], "steps": 1_000_000, "batch_size": 2, "window": 16, "overlap": 4, "d_model": 32,
            "layers": 1, "resume": False}},
        "6": {"class_type": "PreviewImage", "inputs": {"images": ["5", 1]}},
        "90": DWPOSE_LOADER,
    }
    status = _run_then_interrupt(server, prompt, train_s=8, wait_s=120)
    assert any(m[0] == "execution_interrupted" for m in status["messages"]), status
    saved = list((server.models / "embody" / "motion").glob("interrupted_run*"))
    interrupted = [m[1].get("node_type") for m in status["messages"] if m[0] == "execution_interrupted"]
    assert saved, f"an interrupted training run must leave its last checkpoint behind (interrupted in {interrupted})"
    after = server.run_prompt(json.loads((PACK_DIR / "tests" / "workflows" / "pose_api.json").read_text()))
    assert after["status"]["status_str"] == "success"


def test_pose_save_then_load_round_trips_and_sends_the_scrubber_preview(server: ComfyServer) -> None:
    """Extract -> Save writes output/<name>.npz; Load reads it back ('[output]'); both send the pose preview."""
    from models.io.pose_file import load_pose_file

    save = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
        "2": {"class_type": "RepeatImageBatch", "inputs": {"image": ["1", 0], "amount": 3}},
        "3": {"class_type": "EmbodyPoseExtract", "inputs": _extract_inputs(server, ["2", 0])},
        "4": {"class_type": "EmbodyPoseSave", "inputs": {"pose": ["3", 0], "filename": "poses/astronaut"}},
        "90": DWPOSE_LOADER,
    }
    hist = server.run_prompt(save)
    assert hist.get("status", {}).get("status_str") == "success", hist.get("status")
    saved = server.output / "poses" / "astronaut.npz"
    pose = load_pose_file(saved)
    assert pose.num_frames == 3
    preview = hist["outputs"]["3"]["embody_pose"][0]  # the extract node's scrubber data
    assert preview["frames"] == 3 and preview["canvas"] == list(pose.canvas)
    load = {
        "1": {"class_type": "EmbodyPoseLoad", "inputs": {"file": "poses/astronaut.npz [output]"}},
        "2": {"class_type": "EmbodyPoseRender", "inputs": {**_defaults(server, "EmbodyPoseRender"), "pose": ["1", 0]}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
    hist = server.run_prompt(load)
    assert hist.get("status", {}).get("status_str") == "success", hist.get("status")
    assert hist["outputs"]["1"]["embody_pose"][0]["kp"] == preview["kp"]
    escape = {"1": save["1"], "2": save["2"], "3": save["3"], "90": DWPOSE_LOADER,
              "4": {"class_type": "EmbodyPoseSave", "inputs": {"pose": ["3", 0], "filename": "../../escaped"}}}
    hist = server.run_prompt(escape)
    assert hist.get("status", {}).get("status_str") == "error"
    text = " ".join(str(m[1].get("exception_message", "")) for m in hist["status"]["messages"]
                    if m[0] == "execution_error")
    assert "outside its folder" in text, text
    assert not (server.output.parent.parent / "escaped.npz").exists()


def test_empty_dwpose_folder_mediapipe_graph_validates_and_dwpose_names_the_missing_file(server: ComfyServer) -> None:
    """With models/dwpose empty: a MediaPipe graph passes ComfyUI's validation (it runs, or says how to enable
    mediapipe), and a DWPose graph is rejected with the pack's message (file, folder, where to get it)."""
    folder = server.models / "dwpose"
    parked = server.root / "dwpose_parked"
    folder.rename(parked)
    folder.mkdir()
    try:
        mediapipe = {
            "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
            "2": {"class_type": "EmbodyMediaPipeLoader", "inputs": {"min_detection_confidence": 0.5}},
            "3": {"class_type": "EmbodyPoseExtract", "inputs": _extract_inputs(server, ["1", 0], loader="2")},
            "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 1]}},
        }
        hist = server.run_prompt(mediapipe)  # raises "prompt rejected" if validation failed
        status = hist["status"]
        if status["status_str"] != "success":
            msgs = [m[1] for m in status["messages"] if m[0] == "execution_error"]
            assert msgs and msgs[0]["node_type"] == "EmbodyMediaPipeLoader", msgs
            assert "DWPose Loader" in msgs[0]["exception_message"], msgs[0]["exception_message"]
        dwpose = {**mediapipe, "2": DWPOSE_LOADER}
        with pytest.raises(AssertionError) as info:
            server.run_prompt(dwpose)
        text = str(info.value)
        assert "prompt rejected" in text and "yolox_l.onnx" in text and "huggingface.co/yzd-v/DWPose" in text, text
        assert str(folder) in text, text
        assert "Value not in list" not in text, text
    finally:
        folder.rmdir()
        parked.rename(folder)


def _errors(hist: dict) -> str:
    status = hist.get("status", {})
    assert status.get("status_str") == "error", status
    return " ".join(f"{m[1].get('node_type')}: {m[1].get('exception_message', '')}" for m in status.get("messages", [])
                    if m[0] == "execution_error")


def _train_prompt(server: ComfyServer, output_name: str) -> dict:
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
        "6": {"class_type": "RepeatImageBatch", "inputs": {"image": ["1", 0], "amount": 90}},
        "2": {"class_type": "EmbodyPoseExtract", "inputs": _extract_inputs(server, ["6", 0])},
        "3": {"class_type": "LoadAudio", "inputs": {"audio": "speech.wav"}},
        "4": {"class_type": "EmbodyTrainMotionModel", "inputs": {
            **_defaults(server, "EmbodyTrainMotionModel"), "output_name": output_name, "pose": ["2", 0],
            "audio": ["3", 0], "steps": 2, "batch_size": 1, "window": 8, "overlap": 2, "d_model": 32, "layers": 1,
            "resume": True}},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 1]}},
        "90": DWPOSE_LOADER,
    }


def test_output_name_cannot_escape_the_models_folder(server: ComfyServer, tmp_path: Path) -> None:
    """Issue 7 s1: '../../x' and absolute paths in output_name error out and write nothing outside the folder."""
    outside = tmp_path / "abs_escape"
    for name, words in (("../../escape", "points outside its folder"), (str(outside), "is an absolute path"),
                        ("people/../../../escape2", "points outside its folder")):
        text = _errors(server.run_prompt(_train_prompt(server, name)))
        assert "output_name" in text and words in text, text
    leaked = [p for p in server.root.rglob("*escape*")] + list(tmp_path.glob("abs_escape*"))
    assert not leaked, leaked
    # A sub-folder inside models/embody/motion is fine.
    hist = server.run_prompt(_train_prompt(server, "people/anna"))
    assert hist["status"]["status_str"] == "success", _errors(hist)
    assert (server.models / "embody" / "motion" / "people" / "anna.safetensors").is_file()


def test_train_motion_overlap_not_below_window_is_refused(server: ComfyServer) -> None:
    """overlap >= window used to be clipped to window - 1 in silence; now it is refused with both values named."""
    prompt = _train_prompt(server, "overlap_check")
    prompt["4"]["inputs"].update(window=8, overlap=8)
    text = _errors(server.run_prompt(prompt))
    assert "overlap (8) must be in 0..window-1 (window 8)" in text and "lower overlap or raise window" in text, text
    assert not (server.models / "embody" / "motion" / "overlap_check.safetensors").exists()


def test_canvas_too_large_is_refused(server: ComfyServer) -> None:
    """Sizes over 8192 pixels are refused by name before anything is drawn (POSE_KEYPOINT canvases: unit tests)."""
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "too_wide.png"}},
        "2": {"class_type": "EmbodyPoseExtract", "inputs": _extract_inputs(server, ["1", 0])},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 1]}},
        "90": DWPOSE_LOADER,
    }
    text = _errors(server.run_prompt(prompt))
    assert "EmbodyPoseExtract" in text and "image is 8200x16 pixels" in text and "8192" in text, text
    # A render size over the bound is refused by ComfyUI's validation already (the widget's max is the same bound).
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
        "2": {"class_type": "EmbodyPoseExtract", "inputs": _extract_inputs(server, ["1", 0])},
        "3": {"class_type": "EmbodyPoseRender", "inputs": {**_defaults(server, "EmbodyPoseRender"), "pose": ["2", 0],
                                                           "width": 9000, "height": 64}},
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
        "90": DWPOSE_LOADER,
    }
    with pytest.raises(AssertionError, match="400"):
        server.run_prompt(prompt)


def test_decode_names_a_wrong_latent(server: ComfyServer) -> None:
    prompt = _decode_prompt("[diffusers] tiny-svd", "EmptySD3LatentImage", 3, 4, False)
    text = _errors(server.run_prompt(prompt))
    assert "16-channel latent" in text and "Embody Sampler" in text, text


def _embody_half(graph: dict) -> dict:
    """The part of a Wan-Animate example that needs no Wan weights: EmbodyWanAnimateInputs, everything it depends
    on, and the previews of its outputs (plus its mask as an image)."""
    start = [k for k, v in graph.items() if v["class_type"] == "EmbodyWanAnimateInputs"]
    keep: set[str] = set()
    todo = list(start)
    while todo:
        nid = todo.pop()
        if nid in keep:
            continue
        keep.add(nid)
        todo.extend(v[0] for v in graph[nid]["inputs"].values() if isinstance(v, list) and len(v) == 2)
    for nid, v in graph.items():
        links = [x for x in v["inputs"].values() if isinstance(x, list) and len(x) == 2]
        if v["class_type"] == "PreviewImage" and links and all(x[0] in keep for x in links):
            keep.add(nid)
    half = {k: graph[k] for k in keep}
    half["900"] = {"class_type": "MaskToImage", "inputs": {"mask": [start[0], 2]}}
    half["901"] = {"class_type": "PreviewImage", "inputs": {"images": ["900", 0]}}
    half["902"] = {"class_type": "PreviewImage", "inputs": {"images": [start[0], 1]}}  # the face crops
    return half


@pytest.mark.parametrize("name", ["talking_body_wan_animate", "pose_transfer_wan_animate"])
def test_wan_animate_example_embody_half_runs(server: ComfyServer, name: str) -> None:
    graph = _embody_half(_example_graph(name))
    assert not any(v["class_type"] in ("UNETLoader", "KSampler") for v in graph.values())
    hist = server.run_prompt(graph)
    status = hist.get("status", {})
    errors = [m for m in status.get("messages", []) if m[0] == "execution_error"]
    assert status.get("status_str") == "success", json.dumps(errors, indent=1)[:4000]
    from PIL import Image

    node = next(k for k, v in graph.items() if v["class_type"] == "EmbodyWanAnimateInputs")
    temp = Path(os.environ["COMFYUI_DIR"]) / "temp"  # PreviewImage writes to ComfyUI's temp folder
    sizes, spread = {}, {}
    for key, v in graph.items():
        if v["class_type"] == "PreviewImage" and key in hist["outputs"]:
            img = hist["outputs"][key]["images"][0]
            with Image.open(temp / img.get("subfolder", "") / img["filename"]) as im:
                sizes[tuple(v["inputs"]["images"])] = im.size
                spread[tuple(v["inputs"]["images"])] = float(np.asarray(im.convert("L"), np.float32).std())
    assert sizes[(node, 0)] == (832, 480)  # pose video at the Wan size
    assert sizes[("900", 0)] == (832, 480)  # person mask
    assert sizes[(node, 1)] == (512, 512)  # face crops
    if name == "talking_body_wan_animate":  # face crops cut from the pose-warped photo, not a flat grey fill
        assert spread[(node, 1)] > 10, spread


def test_interrupting_region_codebook_training_keeps_a_checkpoint(server: ComfyServer) -> None:
    """Embody Train Region Codebook: interrupted mid-run, it stops as interrupted and leaves its training state."""
    prompt = json.loads((PACK_DIR / "tests" / "workflows" / "train_region_codebook_api.json").read_text())
    prompt = {k: v for k, v in prompt.items() if not k.startswith("_")}
    prompt["6"]["inputs"].update(output_name="interrupted_codebook", steps=1_000_000)
    state = server.models / "embody" / "codebook" / "interrupted_codebook.state.safetensors"
    status = _run_then_interrupt(server, prompt, train_s=15, wait_s=240)
    assert any(m[0] == "execution_interrupted" for m in status["messages"]), status
    assert state.is_file(), "an interrupted training run must leave its last checkpoint behind"
    after = server.run_prompt(json.loads((PACK_DIR / "tests" / "workflows" / "pose_api.json").read_text()))
    assert after["status"]["status_str"] == "success"


def _warp_init_graph() -> dict:
    """The region test's video (tiny fp32 model, 4 driving frames at 128x128) sampled three times: without warp_init,
    with Embody Pose Warp connected at init_strength 0, and at 0.5 (of 2 steps: starts at the second)."""
    base = json.loads((PACK_DIR / "tests" / "workflows" / "region_codebook_exact_api.json").read_text())
    keep = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "12", "16")
    prompt = {k: base[k] for k in keep}
    prompt["20"] = {"class_type": "EmbodyPoseWarp", "inputs": {
        "reference_image": ["2", 0], "reference_pose": ["4", 0], "driving_pose": ["5", 0], "person": 0,
        "refine_region": False, "mesh_spacing": 10}}
    for nid, strength in (("13", 0.0), ("17", 0.5)):
        prompt[nid] = json.loads(json.dumps(base["12"]))
        prompt[nid]["inputs"].update(warp_init=["20", 0], init_strength=strength)
    for nid, src in (("14", "12"), ("15", "13"), ("18", "17")):
        prompt[nid] = {"class_type": "SaveLatent", "inputs": {"samples": [src, 0],
                                                              "filename_prefix": f"embody_test/warp_init_{src}"}}
    return prompt


def test_sampler_warp_init_through_comfyui(server: ComfyServer) -> None:
    """fp32: warp_init at init_strength 0 leaves the latents bit-identical; at 0.5 they change. A warp with another
    frame count than the poses is refused with both counts named."""
    prompt = _warp_init_graph()
    hist = server.run_prompt(prompt)
    status = hist.get("status", {})
    assert status.get("status_str") == "success", json.dumps(status.get("messages", []), indent=1)[:4000]
    off, zero, half = (_saved_latents(server, hist, n) for n in ("14", "15", "18"))
    assert off.shape == zero.shape == half.shape and off.shape[0] == 5  # reference frame + 4 driving frames
    assert bool((off == zero).all()), float((off - zero).abs().max())
    assert bool(np.isfinite(half.numpy()).all()) and float((off - half).abs().max()) > 1e-3

    prompt["21"] = {"class_type": "RepeatImageBatch", "inputs": {"image": ["2", 0], "amount": 3}}
    prompt["17"]["inputs"]["warp_init"] = ["21", 0]
    text = _errors(server.run_prompt({k: v for k, v in prompt.items() if k not in ("13", "15")}))
    assert "warp_init has 3 frames but poses has 4" in text, text


def test_sampler_speed_options_through_comfyui(server: ComfyServer) -> None:
    """fp32, 3 steps, 2 windows: feature_reuse_interval 1 with solver euler is the default run bit for bit; feature
    reuse every 2 steps and DPM-Solver++(2M) each change the latents (and stay finite)."""
    base = _warp_init_graph()
    prompt = {k: base[k] for k in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "12", "16")}
    prompt["12"]["inputs"]["steps"] = 3
    variants = {"13": {"feature_reuse_interval": 1, "solver": "euler"}, "17": {"feature_reuse_interval": 2},
                "19": {"solver": "dpmpp_2m"}}
    for nid, extra in variants.items():
        prompt[nid] = json.loads(json.dumps(prompt["12"]))
        prompt[nid]["inputs"].update(extra)
    for nid in ("12", *variants):
        prompt[f"3{nid}"] = {"class_type": "SaveLatent", "inputs": {"samples": [nid, 0],
                                                                    "filename_prefix": f"embody_test/speed_{nid}"}}
    hist = server.run_prompt(prompt)
    status = hist.get("status", {})
    assert status.get("status_str") == "success", json.dumps(status.get("messages", []), indent=1)[:4000]
    default, explicit, reuse, dpm = (_saved_latents(server, hist, f"3{n}") for n in ("12", "13", "17", "19"))
    assert bool((default == explicit).all()), float((default - explicit).abs().max())
    for other in (reuse, dpm):
        assert other.shape == default.shape and bool(np.isfinite(other.numpy()).all())
        assert float((other - default).abs().max()) > 1e-3
