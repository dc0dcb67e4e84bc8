"""Bad input: trace-time errors where shapes or static arguments decide, NaN where values do."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from geojax import lie

KEY = jax.random.key(0)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: lie.polar(np.ones((2, 3))), r"g must have shape \[\.\.\., n, n\], got shape \(2, 3\)"),
        (lambda: lie.iwasawa(np.ones(3)), r"g must have shape"),
        (lambda: lie.split_scale(np.ones((4, 2, 3))), r"got shape \(4, 2, 3\)"),
        (lambda: lie.sym_exp(np.ones((3, 2))), r"s must have shape"),
        (lambda: lie.spd_log(np.ones((1, 2))), r"p must have shape"),
        (lambda: lie.logm(np.ones((2, 3))), r"a must have shape"),
        (lambda: lie.SL(2).to_chart(np.eye(3)), r"g must have shape \[\.\.\., 2, 2\], got shape \(3, 3\)"),
        (lambda: lie.SL(3).log(np.eye(2)), r"\[\.\.\., 3, 3\]"),
        (lambda: lie.GLPlus(2).from_chart(np.zeros(3)), r"c must have shape \[\.\.\., 4\], got shape \(3,\)"),
        (lambda: lie.SO(3).from_chart(np.zeros((5, 2))), r"c must have shape \[\.\.\., 3\]"),
        (lambda: lie.SO(2).compose(np.eye(2), np.eye(3)), r"b must have shape \[\.\.\., 2, 2\]"),
        (lambda: lie.SL(2).act(np.eye(2), np.ones((5, 3))), r"points must have shape \[\.\.\., 2\]"),
        (lambda: lie.SPD(2).act(np.eye(2), np.ones((5, 2))), r"points must have shape \[\.\.\., 2, 2\]"),
        (lambda: lie.SL(2).hat(np.zeros(2)), r"coords must have shape \[\.\.\., 3\]"),
        (lambda: lie.Affine(lie.SL(2)).act(np.eye(3), np.ones(3)), r"points must have shape \[\.\.\., 2\]"),
        (lambda: lie.Affine(lie.SL(2)).to_chart(np.eye(2)), r"\[\.\.\., 3, 3\]"),
        (lambda: lie.Affine(lie.SL(2)).from_parts(np.eye(2), np.ones(3)), r"t must have shape \[\.\.\., 2\]"),
        (lambda: lie.SO(1), r"SO\(n\) must be >= 2, got 1"),
        (lambda: lie.SL(0), r"must be >= 2"),
        (lambda: lie.SL(2).sample(KEY, (-1,)), r"shape must be an int or a tuple of ints >= 0"),
        (lambda: lie.SL(2).sample(KEY, (2.5,)), r"shape must be"),
        (lambda: lie.SL(2).sample(KEY, 3, sigma=0.0), r"sigma must be a finite number > 0, got 0.0"),
        (lambda: lie.GLPlus(2).sample(KEY, 3, sigma_scale=-1.0), r"sigma_scale must be"),
        (lambda: lie.SPD(2, unit_det=True).sample(KEY, 3, sigma_scale=1.0), r"sigma_scale must be None"),
        (lambda: lie.Affine(lie.SO(2)).sample(KEY, 3, sigma_translation=float("nan")), r"sigma_translation"),
        (lambda: lie.SL(2).log_density(np.eye(2), sigma=-2.0), r"sigma must be"),
        (lambda: lie.SO(2).contains(np.eye(2), tol=-1.0), r"tol must be >= 0"),
        (lambda: lie.basis("sym1", 3), r"kind must be one of"),
        (lambda: lie.draw(lie.SO(2), KEY, 0), r"num must be an int >= 1"),
    ],
)
def test_value_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: lie.polar(np.eye(2, dtype=np.int32)), r"g must be a real floating-point array, got dtype int32"),
        (lambda: lie.SL(3).to_chart(lie.SL(3).sample(KEY, 4)), r"g must be a real floating-point array, got a tuple .*pass g"),
        (lambda: lie.SL(2).log(np.eye(2, dtype=np.complex64)), r"floating-point"),
        (lambda: lie.SO(2.0), r"must be a Python int"),
        (lambda: lie.SPD(2, unit_det=1), r"unit_det\) must be a bool"),
        (lambda: lie.Affine(lie.SPD(2)), r"SPD is not a group"),
        (lambda: lie.Affine(3), r"Affine\(G\) needs"),
        (lambda: lie.SPD(2).compose(np.eye(2), np.eye(2)), r"not a group under matrix products"),
        (lambda: lie.SL(2).sample(KEY, 3, dtype=jnp.int32), r"dtype must be a floating dtype"),
        (lambda: lie.SL(2).sample(KEY, 3, scale=1.0), r"scale"),
        (lambda: lie.lifting_conv(lambda x: x, lie.SPD(2), *([None] * 5)), r"group must be SO\(n\), SL\(n\) or GLPlus"),
        (lambda: lie.integrate(np.ones(3), (np.ones((3, 2, 2)), np.ones(3))), r"samples must be a SampleSet"),
    ],
)
def test_type_errors(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_integration_shape_errors():
    s = lie.SampleSet(jnp.eye(2)[None].repeat(4, 0), jnp.zeros(4))
    with pytest.raises(ValueError, match=r"values must have shape \[N, \.\.\.\] with N = 4"):
        lie.integrate(jnp.ones(3), s)
    with pytest.raises(ValueError, match=r"log_density \[N\]"):
        lie.importance_weights(lie.SampleSet(jnp.eye(2)[None].repeat(4, 0), jnp.zeros(3)))
    f = lie.GroupFeatures(jnp.ones((5, 3, 2)), s)
    with pytest.raises(ValueError, match=r"features.values \[P, N, C\]"):
        lie.group_conv(lambda x, c: x, lie.SL(2), f, jnp.ones((5, 2)), jnp.ones(5), jnp.ones((2, 2)))
    with pytest.raises(ValueError, match=r"samples.elements must have shape \[\.\.\., 2, 2\]"):
        lie.translate(lie.SL(2), lie.SampleSet(jnp.ones((4, 3, 3)), jnp.zeros(4)), jnp.eye(2))


_OUTSIDE = [
    (lie.GLPlus(2), np.diag([1.0, -1.0])),
    (lie.GLPlus(2), np.array([[1.0, 2.0], [2.0, 4.0]])),
    (lie.SL(2), np.diag([2.0, 1.0])),
    (lie.SL(2), np.diag([1.0, -1.0])),
    (lie.SO(2), np.diag([2.0, 1.0])),
    pytest.param(lie.GLPlus(3), np.diag([1.0, 1.0, -1.0]), marks=pytest.mark.slow),
    pytest.param(lie.SL(3), np.diag([2.0, 1.0, 1.0]), marks=pytest.mark.slow),
    pytest.param(lie.SO(3), np.diag([1.0, 1.0, -1.0]), marks=pytest.mark.slow),
]
_OUTSIDE_SPD = [
    (lie.SPD(2), np.array([[2.0, 0.5], [0.0, 1.0]])),
    (lie.SPD(2), np.diag([1.0, -2.0])),
    pytest.param(lie.SPD(3), np.diag([1.0, -1.0, 1.0]), marks=pytest.mark.slow),
    pytest.param(lie.SPD(2, unit_det=True), np.diag([2.0, 1.0]), marks=pytest.mark.slow),
]


@functools.partial(jax.jit, static_argnums=0)
def _guarded_outputs(group, g):
    return group.contains(g), [group.log(g), group.to_chart(g), group.log_density(g), group.inverse(g)]


@pytest.mark.parametrize("group,g", _OUTSIDE + _OUTSIDE_SPD, ids=lambda x: str(x) if not isinstance(x, np.ndarray) else "")
def test_values_outside_the_group_give_nan_not_garbage(group, g):
    """Non-members (det <= 0 for GL+, det != 1 for SL, non-orthogonal for SO, non-symmetric or
    indefinite for SPD): contains is False and log / to_chart / log_density are NaN (inverse
    too where it assumes membership: SO, SPD)."""
    with jax.enable_x64(True):
        ok, outs = _guarded_outputs(group, jnp.asarray(g))
    assert not bool(ok)
    checked = outs if isinstance(group, (lie.SO, lie.SPD)) else outs[:3]
    for out in checked:
        assert bool(jnp.all(jnp.isnan(out)))


def test_value_level_domains_2x2():
    with jax.enable_x64(True):
        nonsym = np.array([[2.0, 0.5], [0.0, 1.0]])
        for f in (lie.spd_log, lie.spd_sqrt, lie.sym_exp):
            assert bool(jnp.all(jnp.isnan(f(nonsym))))
        assert bool(jnp.all(jnp.isnan(lie.spd_log(np.diag([1.0, -2.0])))))
        # algebra inputs that are not in the algebra
        assert bool(jnp.all(jnp.isnan(lie.SO(2).exp(np.eye(2)))))
        assert bool(jnp.all(jnp.isnan(lie.SL(2).exp(np.eye(2)))))
        # det != 1 within the tolerance is accepted (and treated as its projection)
        near = np.diag([2.0, 0.5 * (1 + 1e-10)])
        assert bool(jnp.all(jnp.isfinite(lie.SL(2).to_chart(near))))
        # the principal log does not exist: tr g <= -2 in SL(2)
        assert bool(jnp.all(jnp.isnan(lie.SL(2).log(np.array([[-1.0, 1.0], [0.0, -1.0]])))))
        # project maps near-members onto the group
        assert bool(lie.SL(2).contains(lie.SL(2).project(np.diag([2.0, 1.0]))))
        assert bool(lie.SO(2).contains(lie.SO(2).project(np.eye(2) + 0.01)))
