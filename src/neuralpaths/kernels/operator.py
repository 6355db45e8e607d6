"""``K V`` for a symmetric kernel matrix too large to hold in float64: the lower triangle computed
once by row blocks and stored within a memory budget, products by tiles on all CPU cores.

**Why this layout.** A kernel's closed form costs far more per entry than a multiply-add, so the
lower triangle (half of ``n²`` entries) is evaluated once and kept: in float64 when it fits in the
budget, else float32 (``2 n²`` bytes, 7.2 GB at n = 60 000); blocks beyond the budget are recomputed
at every product. A product is then a read of the stored half, ``y[s:e] += B v[:e]`` and
``y[:s] += B[:, :s]ᵀ v[s:e]`` for each row block ``B``, with all right-hand sides at once.

Each row block is stored as a row of contiguous *tiles* (``(rows, w)`` column slices, ``rows · w ≈``
:data:`CHUNK_ENTRIES`), so a product converts each tile to float64 by one contiguous read into a
buffer that stays in cache, and uses it for both halves. Products run the blocks on
``threads`` worker threads at once, each with single-threaded BLAS and its own output, the blocks
dealt by size, the outputs summed in a fixed order (the same numbers at every call): thin products
split over a shared BLAS thread pool wait at a barrier each, and on two cores that made the product
1.3–2.9x slower (n = 60 000: 2.9 s instead of 4.6–8.3 s). The thread count is process-wide
(``torch.set_num_threads``): set to 1 during a product and restored after.

Shape:
    ``X: (n, d)``, ``K: (n, n)``; ``matvec``: ``(n, k) -> (n, k)``; ``columns``: ``(s,) -> (n, s)``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

from ..environment import num_threads

KernelFn = Callable[[Tensor, Tensor], Tensor]
BLOCK_ENTRIES = 1 << 24  # kernel entries per row block of the operator (128 MiB in float64)
CHUNK_ENTRIES = 1 << 17  # stored entries per tile (1 MiB in float64: stays in a core's cache)
MEMORY_FRACTION = 0.5  # of the available memory: Cholesky's two (n, n) matrices, or the kernel store
FALLBACK_MEMORY = 8 << 30  # bytes assumed available when the system does not say


def available_memory() -> int:
    """Bytes of memory available now: psutil if installed, else ``/proc/meminfo``, else 8 GiB."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return FALLBACK_MEMORY


def memory_budget(budget: int | None) -> int:
    """The budget in bytes: ``budget``, or :data:`MEMORY_FRACTION` of :func:`available_memory`."""
    return int(budget) if budget is not None else int(MEMORY_FRACTION * available_memory())


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def deal(sizes: list[int], parts: int) -> list[list[int]]:
    """Indices of ``sizes`` dealt into ``parts`` groups of near-equal total, largest first (each
    to the lightest group so far; ties to the first), each group in increasing order."""
    groups: list[list[int]] = [[] for _ in range(parts)]
    load = [0] * parts
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        j = load.index(min(load))
        groups[j].append(i)
        load[j] += sizes[i]
    return [sorted(g) for g in groups if g]


