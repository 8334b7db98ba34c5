"""Test setup: import the package from this source tree (not an installed
copy), restore the library's process-wide settings after each test, and give
each test the ISAs to run on."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir)))

import simdnorm  # noqa: E402

ISAS = simdnorm.supported_isas()


@pytest.fixture(autouse=True)
def _restore_settings():
    threads = simdnorm.get_num_threads()
    yield
    simdnorm.set_isa(None)
    simdnorm.set_num_threads(threads)


@pytest.fixture(params=ISAS)
def every_isa(request):
    """Runs the test once per ISA this CPU and build support, capped to it."""
    simdnorm.set_isa(request.param)
    assert simdnorm.isa() == request.param
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
