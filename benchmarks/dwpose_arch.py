"""Random-weight torch stand-ins with the published layer shapes of DWPose's two networks, exported to ONNX with
the official files' I/O contract, so the DWPose benchmark measures real compute (issue 10).

Benchmark-only code: the pack never builds or downloads these; the ONNX files go to a cache folder outside the
repository (``~/.cache/embody-bench`` by default) and are never committed. Weights are seeded random numbers: the
keypoints they give are meaningless, only their cost is real.

Architectures (written from the papers and the published configs, not copied):

- YOLOX-L (Ge et al. 2021, arXiv 2107.08430; Megvii YOLOX exps/default/yolox_l.py: depth 1.0, width 1.0):
  CSPDarknet-53 with a Focus stem, CSP stages of 3/9/9/3 bottlenecks, SPP (5, 9, 13) before the last stage;
  PAFPN over dark3/4/5 (256/512/1024 channels); decoupled head (1x1 stem to 256, two 3x3 convs per branch, separate
  class / box / objectness predictions), 80 classes, strides 8/16/32. Published: 54.2 M parameters,
  155.6 GFLOPs at 640x640 (YOLOX README; YOLOX counts 2 x multiply-adds).
  ONNX contract of yolox_l.onnx (tools/export_onnx.py with decode_in_inference off): input ``images``
  [1, 3, 640, 640] raw 0..255 pixels, output ``output`` [1, 8400, 85] = per anchor cx, cy offsets, log w, log h,
  sigmoid objectness, 80 sigmoid class scores (models/pose/yolox.py decodes exactly that).
- RTMPose-l whole-body 384x288 = DWPose-l (Jiang et al. 2023, arXiv 2303.07399; Yang et al. 2023, arXiv 2307.15880;
  mmpose rtmpose-l_8xb32-270e_coco-wholebody-384x288.py): CSPNeXt-P5 backbone (deepen 1.0, widen 1.0: stem
  3->32->32->64, stages 128/256/512/1024 with 3/6/6/3 CSPNeXt blocks, 5x5 depthwise convs, channel attention,
  SPP before the last stage); RTMCC head: 7x7 conv to 133 keypoint maps (12x9), flatten, ScaleNorm + linear to
  256, one gated attention unit (GAU: expansion 2, s = 128, squared-ReLU attention), linear classifiers to 576 x and
  768 y bins (SimCC split ratio 2.0). Published: DWPose-l 384x288 10.1 GFLOPs (DWPose README; mmpose counts one
  multiply-add as one FLOP). The "about 28 M parameters" often quoted is RTMPose-l body 256x192 (17 keypoints:
  27.66 M, 4.16 GFLOPs, RTMPose README); the whole-body head's 7x7 conv to 133 maps instead of 17 adds
  116 x (1024 x 49 + 1) = 5.8 M, so the whole-body model has about 33.6 M. The check below builds both.
  ONNX contract of dw-ll_ucoco_384.onnx: input ``input`` [N, 3, 384, 288], outputs ``simcc_x`` [N, 133, 576],
  ``simcc_y`` [N, 133, 768].
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import torch
from torch import nn

logger = logging.getLogger(__name__)

DEFAULT_CACHE = Path(os.environ.get("EMBODY_BENCH_CACHE", Path.home() / ".cache" / "embody-bench"))
DET_SIZE = 640
POSE_HW = (384, 288)
NUM_KEYPOINTS = 133
SIMCC_SPLIT = 2.0
PUBLISHED = {
    # name: (parameters in millions or None when unpublished, GFLOPs as published, what the published number counts)
    "yolox_l": (54.2, 155.6, "2 x multiply-adds (YOLOX get_model_info)"),
    # DWPose README: 10.1 GFLOPs; no parameter count is published for the 133-keypoint model.
    "rtmpose_l_wholebody_384x288": (None, 10.1, "multiply-adds (mmpose / mmengine complexity analysis)"),
    # RTMPose README (body, 17 COCO keypoints): the same network with a 17-map head; it pins the parameter count.
    "rtmpose_l_body_256x192": (27.66, 4.16, "multiply-adds (mmpose / mmengine complexity analysis)"),
}


# ---- shared building block ----------------------------------------------------------------------------------
class ConvBNAct(nn.Module):
    """Conv (no bias) + BatchNorm + SiLU: YOLOX's BaseConv and mmcv's ConvModule as both networks configure it."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SPP(nn.Module):
    """Spatial pyramid pooling (He et al. 2015 as used in YOLOv3-SPP/YOLOX and CSPNeXt): 1x1 halves the channels,
    max pools 5/9/13 (stride 1) run in parallel, concatenated with the input, 1x1 back to ``cout``."""

    def __init__(self, cin: int, cout: int, kernels: tuple[int, ...] = (5, 9, 13)) -> None:
        super().__init__()
        mid = cin // 2
        self.conv1 = ConvBNAct(cin, mid, 1)
        self.pools = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in kernels)
        self.conv2 = ConvBNAct(mid * (len(kernels) + 1), cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [p(x) for p in self.pools], dim=1))


