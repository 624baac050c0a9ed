"""PoseNet (official layout and init) and the conv_in pose hook on diffusers' spatio-temporal UNet."""

from __future__ import annotations

import math

import pytest
import torch

from models.video.posenet import PoseNet
from models.video.unet_hook import pose_residual

torch.set_num_threads(1)


def test_posenet_official_parameters_and_keys():
    net = PoseNet()
    assert sum(p.numel() for p in net.parameters()) == 205_557  # the official PoseNet's parameter count
    convs = [k for k in net.state_dict() if k.startswith("conv_layers.") and k.endswith(".weight")]
    assert convs == [f"conv_layers.{i}.weight" for i in range(0, 16, 2)]
    assert {"final_proj.weight", "final_proj.bias", "scale"} <= set(net.state_dict())
    assert net.final_proj.weight.shape == (320, 128, 1, 1)


def test_posenet_init_is_he_normal_with_zero_projection():
    torch.manual_seed(0)
    net = PoseNet()
    assert net.scale.item() == 2.0
    assert torch.count_nonzero(net.final_proj.weight) == 0 and torch.count_nonzero(net.final_proj.bias) == 0
    big = net.conv_layers[14]  # 64->128, k3: 73,728 weights, std sqrt(2 / (9 * 64))
    assert big.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 64)), rel=0.03)
    assert all(torch.count_nonzero(m.bias) == 0 for m in net.conv_layers if isinstance(m, torch.nn.Conv2d))
    # untrained PoseNet adds nothing
    assert torch.count_nonzero(net(torch.rand(1, 3, 32, 32) * 2 - 1)) == 0


def test_posenet_shapes_and_5d_flattening():
    torch.manual_seed(1)
    net = PoseNet(noise_latent_channels=32)
    torch.nn.init.normal_(net.final_proj.weight)
    x = torch.rand(2, 3, 3, 64, 48) * 2 - 1
    y = net(x)
    assert y.shape == (6, 32, 8, 6)
    torch.testing.assert_close(y, net(x.flatten(0, 1)))
    # the learned scale multiplies the output
    with torch.no_grad():
        net.scale.fill_(1.0)
    torch.testing.assert_close(net(x) * 2, y)


@pytest.mark.parametrize("shape", [(1, 4, 32, 32), (3, 32, 32), (1, 3, 36, 32)])
def test_posenet_rejects_bad_input(shape):
    with pytest.raises(ValueError, match="PoseNet"):
        PoseNet()(torch.zeros(shape))


@pytest.fixture(scope="module")
def unet():
    from tests.helpers.tiny_mimicmotion import tiny_components

    return tiny_components(seed=3).unet


def _call(unet, sample):
    b = sample.shape[0]
    return unet(
        sample, torch.tensor(0.5), encoder_hidden_states=torch.ones(b, 1, 32) * 0.1,
        added_time_ids=torch.tensor([[6.0, 127.0, 0.02]] * b),
    ).sample


def test_pose_hook_equals_adding_a_constant_to_conv_in_bias(unet):
    """A per-channel constant residual is the same as shifting conv_in's bias: an independent reference."""
    torch.manual_seed(0)
    sample = torch.randn(1, 2, 8, 8, 8)
    delta = torch.randn(32) * 0.5
    pose = delta.view(1, 32, 1, 1).expand(2, 32, 8, 8).clone()
    with torch.no_grad():
        with pose_residual(unet, pose):
            hooked = _call(unet, sample)
        plain = _call(unet, sample)
        unet.conv_in.bias += delta
        try:
            shifted = _call(unet, sample)
        finally:
            unet.conv_in.bias -= delta
        after = _call(unet, sample)
    torch.testing.assert_close(hooked, shifted, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(hooked, plain, atol=1e-3)
    torch.testing.assert_close(after, plain)  # hook removed on exit
    assert not unet.conv_in._forward_hooks


def test_pose_hook_strength_none_and_errors(unet):
    torch.manual_seed(1)
    sample = torch.randn(1, 2, 8, 8, 8)
    pose = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        with pose_residual(unet, pose, strength=0.5):
            half = _call(unet, sample)
        with pose_residual(unet, pose * 0.5):
            ref = _call(unet, sample)
        with pose_residual(unet, None):
            none = _call(unet, sample)
        plain = _call(unet, sample)
        torch.testing.assert_close(half, ref, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(none, plain)
        with pytest.raises(ValueError, match="do not match"):
            with pose_residual(unet, torch.randn(3, 32, 8, 8)):
                _call(unet, sample)
    assert not unet.conv_in._forward_hooks  # removed after the exception too
    with pytest.raises(ValueError, match="conv_in"):
        with pose_residual(torch.nn.Linear(2, 2), pose):
            pass


def test_scale_has_the_official_shape_and_scalar_conversions_load() -> None:
    """Official pose_net.py: scale = nn.Parameter(torch.ones(1) * 2), so real checkpoints hold a [1] tensor."""
    from models.video.loader import build_pose_net

    net = PoseNet(noise_latent_channels=32)
    sd = net.state_dict()
    assert tuple(sd["scale"].shape) == (1,)
    loaded = build_pose_net(sd, torch.float32, "official-shape")
    assert loaded.scale.shape == (1,) and loaded.scale.item() == 2.0
    sd0 = dict(sd, scale=torch.tensor(3.0))  # a 0-dim scalar from a third-party conversion
    assert build_pose_net(sd0, torch.float32, "scalar").scale.item() == 3.0