class KernelOperator:
    """``K V`` by row blocks of a symmetric kernel, the lower triangle stored within a budget.

    Either ``K`` (a given ``(n, n)`` matrix, used as is) or ``kernel(A, B) -> (len(A), len(B))`` and
    the data ``X``. Blocks of rows ``[s, e)`` hold ``k(X[s:e], X[:e])`` (diagonal block symmetrised),
    stored by tiles; the first blocks are stored (in ``store_dtype``: ``None`` chooses float64 if
    the whole lower triangle fits in ``budget`` bytes, else float32) until the budget is spent, the
    others recomputed at every product. Products are computed in ``X``'s dtype, on ``threads``
    worker threads (``None``: ``torch.get_num_threads()`` at each product; CPU only).

    Shape:
        ``X: (n, d)``, ``K: (n, n)``; ``matvec``: ``(n, k) -> (n, k)``; ``columns``: ``(s,) -> (n, s)``.
    """

    def __init__(
        self,
        kernel: KernelFn | None = None,
        X: Tensor | None = None,
        *,
        K: Tensor | None = None,
        budget: int | None = None,
        store_dtype: torch.dtype | None = None,
        block_rows: int | None = None,
        threads: int | None = None,
    ):
        if (K is None) == (kernel is None or X is None):
            raise ValueError("KernelOperator needs either K or both kernel and X")
        self.kernel, self.X, self.K, self.threads = kernel, X, K, threads
        ref = K if K is not None else X
        self.n, self.dtype, self.device = len(ref), ref.dtype, ref.device
        self.passes = 0  # products computed (kernel passes over all blocks)
        if K is not None:
            self._diag = K.diagonal().clone()
            return
        n = self.n
        rows = block_rows or max(16, min(4096, BLOCK_ENTRIES // max(n, 1)))
        self.starts = list(range(0, n, rows))
        self.rows = rows
        budget = memory_budget(budget)
        half = n * (n + rows) // 2
        if store_dtype is None:
            store_dtype = self.dtype if half * _itemsize(self.dtype) <= budget else torch.float32
        self.store_dtype = store_dtype
        self.blocks: list[Tensor | None] = []  # stored blocks, flat: their tiles one after another
        diag, spent = [], 0
        for s in self.starts:
            e = min(s + rows, n)
            size = (e - s) * e * _itemsize(store_dtype)
            if spent + size <= budget:
                b = self._block(s, e)
                flat = torch.empty((e - s) * e, dtype=store_dtype, device=self.device)
                for c, ce in self._tiles(s, e):
                    flat[(e - s) * c : (e - s) * ce].view(e - s, ce - c).copy_(b[:, c:ce])
                self.blocks.append(flat)
                spent += size
                diag.append(b[:, s:e].diagonal().clone())  # a copy: a view would keep b alive
            else:
                self.blocks.append(None)
                diag.append(kernel(X[s:e], X[s:e]).to(self.dtype).diagonal().clone())
        self.stored_bytes = spent
        self._diag = torch.cat(diag)

    def _block(self, s: int, e: int) -> Tensor:
        b = torch.as_tensor(self.kernel(self.X[s:e], self.X[:e])).to(device=self.device, dtype=self.dtype)
        d = b[:, s:e]
        d.copy_((d + d.T) / 2)
        return b

    def _tiles(self, s: int, e: int) -> list[tuple[int, int]]:
        """Column ranges ``[c, ce)`` of the tiles of the row block ``[s, e)``."""
        width = max(1, CHUNK_ENTRIES // (e - s))
        return [(c, min(c + width, e)) for c in range(0, e, width)]

    @property
    def stored_fraction(self) -> float:
        """Fraction of the lower triangle's blocks that are stored (1.0 for a given ``K``)."""
        if self.K is not None:
            return 1.0
        return sum(b is not None for b in self.blocks) / len(self.blocks)

    def diagonal(self) -> Tensor:
        return self._diag

    def matvec(self, V: Tensor) -> Tensor:
        """``K V``. Shape: ``(n, k) -> (n, k)``."""
        self.passes += 1
        if self.K is not None:
            return self.K @ V
        VT = V.T.contiguous()  # (k, n): right-hand sides as rows, 1.8x faster products than (n, k)
        stored = [i for i, b in enumerate(self.blocks) if b is not None]
        threads = self.threads or torch.get_num_threads()
        parts = [stored]
        if threads > 1 and self.device.type == "cpu" and len(stored) > 1:
            sizes = [self.blocks[i].numel() for i in stored]
            parts = [[stored[j] for j in g] for g in deal(sizes, threads)]
        if len(parts) > 1:
            with num_threads(1), ThreadPoolExecutor(len(parts)) as pool:
                outs = list(pool.map(lambda p: self._apply(VT, p), parts))
            out = outs[0]
            for o in outs[1:]:
                out += o
        else:
            out = self._apply(VT, stored)
        missing = [i for i, b in enumerate(self.blocks) if b is None]
        if missing:  # recomputed here, with every thread for the kernel
            out += self._apply(VT, missing)
        return out.T.contiguous()

    def _apply(self, VT: Tensor, ids: list[int]) -> Tensor:
        """``(K V)ᵀ`` restricted to the blocks ``ids``. Shape: ``(k, n) -> (k, n)``."""
        out = torch.zeros_like(VT)  # (k, n)
        buf = VT.new_empty(CHUNK_ENTRIES)  # a tile in the product's dtype, reused
        for i in ids:
            s, flat = self.starts[i], self.blocks[i]
            e = min(s + self.rows, self.n)
            b = self._block(s, e) if flat is None else None  # (e − s, e), recomputed
            for c, ce in self._tiles(s, e):
                if b is not None:
                    tile = b[:, c:ce]
                else:
                    tile = flat[(e - s) * c : (e - s) * ce].view(e - s, ce - c)
                    if tile.dtype != VT.dtype:
                        tile = buf[: tile.numel()].view(tile.shape).copy_(tile)
                out[:, s:e].addmm_(VT[:, c:ce], tile.T)
                left = min(ce, s) - c  # columns of the tile left of the diagonal block: mirrored
                if left > 0:
                    out[:, c : c + left].addmm_(VT[:, s:e], tile[:, :left])
        return out

    def columns(self, idx: Tensor) -> Tensor:
        """``K[:, idx]``. Shape: ``(s,) -> (n, s)``."""
        if self.K is not None:
            return self.K[:, idx]
        out = torch.as_tensor(self.kernel(self.X, self.X[idx])).to(device=self.device, dtype=self.dtype)
        return out
