"""Invariant representations: canonical MDS coordinates (TinvNN) and PCA frame averaging."""

from geojax.invariant.frames import frame_average, pca_frames
from geojax.invariant.mds import InvariantInfo, classical_mds, mds_coords

__all__ = ["InvariantInfo", "classical_mds", "frame_average", "mds_coords", "pca_frames"]
