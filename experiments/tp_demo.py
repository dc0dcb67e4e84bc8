"""A short tour of the Gaunt tensor product: correctness, equivariance and speed, on this machine.

    python -m experiments.tp_demo [--lmax 8] [--batch 256]
"""

from __future__ import annotations

import argparse
import time

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np

import geojax
from geojax import so3


def _median_ms(fn, *args, repeats: int = 10) -> float:
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmax", type=int, default=8)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args(argv)
    lmax = args.lmax
    print(f"jax {jax.__version__}, e3nn-jax {e3nn.__version__}, devices {jax.devices()}")

    key_x, key_y, key_r = jax.random.split(jax.random.key(0), 3)
    irreps = e3nn.s2_irreps(lmax)
    x = e3nn.normal(irreps, key_x, (args.batch,))
    y = e3nn.normal(irreps, key_y, (args.batch,))

    print(f"\nGaunt product of two degree-{lmax} signals, output irreps {geojax.gaunt_tensor_product(x, y).irreps}")
    with jax.enable_x64(True):
        x64, y64 = np.asarray(x.array[:4], np.float64), np.asarray(y.array[:4], np.float64)
        ref = geojax.gaunt_tensor_product(x64, y64, method="dense") if lmax <= so3.DENSE_LMAX else None
        for method in ("fourier", "s2grid"):
            out = geojax.gaunt_tensor_product(x64, y64, method=method)
            if ref is not None:
                err = float(jnp.max(jnp.abs(out - ref)) / jnp.max(jnp.abs(ref)))
                print(f"  float64 {method:8s} vs dense Gaunt reference: relative error {err:.1e}")

    rot = e3nn.rand_matrix(key_r, ())
    out = geojax.gaunt_tensor_product(x, y)
    moved = geojax.gaunt_tensor_product(x.transform_by_matrix(rot), y.transform_by_matrix(rot))
    err = float(jnp.max(jnp.abs(moved.array - out.transform_by_matrix(rot).array)) / jnp.max(jnp.abs(out.array)))
    print(f"  float32 rotation equivariance error: {err:.1e}")

    print(f"\nmedian time per call, batch {args.batch}, float32, after compilation:")
    for method in ("auto", "s2grid", "fourier"):
        fn = jax.jit(lambda a, b, m=method: geojax.gaunt_tensor_product(a, b, method=m))
        print(f"  geojax {method:8s} {_median_ms(fn, x.array, y.array):8.3f} ms")


if __name__ == "__main__":
    main()
