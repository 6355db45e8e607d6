"""The restricted unpickler: plain containers and numpy arrays load; any other global is refused
before it can run."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from neuralpaths.data.safe_pickle import ALLOWED_GLOBALS, restricted_loads

from .py2pickle import dumps_py2


class _RunsCommand:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


class _CallsNumpyLoad:
    def __reduce__(self):
        return (np.load, ("/nonexistent.npy",))


def test_malicious_pickle_is_rejected_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"data": _RunsCommand(f"touch {marker}")}, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load global (posix|os)\.system"):
        restricted_loads(payload)
    assert not marker.exists()
    pickle.loads(payload)  # the same bytes do run under plain pickle: the test's payload is live
    assert marker.exists()


@pytest.mark.parametrize(("obj", "name"), [(_CallsEval(), "builtins.eval"), (_CallsNumpyLoad(), "numpy.")])
def test_other_globals_are_rejected_by_exact_name(obj, name):
    with pytest.raises(pickle.UnpicklingError, match=name.replace(".", r"\.")):
        restricted_loads(pickle.dumps(obj, protocol=4))


def test_python2_format_arrays_round_trip_exactly():
    rng = np.random.default_rng(0)
    obj = {
        b"data": rng.integers(0, 256, (4, 6), dtype=np.uint8),
        b"labels": [3, 1, 4, 1],
        b"x": rng.random((2, 3)).astype(np.float32),
        b"y": np.array([-1, 2**40], dtype=np.int64),
        b"name": b"a" * 300,
    }
    back = restricted_loads(dumps_py2(obj), encoding="bytes")
    assert back.keys() == obj.keys()
    for k, v in obj.items():
        if isinstance(v, np.ndarray):
            assert back[k].dtype == v.dtype and np.array_equal(back[k], v)
        else:
            assert back[k] == v


def test_python3_protocol4_arrays_load():
    a = np.arange(10, dtype=np.uint8).reshape(2, 5)
    back = restricted_loads(pickle.dumps({"data": a, "labels": [1, 2]}, protocol=4))
    assert np.array_equal(back["data"], a) and back["labels"] == [1, 2]


def test_allowlist_is_only_array_reconstruction():
    assert set(ALLOWED_GLOBALS) == {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }
