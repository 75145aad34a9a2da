"""Re-ID tests run torch single-threaded: on a CPU shared with other jobs, intra-op threads
spin-wait and run up to ~10x slower (see `vigil bench reid --threads`); restored afterwards."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
