"""Chunked temporal VAE decode against a straightforward re-statement of the official decode_latents."""

from __future__ import annotations

import pytest
import torch

import models.video.decode as decode_mod
from models.video.decode import decode_latents

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def vae():
    from tests.helpers.tiny_mimicmotion import tiny_components

    return tiny_components(seed=2).vae


def _official(vae, latents, chunk):
    """MimicMotion's decode_latents + postprocess: /scaling_factor, chunked decode, -1..1 -> 0..1, drop frame 0."""
    z = latents / vae.config.scaling_factor
    frames = torch.cat([vae.decode(z[i : i + chunk], num_frames=z[i : i + chunk].shape[0]).sample
                        for i in range(0, z.shape[0], chunk)])
    return (frames / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1)[1:]


@pytest.fixture(scope="module")
def latents():
    return torch.randn(7, 4, 4, 6, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("chunk", [1, 3, 8])
def test_matches_official_chunked_decode(vae, latents, chunk):
    with torch.no_grad():
        expected = _official(vae, latents, chunk)
    out = decode_latents(vae, latents, chunk_size=chunk)
    assert out.shape == (6, 32, 48, 3) and out.dtype == torch.float32 and out.device.type == "cpu"
    torch.testing.assert_close(out, expected)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_chunk_borders_are_independent_decodes(vae, latents):
    # the temporal decoder mixes frames inside a chunk, so chunk size changes the result (as official)
    assert not torch.allclose(decode_latents(vae, latents, 1), decode_latents(vae, latents, 7), atol=1e-4)


def test_keep_reference_frame_and_5d_input(vae, latents):
    full = decode_latents(vae, latents[None], chunk_size=4, keep_reference_frame=True)
    assert full.shape[0] == 7
    torch.testing.assert_close(full[1:], decode_latents(vae, latents, chunk_size=4))


def test_progress_and_cancel(vae, latents):
    calls = []
    decode_latents(vae, latents, chunk_size=3, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(3, 7), (6, 7), (7, 7)]

    def cancel(done, total):
        raise InterruptedError

    with pytest.raises(InterruptedError):
        decode_latents(vae, latents, chunk_size=3, progress=cancel)


def test_out_of_memory_halves_the_chunk(vae, latents, monkeypatch):
    real = decode_mod._decode_chunk
    sizes = []

    def flaky(v, z):
        sizes.append(z.shape[0])
        if z.shape[0] > 2:
            raise torch.OutOfMemoryError("simulated")
        return real(v, z)

    monkeypatch.setattr(decode_mod, "_decode_chunk", flaky)
    out = decode_latents(vae, latents, chunk_size=8)
    assert sizes[:3] == [7, 4, 2] and max(sizes[2:]) == 2
    with torch.no_grad():
        torch.testing.assert_close(out, _official(vae, latents, 2))


def test_half_vae_on_cpu_decodes_in_float32(vae, latents):
    half = type(vae).from_config(vae.config)
    half.load_state_dict(vae.state_dict())
    half = half.half()
    out = decode_latents(half, latents, chunk_size=4)
    assert next(half.parameters()).dtype == torch.float16  # the caller's VAE is left as it was
    torch.testing.assert_close(out, decode_latents(vae, latents, chunk_size=4), atol=5e-3, rtol=0)


@pytest.mark.parametrize("bad", [torch.zeros(2, 3, 4, 4, 4), torch.zeros(4, 4, 4), torch.zeros(0, 4, 4, 4)])
def test_bad_latents(vae, bad):
    with pytest.raises(ValueError, match="latent"):
        decode_latents(vae, bad)


def test_bad_chunk(vae, latents):
    with pytest.raises(ValueError, match="chunk_size"):
        decode_latents(vae, latents, chunk_size=0)


@pytest.mark.parametrize("shape, named", [
    ((5, 16, 8, 8), r"16-channel latent \(SD3 / Flux / Wan 2.1"),
    ((1, 16, 5, 8, 8), r"16-channel latent .* \[batch, channels, frames, h, w\]"),
    ((3, 128, 8, 8), r"128-channel latent \(LTX-Video\?\)"),
    ((2, 7, 8, 8), r"a 7-channel latent of shape \[2, 7, 8, 8\]"),
    ((4, 8, 8), r"must be \[frames, 4, h, w\]; got shape \[4, 8, 8\]"),
    ((0, 4, 8, 8), "has no frames"),
    ((2, 5, 4, 8, 8), "holds 2 videos"),
])
def test_wrong_latents_are_named_before_the_vae(vae, shape, named):
    from models.video.decode import check_video_latent

    bad = torch.zeros(shape)
    with pytest.raises(ValueError, match=named) as err:
        decode_latents(vae, bad)
    assert "latent" in str(err.value)
    with pytest.raises(ValueError, match=named):
        check_video_latent({"samples": bad}, "latent")


def test_good_latents_pass_the_check():
    from models.video.decode import check_video_latent

    z = torch.zeros(3, 4, 8, 8)
    assert check_video_latent({"samples": z}) is z
    assert check_video_latent(z[None]).shape == (3, 4, 8, 8)
    with pytest.raises(ValueError, match="without 'samples'"):
        check_video_latent({"noise_mask": z})
