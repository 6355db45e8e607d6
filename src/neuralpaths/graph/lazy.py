"""Values of the unit-weight network on pairs, kept as sums of factored terms.

A :class:`Term` is ``coef · Σ_R base ⊙ f(x) ⊙ f(x')``: a per-pair ``base`` (broadcast over the units
it does not depend on), per-sample factors ``f`` (the gates met since the last layer, in the term's
own *native* unit layout) and, after a global average pool, trailing native dims ``R`` still to be
summed. Reshapes change only the :class:`Acc`'s *logical* shape. So the unit sums of an all-ones
layer are matrix products — ``base · (F F'ᵀ)`` (a ``Linear``) or the per-position channel overlap
``Σ_c f_c f'_c`` (a ``Conv``, a global pool followed by a ``Linear``) — never ``pairs × units``
tensors. Anything else (max-pooling, strided pooling, concatenation, permutations) works on the
explicit values.

Shape:
    ``base: (b1 | 1, n2 | 1, *broadcastable to native)``, ``f1: (b1, *native)``, ``f2: (n2, *native)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor


def overlap(f1: Tensor, f2: Tensor) -> Tensor:
    """``Σ_c f1_c f2_c`` per position. Shape: ``(b1, C, *sp), (n2, C, *sp) -> (b1, n2, *sp)``."""
    b1, c, sp = f1.shape[0], f1.shape[1], f1.shape[2:]
    pos = math.prod(sp)
    # contiguous copies: bmm on permuted views is ~60x slower on CPU
    a = f1.reshape(b1, c, pos).permute(2, 0, 1).contiguous()  # (b1, C, P) -> (P, b1, C)
    b = f2.reshape(len(f2), c, pos).permute(2, 1, 0).contiguous()  # (n2, C, P) -> (P, C, n2)
    return torch.bmm(a, b).permute(1, 2, 0).reshape(b1, len(f2), *sp)  # (P, b1, n2) -> (b1, n2, *sp)


@dataclass
class Term:
    """``coef · Σ_{last red native dims} base ⊙ f1[:, None] ⊙ f2[None]`` (see the module docstring)."""

    base: Tensor
    shape: tuple[int, ...]
    f1: Tensor | None = None
    f2: Tensor | None = None
    red: int = 0
    coef: float = 1.0

    def native(self, pairs: tuple[int, int]) -> Tensor:
        """Explicit, unreduced: ``(b1, n2, *shape)``."""
        v = self.base if self.f1 is None else self.base * self.f1[:, None] * self.f2[None]
        return v.expand(*pairs, *self.shape)

    def value(self, pairs: tuple[int, int], logical: tuple[int, ...]) -> Tensor:
        """Explicit in the logical shape: ``(b1, n2, *logical)``."""
        v = self.native(pairs)
        if self.red:
            v = v.sum(dim=tuple(range(-self.red, 0)))
        if self.coef != 1.0:
            v = v * self.coef
        return v.reshape(*pairs, *logical)

    def explicit(self, pairs: tuple[int, int], logical: tuple[int, ...]) -> Term:
        return Term(self.value(pairs, logical), tuple(logical))

    def uniform(self) -> bool:
        """``base`` is the same for every unit."""
        return all(s == 1 for s in self.base.shape[2:])

    def channel_uniform(self) -> bool:
        """``base`` is the same for every channel (dim 0 of the native units)."""
        return self.base.ndim == 2 + len(self.shape) and len(self.shape) >= 2 and self.base.shape[2] == 1

    def total(self, pairs: tuple[int, int]) -> Tensor:
        """``Σ`` over every unit (reduced ones included), ``(b1, n2)``."""
        b1, n2 = self.base.shape[:2]
        if self.uniform():
            base = self.base.reshape(b1, n2)
            if self.f1 is None:
                out = base * math.prod(self.shape)
            else:
                out = base * (self.f1.flatten(1) @ self.f2.flatten(1).T)  # (b1, n2)
        elif self.channel_uniform() and self.f1 is not None:
            s = self.base[:, :, 0] * overlap(self.f1, self.f2)  # (b1, n2, *sp)
            out = s.flatten(2).sum(2)
        else:
            out = self.native(pairs).flatten(2).sum(2)
        return out.expand(*pairs) * self.coef

    def gated(self, a: Tensor, b: Tensor) -> Term:
        """Times gates ``a(x) ⊙ b(x')`` given in any shape with this term's number of units."""
        a, b = a.reshape(len(a), *self.shape), b.reshape(len(b), *self.shape)
        f1 = a if self.f1 is None else self.f1 * a
        f2 = b if self.f2 is None else self.f2 * b
        return replace(self, f1=f1, f2=f2)


@dataclass
class Acc:
    """The unit-weight network's value at one step: a sum of terms with logical unit ``shape``."""

    terms: list[Term]
    shape: tuple[int, ...]
    pairs: tuple[int, int]

    def value(self) -> Tensor:
        """Explicit ``(b1, n2, *shape)``."""
        out = self.terms[0].value(self.pairs, self.shape)
        for t in self.terms[1:]:
            out = out + t.value(self.pairs, self.shape)
        return out

    def flat(self) -> Tensor:
        return self.value().reshape(self.pairs[0] * self.pairs[1], *self.shape)  # (b1 n2, *S)

    def with_terms(self, terms: list[Term], shape: tuple[int, ...] | None = None) -> Acc:
        return Acc(terms, self.shape if shape is None else tuple(shape), self.pairs)

    def aligned(self) -> list[Term]:
        """The terms, each with native layout = the logical shape and nothing pending."""
        ok = [t.shape == self.shape and not t.red for t in self.terms]
        return [t if k else t.explicit(self.pairs, self.shape) for t, k in zip(self.terms, ok)]

    @staticmethod
    def explicit(t: Tensor, pairs: tuple[int, int]) -> Acc:
        """Wrap a flat ``(b1 n2, *S)`` tensor."""
        shape = tuple(t.shape[1:])
        return Acc([Term(t.reshape(*pairs, *shape), shape)], shape, pairs)
