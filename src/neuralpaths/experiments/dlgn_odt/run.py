"""dlgn-odt: the protocol — every model on COB-ODT data at each learning rate, then hyperplane attraction."""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import torch

from neuralpaths.data import ObliqueTree, Splits, cob_odt
from neuralpaths.errors import ConfigError
from neuralpaths.geometry import DEFAULT_RADII, Hyperplanes, attraction_rows, gating_hyperplanes
from neuralpaths.models import DLGN, MLP
from neuralpaths.parallel import check_jobs, map_trials

from ..common import train, train_config

MODELS = ("dlgn", "dlgn-sf", "relu", "relu-sklearn")
SKLEARN = "relu-sklearn"  # the paper's ReLU baseline as its code ran it (scikit-learn's MLPClassifier)


@dataclass(frozen=True)
class Config:
    """Per-dimension settings are tuples over ``dims`` (a 1-tuple applies to every ``d``)."""

    seed: int = 0
    device: str = "cpu"  # cpu | cuda | cuda:N | auto (CUDA if available): where training runs
    data_seed: int = 365  # the paper's Table 7 seed (our generator draws a different tree from it)
    dims: tuple[int, ...] = (20,)
    n_points: tuple[int, ...] = (40000,)  # before the 50/25/25 split (paper: 40k / 60k / 100k)
    tree_depth: int = 4
    models: tuple[str, ...] = ("dlgn", "dlgn-sf", "relu")  # also "relu-sklearn": the paper's baseline
    dlgn_layers: tuple[int, ...] = (4,)  # the paper's Table 1 net: L = 4, m = 20
    dlgn_width: tuple[int, ...] = (20,)
    dlgn_beta: tuple[float, ...] = (4.0,)
    dlgn_lr: tuple[float, ...] = (0.01,)
    sf_layers: tuple[int, ...] = (4,)  # README, d = 20: 4 x 10, beta 30, lr 0.02
    sf_width: tuple[int, ...] = (10,)
    sf_beta: tuple[float, ...] = (30.0,)
    sf_lr: tuple[float, ...] = (0.02,)
    relu_layers: tuple[int, ...] = (4,)  # matched: the DLGN's layers and widths
    relu_width: tuple[int, ...] = (20,)
    relu_lr: tuple[float, ...] = (0.01,)
    lr_grid: tuple[float, ...] = (0.005, 0.01, 0.02, 0.05)  # part of the paper's Table 9 grid
    lr_grid_models: tuple[str, ...] = ("dlgn", "dlgn-sf", "relu")  # try every lr_grid value, keep the best
    # relu-sklearn: the paper's grid (hidden sizes "100x100x100", "500x500x500", "500x500x500x500",
    # "1000x1000x1000x1000"; lr 0.001, 0.005, 0.0001; max_iter 200, 500, 1000), by k-fold CV
    sk_hidden: tuple[str, ...] = ("100x100x100",)
    sk_lr_grid: tuple[float, ...] = (0.001, 0.005, 0.0001)
    sk_max_iter: tuple[int, ...] = (200,)
    sk_cv: int = 3
    epochs: int = 1000
    batches: int = 10  # mini-batches per epoch (the paper's no_of_batches)
    eval_every: int = 5
    top_depth: int = 1  # "top-level splits": tree nodes at depth <= this
    radii: tuple[float, ...] = DEFAULT_RADII
    threads: int = 1  # torch threads while running (small nets: 1 is fastest); 0 leaves torch's setting
    jobs: int = 1  # trainings (d, model, lr) at once, in worker processes; the same numbers


def per_dim(cfg: Config, name: str, i: int):
    """Setting ``name`` for the ``i``-th dimension (1-tuples broadcast)."""
    values = getattr(cfg, name)
    return values[0] if len(values) == 1 else values[i]


