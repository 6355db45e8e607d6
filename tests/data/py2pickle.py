"""Write pickles the way Python 2 + numpy 1.x did (the format of mnist.pkl.gz and CIFAR-10's batches).

Python 3's pickler cannot produce these (it pickles ``bytes`` through ``_codecs.encode``), so the
opcodes are emitted by hand: protocol 2, ``str`` as ``SHORT_BINSTRING`` / ``BINSTRING`` and arrays as
``numpy.core.multiarray._reconstruct`` + ``BUILD`` with the raw buffer, exactly as in the real files.
"""

from __future__ import annotations

import struct

import numpy as np


def dumps_py2(obj: object) -> bytes:
    out = bytearray(b"\x80\x02")  # PROTO 2
    _emit(obj, out)
    out += b"."  # STOP
    return bytes(out)


def _emit(obj: object, out: bytearray) -> None:
    if obj is None:
        out += b"N"
    elif obj is True or obj is False:
        out += b"\x88" if obj else b"\x89"
    elif isinstance(obj, int):
        out += b"J" + struct.pack("<i", obj)  # BININT
    elif isinstance(obj, str):
        _emit(obj.encode("latin1"), out)  # a Python 2 str is a byte string
    elif isinstance(obj, bytes):
        if len(obj) < 256:
            out += b"U" + bytes([len(obj)]) + obj  # SHORT_BINSTRING
        else:
            out += b"T" + struct.pack("<i", len(obj)) + obj  # BINSTRING
    elif isinstance(obj, tuple):
        out += b"("
        for v in obj:
            _emit(v, out)
        out += b"t"
    elif isinstance(obj, list):
        out += b"]("
        for v in obj:
            _emit(v, out)
        out += b"e"
    elif isinstance(obj, dict):
        out += b"}("
        for k, v in obj.items():
            _emit(k, out)
            _emit(v, out)
        out += b"u"
    elif isinstance(obj, np.ndarray):
        _emit_array(obj, out)
    else:
        raise TypeError(type(obj))


def _emit_array(a: np.ndarray, out: bytearray) -> None:
    byteorder, code = a.dtype.str[0], a.dtype.str[1:]
    out += b"cnumpy.core.multiarray\n_reconstruct\n("
    out += b"cnumpy\nndarray\n"
    _emit((0,), out)
    _emit(b"b", out)
    out += b"tR("  # _reconstruct(ndarray, (0,), 'b'), then the state tuple
    _emit(1, out)
    _emit(tuple(int(s) for s in a.shape), out)
    out += b"cnumpy\ndtype\n("
    _emit(code.encode(), out)
    _emit(0, out)
    _emit(1, out)
    out += b"tR"  # dtype(code, 0, 1)
    _emit((3, byteorder.encode(), None, None, None, -1, -1, 0), out)
    out += b"b"  # BUILD the dtype
    _emit(False, out)  # not Fortran order
    _emit(np.ascontiguousarray(a).tobytes(), out)
    out += b"tb"  # BUILD the array
