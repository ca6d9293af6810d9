"""gp.aligned_colors when the fit has another number of components than the reference (issue 25:
chapter 4 with K = 2 or 4 against the three true clusters)."""

import numpy as np
import pytest

from gmm import plots as gp

REF = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 5.0]])


def test_same_number_matches_align_components():
    perm = np.array([2, 0, 1])
    colors = gp.aligned_colors(REF, REF[perm] + 0.1)
    np.testing.assert_array_equal(colors[np.argsort(perm)], gp.component_colors(3))


def test_more_components_than_references():
    """Each true cluster keeps its colour on its nearest component; the extra gets colour 3."""
    means = np.array([[0.1, 5.0], [6.0, 6.0], [5.0, 5.1], [0.0, -0.2]])
    colors = gp.aligned_colors(REF, means)
    base = gp.component_colors(4)
    np.testing.assert_array_equal(colors, base[[2, 3, 1, 0]])


def test_fewer_components_than_references():
    """Two components take the colours of the two clusters they match best."""
    means = np.array([[4.9, 5.0], [0.0, 1.0]])
    colors = gp.aligned_colors(REF, means)
    np.testing.assert_array_equal(colors, gp.component_colors(3)[[1, 0]])


def test_different_dimensions_are_refused():
    with pytest.raises(ValueError, match=r"expected two arrays of means \(R, D\) and \(K, D\)"):
        gp.aligned_colors(REF, np.zeros((4, 3)))
