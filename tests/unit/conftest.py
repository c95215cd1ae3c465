"""Fixtures shared by the unit tier."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module: on tiny tensors torch's thread pool only adds contention (20× slower on a
    busy 2-core machine). Opt in with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
