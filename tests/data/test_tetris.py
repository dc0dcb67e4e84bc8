import jax
import numpy as np

from geojax.data import TETRIS_SHAPES, random_rotations, tetris_batch


def test_batches_are_deterministic_centred_and_rigid():
    a = tetris_batch(jax.random.key(3), 32)
    b = tetris_batch(jax.random.key(3), 32)
    np.testing.assert_array_equal(a["pos"], b["pos"])
    np.testing.assert_allclose(a["pos"].mean(1), 0, atol=1e-5)
    # rotations preserve all pairwise distances of the labelled shape
    d = lambda p: np.linalg.norm(p[:, :, None] - p[:, None], axis=-1)
    ref = TETRIS_SHAPES[a["label"]]
    np.testing.assert_allclose(d(a["pos"]), d(ref), atol=1e-5)
    assert not np.allclose(a["pos"], ref - ref.mean(1, keepdims=True))


def test_random_rotations_are_proper_and_uniform():
    r = random_rotations(jax.random.key(0), 20000).astype(np.float64)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-5)
    np.testing.assert_allclose(r @ np.swapaxes(r, 1, 2), np.broadcast_to(np.eye(3), r.shape), atol=1e-5)
    trace = np.trace(r, axis1=1, axis2=2)
    # Haar: E[tr R] = 0, E[(tr R)^2] = 1; standard errors ~ 1/sqrt(n) = 0.007
    assert abs(trace.mean()) < 0.03 and abs((trace**2).mean() - 1) < 0.05
