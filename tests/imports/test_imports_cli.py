"""``gridmap init`` and ``gridmap import KIND FILE`` / ``list`` / ``undo`` from the command line."""

from __future__ import annotations

import pandas as pd

from gridmap.cli import main
from gridmap.store import open_store


def test_init_import_list_undo(tmp_path, capsys):
    store_path = str(tmp_path / "county.gpkg")
    assert main(["init", "--store", store_path]) == 0
    assert "no synthetic row" in capsys.readouterr().out
    assert main(["init", "--store", store_path]) == 0  # idempotent
    roster = tmp_path / "roster.csv"
    pd.DataFrame({"编号": ["W1", "W2"], "名字": ["王芳", "李强"], "专兼职": ["专职", "兼职"]}).to_csv(
        roster, index=False, encoding="gbk"
    )
    assert main(["import", "workers", str(roster), "--map", "name=名字", "--store", store_path]) == 0
    out = capsys.readouterr().out
    assert "accepted 2" in out and "undo with: gridmap import undo" in out
    batch = out.split("batch ", 1)[1].split(" ", 1)[0]
    assert main(["import", "list", "--store", store_path]) == 0
    assert batch in capsys.readouterr().out
    with open_store(store_path) as store:
        assert set(pd.DataFrame(store.read("workers"))["name"]) == {"王芳", "李强"}
    assert main(["import", "undo", batch, "--store", store_path]) == 0
    with open_store(store_path) as store:
        assert store.count("workers") == 0
    assert main(["import", "workers", str(roster), "--map", "oops", "--store", store_path]) == 1
    assert "field=column" in capsys.readouterr().err


def test_imports_refuse_the_synthetic_demo(tmp_path, capsys):
    store_path = str(tmp_path / "demo.gpkg")
    with open_store(store_path) as store:
        store.set_meta("demo_seed", "7")
    roster = tmp_path / "roster.csv"
    roster.write_text("工号\nW1\n", encoding="utf-8")
    assert main(["import", "workers", str(roster), "--store", store_path]) == 1
    err = capsys.readouterr().err
    assert "synthetic demo" in err and len(err.strip().splitlines()) == 1
    assert main(["init", "--store", store_path]) == 1


def test_the_demo_build_refuses_an_initialised_store(tmp_path):
    import pytest

    from gridmap.errors import InputError
    from gridmap.imports.init import init_store
    from gridmap.pipeline import build_demo

    with open_store(tmp_path / "real.gpkg") as store:
        init_store(store, empty=True)
        with pytest.raises(InputError, match="gridmap init"):
            build_demo(seed=7, scale=0.01, store=store, progress=lambda m: None, with_users=False)