def _check(cfg: Config) -> None:
    for field in ("models", "lr_grid_models"):
        names = getattr(cfg, field)
        if set(names) - set(MODELS) or (field == "models" and not names):
            raise ConfigError(f"{field} must be among {MODELS}, got {names}")
    if SKLEARN in cfg.lr_grid_models:
        raise ConfigError(f"{SKLEARN} searches its own grid (sk_lr_grid); leave it out of lr_grid_models")
    for h in cfg.sk_hidden:
        _hidden(h)
    if not (cfg.sk_hidden and cfg.sk_lr_grid and cfg.sk_max_iter) or cfg.sk_cv < 2:
        raise ConfigError("sk_hidden, sk_lr_grid and sk_max_iter need a value each, and sk_cv >= 2 folds")
    per = [f for f in Config.__dataclass_fields__ if f.split("_")[0] in ("dlgn", "sf", "relu")]
    for name in ("n_points", *per):
        if len(getattr(cfg, name)) not in (1, len(cfg.dims)):
            raise ConfigError(
                f"{name} has {len(getattr(cfg, name))} values; give one, or one per d in dims={cfg.dims}"
            )
    if cfg.epochs < 1 or cfg.batches < 1 or cfg.eval_every < 1:
        raise ConfigError("epochs, batches and eval_every must be positive integers")
    check_jobs(cfg.jobs, "jobs")


def make_splits(n: int, d: int, depth: int, seed: int) -> tuple[Splits, ObliqueTree]:
    """COB-ODT data split 50/25/25 (the points are i.i.d., so in order) and the tree.

    Shape:
        ``x_*: (n_*, d)`` float32, ``y_*: (n_*,)`` int64 in {0, 1}; tree normals ``(2^depth - 1, d)``.
    """
    x, y, tree = cob_odt(n, d, depth, seed=seed)
    a, b = n // 2, (3 * n) // 4
    return Splits(f"cob-odt-d{d}", x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], 2), tree


@lru_cache(maxsize=1)
def _splits(n: int, d: int, depth: int, seed: int) -> tuple[Splits, ObliqueTree]:
    """:func:`make_splits`, kept for the next call with the same arguments (the trials of one ``d``
    follow each other, in this process or in a worker, and all read the same data)."""
    return make_splits(n, d, depth, seed)


def dim_splits(cfg: Config, i: int) -> tuple[Splits, ObliqueTree]:
    """The data and the tree of the ``i``-th dimension (drawn from ``data_seed``: the same in every
    process)."""
    return _splits(per_dim(cfg, "n_points", i), cfg.dims[i], cfg.tree_depth, cfg.data_seed)


def make_model(cfg: Config, name: str, i: int, d: int) -> torch.nn.Module:
    """Model ``name`` for the ``i``-th dimension ``d``: bias-free, two output logits (as the paper's
    nets and data, whose hyperplanes all pass through the origin); DLGNs feed ones to the value net."""
    prefix = {"dlgn": "dlgn", "dlgn-sf": "sf", "relu": "relu"}[name]
    widths = [per_dim(cfg, f"{prefix}_width", i)] * per_dim(cfg, f"{prefix}_layers", i)
    seed = 1000 * cfg.seed + MODELS.index(name)
    if name == "relu":
        return MLP(d, widths, 2, seed=seed)
    beta = per_dim(cfg, f"{prefix}_beta", i)
    return DLGN.mlp(d, widths, 2, shallow=name == "dlgn-sf", beta=beta, seed=seed)


def halfspaces(model: torch.nn.Module) -> list[Hyperplanes]:
    """Gating hyperplanes of a DLGN; for a ReLU net, its first layer's (the only global ones)."""
    if isinstance(model, DLGN):
        return gating_hyperplanes(model)
    return [Hyperplanes(model.layers[0].weight.detach().clone())]


def _hidden(text: str) -> tuple[int, ...]:
    """``"100x100x100"`` -> ``(100, 100, 100)`` (a ConfigError naming the form otherwise)."""
    try:
        sizes = tuple(int(v) for v in str(text).split("x"))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise ConfigError(f"sk_hidden entries are layer sizes like '100x100x100', got {text!r}")
    return sizes


