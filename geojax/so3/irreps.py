"""Spherical-signal irreps: ``0e + 1o + 2e + ...`` (each l once, parity p_val * p_arg**l)."""

from __future__ import annotations

import dataclasses
import math

import e3nn_jax as e3nn


@dataclasses.dataclass(frozen=True)
class SphericalSignature:
    """Degree and parities of a signal on the sphere, as ``e3nn.s2_irreps(lmax, p_val, p_arg)``.

    ``p_arg`` is ``None`` when it cannot be read off the irreps (``lmax == 0``).
    """

    lmax: int
    p_val: int
    p_arg: int | None

    def irreps(self, p_arg_default: int = -1) -> e3nn.Irreps:
        p_arg = self.p_arg if self.p_arg is not None else p_arg_default
        return e3nn.s2_irreps(self.lmax, p_val=self.p_val, p_arg=p_arg)


def lmax_from_dim(dim: int, name: str) -> int:
    """``L`` with ``(L + 1)**2 == dim``; raises ``ValueError`` naming ``name`` otherwise."""
    root = math.isqrt(dim) if dim >= 0 else -1
    if dim < 1 or root * root != dim:
        raise ValueError(
            f"{name}: the last dimension must be (L+1)**2 for some L >= 0 "
            f"(1, 4, 9, 16, ...), got {dim}"
        )
    return root - 1


def spherical_signature(irreps: e3nn.Irreps, name: str) -> SphericalSignature:
    """Read ``(lmax, p_val, p_arg)`` from irreps of the form ``e3nn.s2_irreps``.

    Raises:
      ValueError: naming ``name`` if the irreps are not ``1x0 + 1x1 + ... + 1xL`` in order with
        parities ``p_val * p_arg**l``.
    """
    irreps = e3nn.Irreps(irreps).remove_zero_multiplicities()  # 0x1e holds no data
    hint = (
        f"{name}: expected irreps of a signal on the sphere, each l = 0..L exactly once in order "
        f"with parity p_val * p_arg**l (as e3nn.s2_irreps makes, e.g. 0e+1o+2e), got {irreps}"
    )
    items = [(mul, ir) for mul, ir in irreps]
    if not items or any(mul != 1 for mul, _ in items):
        extra = ""
        if items and all(mul == items[0][0] for mul, _ in items):
            extra = "; for channels, move the multiplicity to an axis with x.mul_to_axis()"
        raise ValueError(hint + extra)
    if [ir.l for _, ir in items] != list(range(len(items))):
        raise ValueError(hint)
    p_val = items[0][1].p
    p_arg = None
    if len(items) > 1:
        p_arg = items[1][1].p * p_val
        if any(ir.p != p_val * p_arg**ir.l for _, ir in items):
            raise ValueError(hint)
    return SphericalSignature(lmax=len(items) - 1, p_val=p_val, p_arg=p_arg)
