"""Spring-damper motion shaping for the procedural driver.

A critically- or under-damped spring x'' = omega^2 (u - x) - 2 zeta omega x' gives the ease-in/overshoot/settle
shape of human beat gestures and nods. It is discretised exactly (zero-order hold on the target u, matrix
exponential), so it is stable at any frame rate, and run as a linear filter (scipy.signal.lfilter), so minutes of
frames cost milliseconds. Kicks are instantaneous velocity changes (an onset "hits" the spring).
"""

from __future__ import annotations

import numpy as np


def spring_matrices(omega: float, zeta: float, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact discrete-time spring: s[n+1] = A s[n] + B u[n] + K k[n], with s = (x, v).

    omega: natural frequency (rad/s, > 0); zeta: damping ratio (>= 0); dt: frame period (s).
    K applies a velocity kick k at frame n before propagating, so the kick's effect starts at n+1.
    Returns A [2,2], B [2], K [2].
    """
    from scipy.linalg import expm

    if omega <= 0 or zeta < 0 or dt <= 0:
        raise ValueError(f"spring needs omega > 0, zeta >= 0, dt > 0; got {omega}, {zeta}, {dt}")
    m = np.array([[0.0, 1.0], [-omega**2, -2.0 * zeta * omega]])
    a = expm(m * dt)
    # ZOH input matrix: integral_0^dt expm(M t) dt' N = M^-1 (A - I) N (M is invertible for omega > 0).
    b = np.linalg.solve(m, (a - np.eye(2)) @ np.array([0.0, omega**2]))
    k = a @ np.array([0.0, 1.0])
    return a, b, k


def simulate_spring(
    target: np.ndarray, kicks: np.ndarray | None, omega: float, zeta: float, fps: float
) -> np.ndarray:
    """Position of a spring that starts at rest at 0 and follows `target` [F] while receiving `kicks` [F].

    Units: target and output share units (e.g. radians); kicks are velocity changes in those units per second.
    Returns float64 [F].
    """
    from scipy.signal import lfilter, ss2tf

    target = np.asarray(target, np.float64)
    kicks = np.zeros_like(target) if kicks is None else np.asarray(kicks, np.float64)
    if target.shape != kicks.shape or target.ndim != 1:
        raise ValueError(f"target and kicks must be matching 1-D arrays, got {target.shape} and {kicks.shape}")
    if target.size == 0:
        return target.copy()
    a, b, k = spring_matrices(omega, zeta, 1.0 / fps)
    c = np.array([[1.0, 0.0]])
    d = np.zeros((1, 2))
    bk = np.stack([b, k], axis=1)  # [2, 2]: columns = inputs (target, kick)
    out = np.zeros_like(target)
    for i, signal in enumerate((target, kicks)):
        num, den = ss2tf(a, bk, c, d, input=i)
        out += lfilter(num[0], den, signal)
    return out


def impulse_peak(omega: float, zeta: float) -> float:
    """Peak displacement of the continuous spring after a unit velocity kick (to scale kicks to a wanted peak)."""
    if zeta < 1.0:
        wd = omega * np.sqrt(1.0 - zeta**2)
        t = np.arctan2(wd, zeta * omega) / wd
        return float(np.exp(-zeta * omega * t) * np.sin(wd * t) / wd)
    # Critically/over-damped: the critically damped value bounds it well enough for scaling.
    return float(1.0 / (omega * np.e))