def train_sklearn(cfg: Config, data: Splits) -> dict:
    """The ReLU baseline of the paper's code (``3.ML_Synthetic.ipynb``): scikit-learn's ``MLPClassifier``
    (Adam; otherwise its defaults: L2 penalty 1e-4, batches of 200, training stops when the training
    loss improves by < 1e-4 for 10 epochs), hidden sizes × lr × max_iter chosen by ``sk_cv``-fold
    cross-validation on the training split, refit on it, and the *final* iterate tested (no
    validation-selected epoch). ``random_state`` is the notebook's 42 plus the run's seed.

    Returns:
        The record (``test_acc`` = ``final_test_acc``; ``cv_acc`` and ``cv_search``: the grid's mean
        cross-validation accuracy; ``best_val_epoch``: the final epoch, ``n_iter_``).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    x, y = data.x_train.double().numpy(), data.y_train.numpy()
    grid = {
        "hidden_layer_sizes": [_hidden(h) for h in cfg.sk_hidden],
        "learning_rate_init": list(cfg.sk_lr_grid),
        "max_iter": list(cfg.sk_max_iter),
    }
    base = MLPClassifier(solver="adam", activation="relu", random_state=42 + cfg.seed)
    with threadpool_limits(cfg.threads or None), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter reached: n_iter_ records it
        search = GridSearchCV(base, grid, cv=cfg.sk_cv, n_jobs=1).fit(x, y)
        model = search.best_estimator_  # refit on the whole training split

    def acc(xs, ys) -> float:
        return 100 * float((model.predict(xs.double().numpy()) == ys.numpy()).mean())

    best = search.best_params_
    test = acc(data.x_test, data.y_test)
    cv = zip(search.cv_results_["params"], search.cv_results_["mean_test_score"])
    return {
        "lr": best["learning_rate_init"],
        "hidden": "x".join(map(str, best["hidden_layer_sizes"])),
        "max_iter": best["max_iter"],
        "cv_acc": 100 * float(search.best_score_),
        "test_acc": test,
        "best_test_acc": test,
        "val_acc": acc(data.x_val, data.y_val),
        "best_val_epoch": int(model.n_iter_),
        "final_test_acc": test,
        "train_acc": acc(data.x_train, data.y_train),
        "params": sum(w.size for w in (*model.coefs_, *model.intercepts_)),
        "cv_search": [_cv_row(p, a) for p, a in cv],
        "curve_epochs": [],
        "test_curve": [],
        "val_curve": [],
        "train_curve": [],
        "seconds": time.perf_counter() - start,
    }


def _cv_row(params: dict, score: float) -> dict:
    """One grid point of the baseline's search: its settings and mean cross-validation accuracy (%)."""
    hidden = "x".join(map(str, params["hidden_layer_sizes"]))
    lr, max_iter = params["learning_rate_init"], params["max_iter"]
    return {"hidden": hidden, "lr": lr, "max_iter": max_iter, "cv_acc": 100 * float(score)}


def _lrs(cfg: Config, name: str, i: int) -> tuple[float, ...]:
    if name == SKLEARN:
        return (0.0,)  # one trial: its grid search chooses the lr
    prefix = {"dlgn": "dlgn", "dlgn-sf": "sf", "relu": "relu"}[name]
    if cfg.lr_grid and name in cfg.lr_grid_models:
        return cfg.lr_grid
    return (per_dim(cfg, f"{prefix}_lr", i),)