# ---- YOLOX-L ------------------------------------------------------------------------------------------------
class DarknetBottleneck(nn.Module):
    """1x1 then 3x3 conv at the same width (CSPLayer passes expansion 1.0); residual when ``shortcut``."""

    def __init__(self, channels: int, shortcut: bool) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 1)
        self.conv2 = ConvBNAct(channels, channels, 3)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return x + y if self.shortcut else y


class YoloCSP(nn.Module):
    """YOLOX CSPLayer: two 1x1 branches of half width, n bottlenecks on one, concat, 1x1 to ``cout``."""

    def __init__(self, cin: int, cout: int, n: int, shortcut: bool = True) -> None:
        super().__init__()
        mid = cout // 2
        self.conv1 = ConvBNAct(cin, mid, 1)
        self.conv2 = ConvBNAct(cin, mid, 1)
        self.conv3 = ConvBNAct(2 * mid, cout, 1)
        self.m = nn.Sequential(*(DarknetBottleneck(mid, shortcut) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(torch.cat([self.m(self.conv1(x)), self.conv2(x)], dim=1))


class Focus(nn.Module):
    """Space-to-depth (four pixel phases stacked as channels: 3 -> 12 at half resolution), then a 3x3 conv."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = ConvBNAct(4 * cin, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat(
            [x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], dim=1))


class YOLOXL(nn.Module):
    """YOLOX-L for 80 classes. forward(images [B, 3, 640, 640] raw pixels) -> [B, 8400, 85] undecoded head output."""

    def __init__(self, num_classes: int = 80, width: float = 1.0, depth: float = 1.0) -> None:
        super().__init__()
        c = int(64 * width)
        n = max(round(3 * depth), 1)
        self.stem = Focus(3, c)
        self.dark2 = nn.Sequential(ConvBNAct(c, 2 * c, 3, 2), YoloCSP(2 * c, 2 * c, n))
        self.dark3 = nn.Sequential(ConvBNAct(2 * c, 4 * c, 3, 2), YoloCSP(4 * c, 4 * c, 3 * n))
        self.dark4 = nn.Sequential(ConvBNAct(4 * c, 8 * c, 3, 2), YoloCSP(8 * c, 8 * c, 3 * n))
        self.dark5 = nn.Sequential(ConvBNAct(8 * c, 16 * c, 3, 2), SPP(16 * c, 16 * c),
                                   YoloCSP(16 * c, 16 * c, n, shortcut=False))
        # PAFPN (Liu et al. 2018 path aggregation): top-down then bottom-up, CSP blocks without shortcuts.
        self.lateral_conv0 = ConvBNAct(16 * c, 8 * c, 1)
        self.c3_p4 = YoloCSP(16 * c, 8 * c, n, False)
        self.reduce_conv1 = ConvBNAct(8 * c, 4 * c, 1)
        self.c3_p3 = YoloCSP(8 * c, 4 * c, n, False)
        self.bu_conv2 = ConvBNAct(4 * c, 4 * c, 3, 2)
        self.c3_n3 = YoloCSP(8 * c, 8 * c, n, False)
        self.bu_conv1 = ConvBNAct(8 * c, 8 * c, 3, 2)
        self.c3_n4 = YoloCSP(16 * c, 16 * c, n, False)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        # Decoupled head, one per stride, all at 256 channels (int(256 * width)).
        hw = int(256 * width)
        self.stems = nn.ModuleList(ConvBNAct(ch, hw, 1) for ch in (4 * c, 8 * c, 16 * c))
        self.cls_convs = nn.ModuleList(nn.Sequential(ConvBNAct(hw, hw, 3), ConvBNAct(hw, hw, 3)) for _ in range(3))
        self.reg_convs = nn.ModuleList(nn.Sequential(ConvBNAct(hw, hw, 3), ConvBNAct(hw, hw, 3)) for _ in range(3))
        self.cls_preds = nn.ModuleList(nn.Conv2d(hw, num_classes, 1) for _ in range(3))
        self.reg_preds = nn.ModuleList(nn.Conv2d(hw, 4, 1) for _ in range(3))
        self.obj_preds = nn.ModuleList(nn.Conv2d(hw, 1, 1) for _ in range(3))
        # Constant added to the raw head output [1, 5 + classes, anchors] (zero = the plain network); see plant_people.
        anchors = sum((DET_SIZE // s) ** 2 for s in (8, 16, 32))
        self.register_buffer("prior", torch.zeros(1, 5 + num_classes, anchors))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x2 = self.dark2(self.stem(images))
        x3 = self.dark3(x2)
        x4 = self.dark4(x3)
        x5 = self.dark5(x4)
        fpn_out0 = self.lateral_conv0(x5)
        f_out0 = self.c3_p4(torch.cat([self.up(fpn_out0), x4], 1))
        fpn_out1 = self.reduce_conv1(f_out0)
        pan_out2 = self.c3_p3(torch.cat([self.up(fpn_out1), x3], 1))
        pan_out1 = self.c3_n3(torch.cat([self.bu_conv2(pan_out2), fpn_out1], 1))
        pan_out0 = self.c3_n4(torch.cat([self.bu_conv1(pan_out1), fpn_out0], 1))
        outs = []
        for i, feat in enumerate((pan_out2, pan_out1, pan_out0)):
            h = self.stems[i](feat)
            cls_feat, reg_feat = self.cls_convs[i](h), self.reg_convs[i](h)
            out = torch.cat([self.reg_preds[i](reg_feat), self.obj_preds[i](reg_feat), self.cls_preds[i](cls_feat)], 1)
            outs.append(out.flatten(2))  # [B, 85, H*W], row-major over the grid as models/pose/yolox.py expects
        raw = torch.cat(outs, 2) + self.prior
        # Box regression stays raw (offsets, log sizes); objectness and class scores go through a sigmoid.
        return torch.cat([raw[:, :4], raw[:, 4:].sigmoid()], 1).permute(0, 2, 1)


# ---- RTMPose-l (DWPose-l) -----------------------------------------------------------------------------------
class ChannelAttention(nn.Module):
    """CSPNeXt channel attention: global average pool, 1x1 conv (with bias), hard sigmoid, rescale the channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1)
        self.act = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.act(self.fc(x.mean(dim=(2, 3), keepdim=True)))


class CSPNeXtBlock(nn.Module):
    """3x3 conv, then a 5x5 depthwise + 1x1 pointwise conv (RTMDet's large-kernel block); residual if asked."""

    def __init__(self, channels: int, shortcut: bool) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 3)
        self.depthwise = ConvBNAct(channels, channels, 5, groups=channels)
        self.pointwise = ConvBNAct(channels, channels, 1)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pointwise(self.depthwise(self.conv1(x)))
        return x + y if self.shortcut else y


