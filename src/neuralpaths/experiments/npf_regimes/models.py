"""npf-regimes: the architectures (the paper's FC / VCONV / GCONV, a small ResNet, or a user's builder)
and the five regimes built on each.

``Arch`` nets (``fc``, ``vconv``, ``gconv``) use the library's ReLU nets and ``DGN.regime``; module
nets (``resnet``, a builder ``"file.py:function"``) use ``DGN.from_module``. Both draw every regime's
fresh weights from the same seeds: ``1000·seed`` for the ReLU net, ``1000·seed + i + 1`` for regime
``i``.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from neuralpaths import count_paths
from neuralpaths.errors import ConfigError
from neuralpaths.graph import UnsupportedLayerError, path_model
from neuralpaths.graph import describe as describe_layers
from neuralpaths.models import DGN, Arch, ReLUNet, init_layers_, resnet

ARCHS = ("fc", "vconv", "gconv", "resnet")
REGIMES = ("relu", "frnpf-ii", "frnpf-di", "flnpf", "dlnpf")
CONV_DEFAULTS = {"vconv": (64, 64, 128, 128), "gconv": (64, 64, 128, 128), "resnet": (16, 32)}
Builder = Callable[[tuple[int, ...], int], nn.Module]


def arch_name(cfg) -> str:
    """``fc`` / ``vconv`` / ``gconv`` / ``resnet``, or ``model`` (a user's builder) when it is set."""
    if cfg.model:
        return "model"
    if cfg.arch not in ARCHS:
        known = ", ".join(ARCHS)
        raise ConfigError(f"unknown arch {cfg.arch!r}; use one of {known} (or set model=file.py:function)")
    return cfg.arch


def flat_inputs(cfg) -> bool:
    """Fully connected nets read flattened images; conv nets and builders get ``(C, H, W)``."""
    return arch_name(cfg) == "fc"


def load_builder(spec: str) -> Builder:
    """The function ``fn`` of ``"path/to/file.py:fn"`` (a ConfigError naming what is missing)."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise ConfigError(f"model must be 'path/to/file.py:function', got {spec!r}")
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"model builder file not found: {file}")
    mod_name = f"_neuralpaths_builder_{abs(hash(str(file.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(mod_name, file)
    if loader_spec is None or loader_spec.loader is None:
        raise ConfigError(f"cannot load {file} as a Python module")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[mod_name] = module  # dataclasses and pickling look modules up by name
    try:
        loader_spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(mod_name, None)
        raise ConfigError(f"importing {file} failed: {type(e).__name__}: {e}") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError(f"{file} has no function {name!r}")
    return fn


def _builder(cfg, data) -> Builder:
    """``(in_shape, num_classes) -> nn.Module`` for the module archs."""
    if cfg.model:
        return load_builder(cfg.model)
    if len(data.in_shape) != 3:
        raise ConfigError(f"arch {cfg.arch!r} needs image inputs (C, H, W), got {data.in_shape}")
    return lambda in_shape, k: resnet(
        in_shape,
        k,
        channels=cfg.channels or CONV_DEFAULTS["resnet"],
        blocks=cfg.blocks or (1,) * len(cfg.channels or CONV_DEFAULTS["resnet"]),
        bias=cfg.bias,
    )


def _checked_module(cfg, builder: Builder, data, seed: int, g: torch.Generator | None = None) -> nn.Module:
    """The builder's module with weights drawn by ``cfg.init`` from ``g`` (default: a generator seeded
    with ``seed``, which also seeds the builder's own draws); refuses non-modules and modules without
    a path reading (one-line ConfigError)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # whatever the builder draws itself is seeded too
        try:
            net = builder(tuple(data.in_shape), data.num_classes)
        except ConfigError:
            raise
        except Exception as e:
            raise ConfigError(f"the model builder failed: {type(e).__name__}: {e}") from None
    if not isinstance(net, nn.Module):
        raise ConfigError(f"the model builder must return a torch.nn.Module, got {type(net).__name__}")
    try:
        path_model(net)
    except UnsupportedLayerError as e:
        raise ConfigError(f"the model has no path reading: {str(e).splitlines()[0]}") from None
    init_layers_(
        [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))],
        cfg.init,
        generator=g if g is not None else torch.Generator().manual_seed(seed),
    )
    return net


class Nets:
    """Builds the regimes of one run: ``relu()`` the ReLU net (init), ``regime(name, relu)`` the others."""

    def __init__(self, cfg, data):
        self.cfg, self.data, self.kind = cfg, data, arch_name(cfg)
        self.arch: Arch | None = None
        self.builder: Builder | None = None
        if self.kind in ("fc", "vconv", "gconv"):
            self.arch = _arch(cfg, data, self.kind)
        else:
            self.builder = _builder(cfg, data)
            _checked_module(cfg, self.builder, data, 1000 * cfg.seed)  # fail early, before training

    def relu(self) -> nn.Module:
        if self.arch is not None:
            return ReLUNet(self.arch, init=self.cfg.init, seed=1000 * self.cfg.seed)
        return _checked_module(self.cfg, self.builder, self.data, 1000 * self.cfg.seed)

    def regime(self, name: str, relu: nn.Module | None) -> nn.Module:
        """Regime ``name`` (``flnpf``: from the trained ReLU net ``relu``)."""
        cfg, seed = self.cfg, 1000 * self.cfg.seed + REGIMES.index(name) + 1
        kw = {"init": cfg.init, "beta": cfg.beta, "eps": cfg.eps}
        if self.arch is not None:
            return DGN.regime(name, self.arch, seed=seed, relu_net=relu, **kw)
        g = torch.Generator().manual_seed(seed)  # draws the value net, then the fresh gating net
        base = relu if name == "flnpf" else _checked_module(cfg, self.builder, self.data, seed, g)
        return DGN.from_module(base, name, seed=g, in_shape=tuple(self.data.in_shape), **kw)


def _arch(cfg, data, kind: str) -> Arch:
    if kind == "fc":
        return Arch.mlp(data.in_shape[0], cfg.widths, data.num_classes, bias=cfg.bias)
    c, h, w = data.in_shape
    if h != w:
        raise ConfigError(f"{kind} needs square images, got {h}x{w}")
    make = Arch.vconv if kind == "vconv" else Arch.gconv
    return make(c, h, data.num_classes, cfg.channels or CONV_DEFAULTS[kind], cfg.dense, cfg.bias)


def describe(net: nn.Module, in_shape: tuple[int, ...]) -> dict:
    """``{"summary": one-line layers, "paths": paths per output (bias paths included)}``."""
    n = count_paths(net, in_shape=tuple(in_shape))
    return {"summary": describe_layers(net), "paths": int(n)}


def format_count(n: float) -> str:
    """``12 345`` below a million, else scientific (``1.23e+15``)."""
    return f"{n:,.0f}".replace(",", " ") if n < 1e6 else f"{n:.3g}" if math.isfinite(n) else str(n)
