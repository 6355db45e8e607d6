"""Kernel tests run on tiny tensors: one intra-op thread avoids thread-barrier waits that dominate
such tests on a loaded machine (measured 10x slower with 2 threads under contention). Numbers are
unaffected; thread counts are restored after each test."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