class NeXtCSP(nn.Module):
    """CSPNeXt CSPLayer: main / short 1x1 branches of half width, n blocks on main, concat, channel attention, 1x1."""

    def __init__(self, cin: int, cout: int, n: int, shortcut: bool) -> None:
        super().__init__()
        mid = cout // 2
        self.main_conv = ConvBNAct(cin, mid, 1)
        self.short_conv = ConvBNAct(cin, mid, 1)
        self.blocks = nn.Sequential(*(CSPNeXtBlock(mid, shortcut) for _ in range(n)))
        self.attention = ChannelAttention(2 * mid)
        self.final_conv = ConvBNAct(2 * mid, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.blocks(self.main_conv(x)), self.short_conv(x)], 1)
        return self.final_conv(self.attention(y))


class ScaleNorm(nn.Module):
    """x / (||x|| / sqrt(d)) * g with one learned scalar g (Nguyen & Salazar 2019), as RTMCC uses."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = dim ** -0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class GAU(nn.Module):
    """Gated attention unit (Hua et al. 2022, "Transformer Quality in Linear Time") as the RTMCC head configures it:
    one token per keypoint, expansion 2 (e = 512), shared query/key dimension s = 128, kernel relu(qk / sqrt(s))^2,
    no relative bias, residual with a learned per-channel scale."""

    def __init__(self, dim: int = 256, expansion: int = 2, s: int = 128) -> None:
        super().__init__()
        self.e, self.s = dim * expansion, s
        self.ln = ScaleNorm(dim)
        self.uv = nn.Linear(dim, 2 * self.e + s, bias=False)
        self.gamma = nn.Parameter(torch.rand(2, s))
        self.beta = nn.Parameter(torch.rand(2, s))
        self.o = nn.Linear(self.e, dim, bias=False)
        self.res_scale = nn.Parameter(torch.ones(dim))
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, v, base = torch.split(self.act(self.uv(self.ln(x))), [self.e, self.e, self.s], dim=2)
        qk = base.unsqueeze(2) * self.gamma + self.beta  # [B, K, 2, s]
        q, k = qk[:, :, 0], qk[:, :, 1]
        kernel = torch.relu(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(self.s)) ** 2
        return x * self.res_scale + self.o(u * torch.bmm(kernel, v))


class RTMPoseL(nn.Module):
    """RTMPose-l / DWPose-l whole body. forward(crops [N, 3, 384, 288] normalised) -> (simcc_x [N, 133, 576],
    simcc_y [N, 133, 768])."""

    def __init__(self, num_keypoints: int = NUM_KEYPOINTS, input_hw: tuple[int, int] = POSE_HW) -> None:
        super().__init__()
        # CSPNeXt P5 arch: (in, out, blocks, shortcut, spp) per stage; deepen = widen = 1.0 for "l".
        arch = ((64, 128, 3, True, False), (128, 256, 6, True, False), (256, 512, 6, True, False),
                (512, 1024, 3, False, True))
        self.stem = nn.Sequential(ConvBNAct(3, 32, 3, 2), ConvBNAct(32, 32, 3), ConvBNAct(32, 64, 3))
        stages = []
        for cin, cout, n, shortcut, spp in arch:
            layers: list[nn.Module] = [ConvBNAct(cin, cout, 3, 2)]
            if spp:
                layers.append(SPP(cout, cout))
            layers.append(NeXtCSP(cout, cout, n, shortcut))
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        feat_h, feat_w = input_hw[0] // 32, input_hw[1] // 32  # 12 x 9
        self.final_layer = nn.Conv2d(1024, num_keypoints, 7, 1, 3)
        self.mlp = nn.Sequential(ScaleNorm(feat_h * feat_w), nn.Linear(feat_h * feat_w, 256, bias=False))
        self.gau = GAU(256)
        self.cls_x = nn.Linear(256, int(input_hw[1] * SIMCC_SPLIT), bias=False)
        self.cls_y = nn.Linear(256, int(input_hw[0] * SIMCC_SPLIT), bias=False)

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.final_layer(self.stages(self.stem(crops))).flatten(2)  # [N, 133, 108]
        tokens = self.gau(self.mlp(feats))
        return self.cls_x(tokens), self.cls_y(tokens)


# ---- counting, export ---------------------------------------------------------------------------------------
def seeded(model: nn.Module, seed: int) -> nn.Module:
    """Re-initialise every conv / linear with seeded He-normal weights and give BatchNorm non-trivial statistics,
    so outputs are finite and data-dependent (a random net, not a zero net). Returns the model in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(1.0 / fan_in))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
    return model.eval()