def _train(
    cfg: Config, name: str, i: int, d: int, data: Splits, lr: float, out: Path
) -> tuple[torch.nn.Module, list[Hyperplanes], dict]:
    """One model at one learning rate: the trained (best-validation) model, its initial hyperplanes
    and its record."""
    model = make_model(cfg, name, i, d)
    init = halfspaces(model)
    batch_size = max(1, len(data.y_train) // cfg.batches)
    hist, record = train(
        model,
        data,
        train_config(cfg, batch_size=batch_size, optimizer="adam", lr=lr, loss="ce"),
        out,
        f"d{d}-{name}-lr{lr:g}",
        tags={"d": d, "model": name, "lr": lr},
        desc=f"{name} d={d} lr={lr:g}",
        eval_every=cfg.eval_every,
    )
    record = {
        "lr": lr,
        **record,
        "final_test_acc": 100 * hist.final["test_acc"],
        "train_acc": 100 * hist.at(hist.best_val_epoch)["train_acc"],
        "curve_epochs": [e["epoch"] for e in hist.epochs],
    }
    return model, init, record


def trial(
    cfg: Config, out: str, item: tuple[int, str, float]
) -> tuple[torch.nn.Module, list[Hyperplanes], dict]:
    """One training of the grid (:func:`_train`): a top-level function, so that worker processes can
    run it. The data come from ``data_seed``, the model from ``seed`` and the model's name, the
    training from ``seed``: no trial depends on another. A finished one returns from its checkpoint.

    Args:
        out: the run folder (checkpoints, ``metrics.jsonl``).
        item: ``(i, model name, lr)``, ``i`` indexing ``cfg.dims``.

    Returns:
        The trained (best-validation) model on the CPU, its initial hyperplanes and its record
        (``relu-sklearn``: ``None``, ``[]`` and its record, :func:`train_sklearn`; not checkpointed:
        a resumed run fits it again, to the same numbers).
    """
    i, name, lr = item
    data, _ = dim_splits(cfg, i)
    if name == SKLEARN:
        return None, [], train_sklearn(cfg, data)
    return _train(cfg, name, i, cfg.dims[i], data, lr, Path(out))


def _attraction(cfg: Config, tree: ObliqueTree, init: list[Hyperplanes], final: list[Hyperplanes]) -> dict:
    rows = attraction_rows(tree.hyperplanes, init, final, depths=tree.depths, radii=cfg.radii)
    depth = np.array([r["depth"] for r in rows])
    d0, d1 = np.array([r["dist_init"] for r in rows]), np.array([r["dist_final"] for r in rows])
    top = depth <= cfg.top_depth
    return {
        "rows": rows,
        "top_depth": cfg.top_depth,
        "top_median_init": float(np.median(d0[top])),
        "top_median_final": float(np.median(d1[top])),
        "median_init": float(np.median(d0)),
        "median_final": float(np.median(d1)),
        "median_final_by_depth": {int(k): float(np.median(d1[depth == k])) for k in np.unique(depth)},
        "n_gating_hyperplanes": sum(len(h) for h in final),
    }


def run(cfg: Config, out: Path) -> dict:
    _check(cfg)
    results: dict = {"dims": list(cfg.dims), "runs": {}, "radii": list(cfg.radii), "jobs": cfg.jobs}
    grid = [(i, name, lr) for i in range(len(cfg.dims)) for name in cfg.models for lr in _lrs(cfg, name, i)]
    items = list(dict.fromkeys(grid))  # a learning rate listed twice is trained once
    done = map_trials(partial(trial, cfg, str(out)), items, cfg.jobs, desc="trainings (d, model, lr)")
    trained = dict(zip(items, done))  # picked from below: each model's best lr, as the trainings ran
    for i, d in enumerate(cfg.dims):
        data, tree = dim_splits(cfg, i)
        run_d: dict = {"data": data.summary(), "n_test": len(data.y_test), "tree": tree.to_dict()}
        run_d |= {"models": {}, "attraction": {}}
        for name in cfg.models:
            if name == SKLEARN:
                record = trained[(i, name, *_lrs(cfg, name, i))][2]
                run_d["models"][name] = {**record, "arch": record["hidden"], "lr_search": []}
                continue
            tried, best = [], None
            for lr in _lrs(cfg, name, i):
                model, init, record = trained[(i, name, lr)]
                tried.append(record)
                if best is None or record["val_acc"] > best[2]["val_acc"]:
                    best = (copy.deepcopy(model), init, record)
            model, init, record = best
            n_params = sum(p.numel() for p in model.parameters())
            arch = f"{len(model.arch.widths)}x{model.arch.widths[0]}"
            run_d["models"][name] = {**record, "arch": arch, "params": n_params, "lr_search": tried}
            if isinstance(model, DLGN):
                run_d["models"][name]["beta"] = model.gate.beta
            att = _attraction(cfg, tree, init, halfspaces(model))
            att["what"] = "all gating layers" if isinstance(model, DLGN) else "first layer only"
            run_d["attraction"][name] = att
        results["runs"][str(d)] = run_d
    _splits.cache_clear()  # the data are not kept after the run
    head = results["runs"][str(cfg.dims[0])]
    results["models"] = {k: {**v, "d": cfg.dims[0]} for k, v in head["models"].items()}
    results["attraction"] = {k: {**v, "d": cfg.dims[0]} for k, v in head["attraction"].items()}
    for k in results["models"]:  # the headline copies leave out the long curves
        for key in ("curve_epochs", "val_curve", "test_curve", "train_curve", "lr_search", "cv_search"):
            results["models"][k].pop(key, None)
    return results
