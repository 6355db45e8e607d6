"""Samples shared by the univariate tests."""

import pytest

from neuralpaths import univariate as U


@pytest.fixture
def data():
    return U.interpolation_samples(6, seed=0)