# Two people in the 640x640 detector input (x centre, y centre, width, height in pixels), placed on stride-32 cells.
PLANTED_PEOPLE = ((208.0, 336.0, 180.0, 420.0), (432.0, 336.0, 180.0, 420.0))


def plant_people(model: YOLOXL, people: tuple[tuple[float, float, float, float], ...] = PLANTED_PEOPLE) -> YOLOXL:
    """Make the random detector report ``people`` on every frame, as a real one does on a clip with that many people.

    A random YOLOX saturates: nearly all 8400 anchors score ~1, so NMS and the pose stage would see thousands of
    "people" and measure nothing real. Here the prediction convs' weights are scaled by 1e-3 (they still run: same
    compute) and their biases make every anchor a confident non-detection; the constant ``prior`` then plants one
    anchor per person (objectness and class 0 high, box size as log(size / stride)). Detector compute is unchanged.
    """
    big = 12.0
    with torch.no_grad():
        for convs in (model.cls_preds, model.reg_preds, model.obj_preds):
            for conv in convs:
                conv.weight.mul_(1e-3)
                conv.bias.zero_()
        for conv in model.obj_preds:
            conv.bias.fill_(-big)
        for conv in model.cls_preds:
            conv.bias.fill_(-big)
        model.prior.zero_()
        offset = sum((DET_SIZE // s) ** 2 for s in (8, 16))  # stride-32 anchors come last
        side = DET_SIZE // 32
        for cx, cy, w, h in people:
            gx, gy = int(cx // 32), int(cy // 32)
            a = offset + gy * side + gx
            model.prior[0, 0, a], model.prior[0, 1, a] = cx / 32 - gx, cy / 32 - gy
            model.prior[0, 2, a], model.prior[0, 3, a] = math.log(w / 32), math.log(h / 32)
            model.prior[0, 4, a] = 2 * big  # objectness logit +12
            model.prior[0, 5, a] = 2 * big  # person class logit +12
    return model


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, shape: tuple[int, ...]) -> int:
    """FLOPs of one forward at ``shape`` counted by torch (2 per multiply-add; matmuls and convolutions only)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(shape))
    return int(counter.get_total_flops())


def export_onnx(cache: Path = DEFAULT_CACHE, det_dynamic_batch: bool = False, people: int = 2) -> tuple[str, str]:
    """Build both networks with seeded random weights and write yolox_l.onnx / dw-ll_ucoco_384.onnx into
    ``cache`` (once; reused while the files exist). Returns (detector path, pose path).

    Contracts as in the official files: detector ``images`` [1, 3, 640, 640] -> ``output`` [1, 8400, 85] (batch
    fixed at 1 like yolox_l.onnx, or dynamic with ``det_dynamic_batch``: then the file is yolox_l_dynamic.onnx);
    pose ``input`` [batch, 3, 384, 288] -> ``simcc_x`` [batch, 133, 576], ``simcc_y`` [batch, 133, 768].
    people: how many of PLANTED_PEOPLE the detector finds per frame (1 or 2; 1 writes yolox_l_1person*.onnx).
    """
    if not 1 <= people <= len(PLANTED_PEOPLE):
        raise ValueError(f"people must be 1..{len(PLANTED_PEOPLE)}, got {people}")
    cache.mkdir(parents=True, exist_ok=True)
    stem = "yolox_l" if people == len(PLANTED_PEOPLE) else f"yolox_l_{people}person"
    det_path = cache / (f"{stem}_dynamic.onnx" if det_dynamic_batch else f"{stem}.onnx")
    pose_path = cache / "dw-ll_ucoco_384.onnx"
    if not det_path.exists():
        logger.info("building YOLOX-L (random weights) -> %s", det_path)
        det = plant_people(seeded(YOLOXL(), 0), PLANTED_PEOPLE[:people])
        axes = {"images": {0: "batch"}, "output": {0: "batch"}} if det_dynamic_batch else None
        _export(det, torch.zeros(1, 3, DET_SIZE, DET_SIZE), det_path, ["images"], ["output"], axes)
    if not pose_path.exists():
        logger.info("building RTMPose-l whole-body 384x288 (random weights) -> %s", pose_path)
        pose = seeded(RTMPoseL(), 1)
        axes = {"input": {0: "batch"}, "simcc_x": {0: "batch"}, "simcc_y": {0: "batch"}}
        _export(pose, torch.zeros(1, 3, *POSE_HW), pose_path, ["input"], ["simcc_x", "simcc_y"], axes)
    return str(det_path), str(pose_path)


def _export(model: nn.Module, example: torch.Tensor, path: Path, inputs: list[str], outputs: list[str],
            axes: dict[str, dict[int, str]] | None) -> None:
    tmp = path.with_suffix(".tmp.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (example,), str(tmp), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    os.replace(tmp, path)  # a half-written file never sits under the final name


def architecture_check() -> list[str]:
    """Lines comparing our parameter counts and FLOPs with the published ones (proof the layer shapes are real)."""
    lines = []
    for name, model, shape in (("yolox_l", YOLOXL(), (1, 3, DET_SIZE, DET_SIZE)),
                               ("rtmpose_l_wholebody_384x288", RTMPoseL(), (1, 3, *POSE_HW)),
                               ("rtmpose_l_body_256x192", RTMPoseL(17, (256, 192)), (1, 3, 256, 192))):
        model.eval()
        params, flops = count_params(model) / 1e6, count_flops(model, shape) / 1e9
        pub_params, pub_flops, unit = PUBLISHED[name]
        ours = flops if unit.startswith("2 x") else flops / 2
        pub = f"published {pub_params} M, {params / pub_params:.3f}x" if pub_params else "not published"
        lines.append(f"  {name:28s} params {params:6.2f} M ({pub}); "
                     f"{ours:6.2f} G{'FLOPs' if unit.startswith('2 x') else 'MACs'} at {shape[2]}x{shape[3]} "
                     f"(published {pub_flops}, {ours / pub_flops:.3f}x; published counts {unit})")
    return lines
