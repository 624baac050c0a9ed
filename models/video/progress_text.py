"""One-line progress texts that long nodes show on themselves while they run ("window k of n" style)."""

from __future__ import annotations


def sampler_text(done: int, steps: int, windows: int) -> str:
    """After ``done`` window passes of a fused sampler (every step runs every window in turn)."""
    windows = max(1, int(windows))
    done = max(1, int(done))
    step, window = (done - 1) // windows + 1, (done - 1) % windows + 1
    return f"step {min(step, steps)} of {steps} · window {window} of {windows}"


def frames_text(verb: str, done: int, total: int) -> str:
    """'decoding frame 24 of 73' style text."""
    return f"{verb} frame {max(0, int(done))} of {int(total)}"
