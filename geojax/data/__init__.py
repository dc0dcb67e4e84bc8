"""Offline dataset generators and readers (no network, ever)."""

from geojax.data.tetris import TETRIS_NAMES, TETRIS_SHAPES, random_rotations, tetris_batch

__all__ = ["TETRIS_NAMES", "TETRIS_SHAPES", "random_rotations", "tetris_batch"]
