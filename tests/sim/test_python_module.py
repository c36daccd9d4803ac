"""The nmpsim Python module against the command line: the same reports, tensors, sweeps and
calculator results, and bad input as Python exceptions. Run by ctest (python:module) with
PYTHONPATH at the built module, NMPSIM the command-line binary and NMP_SOURCE_DIR the
repository."""
import json
import os
import pathlib
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

import nmpsim

ROOT = pathlib.Path(os.environ.get("NMP_SOURCE_DIR", pathlib.Path(__file__).parents[2]))
CLI = os.environ.get("NMPSIM", str(ROOT / "build" / "nmpsim"))
HW = str(ROOT / "configs/hw/default.json")
WL = str(ROOT / "configs/workloads/default.json")
GRAPH = {
    "name": "py", "tokens": 4,
    "layers": [
        {"type": "rmsnorm", "name": "norm", "inputs": ["input"], "in_features": 64},
        {"type": "linear", "format": "fp16", "name": "up", "in_features": 64, "out_features": 96},
        {"type": "activation", "name": "act", "function": "gelu"}]}


def cli(*args, **kw):
    return subprocess.run([CLI, *args], check=True, capture_output=True, text=True, **kw)


def cli_report(tmp_path, *args):
    out = tmp_path / "report.json"
    cli("run", *args, "--out", str(out), "-q")
    return json.loads(out.read_text())


@pytest.mark.parametrize("timing_only", [True, False])
def test_run_gives_the_command_lines_report(tmp_path, timing_only):
    flags = ["--timing-only"] if timing_only else []
    expected = cli_report(tmp_path, "--hw", HW, "--workload", WL,
                          "--set", "hw.mac_array.rows=32", *flags)
    got = nmpsim.run(hw=HW, workload=pathlib.Path(WL), sets={"hw.mac_array.rows": 32},
                     timing_only=timing_only)
    assert got == expected
    assert got["cycles"]["total"] > 0


def test_analytical_runs_give_the_command_lines_report(tmp_path):
    wl = tmp_path / "graph.json"
    wl.write_text(json.dumps(GRAPH))
    expected = cli_report(tmp_path, "--hw", HW, "--workload", str(wl),
                          "--set", "hw.mac_array.pe=fp16", "--analytical")
    # In this process, as often as wanted (no SystemC is elaborated).
    for _ in range(3):
        got = nmpsim.run(HW, str(wl), sets={"hw.mac_array.pe": "fp16"}, analytical=True)
        assert got == expected
    assert got["config"]["run"]["mode"] == "analytical"
    simulated = nmpsim.run(HW, str(wl), sets={"hw.mac_array.pe": "fp16"}, timing_only=True)
    assert simulated["analytical"]["cycles"] == got["cycles"]["total"]
    rows = nmpsim.sweep({"name": "py-analytical", "hw": HW, "workload": str(wl),
                         "grid": {"hw.mac_array.pe": ["fp16"], "hw.mac_array.rows": [16, 32]}},
                        analytical=True)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert rows[1]["cycles"] == nmpsim.run(
        HW, str(wl), sets={"hw.mac_array.pe": "fp16", "hw.mac_array.rows": 32},
        analytical=True)["cycles"]["total"]


def test_configs_as_dicts_give_the_same_figures(tmp_path):
    wl = tmp_path / "graph.json"
    wl.write_text(json.dumps(GRAPH))
    expected = cli_report(tmp_path, "--hw", HW, "--workload", str(wl),
                          "--set", "hw.mac_array.pe=fp16")
    hw = json.loads(pathlib.Path(HW).read_text())
    hw["technology"] = str(ROOT / "configs/tech/45nm.json")  # a dict's paths: from the cwd
    got = nmpsim.run(hw, GRAPH, sets={"hw.mac_array.pe": "fp16"})
    for key in ["cycles", "counters", "energy_pj", "area_um2", "error", "derived"]:
        assert got[key] == expected[key], key
    assert got["invariants"]["outputs_equal_reference"] is True


def test_dumped_tensors_are_the_command_lines_npy_files(tmp_path):
    wl = tmp_path / "graph.json"
    wl.write_text(json.dumps(GRAPH))
    cli("run", "--hw", HW, "--workload", str(wl), "--set", "hw.mac_array.pe=fp16",
        "--dump", str(tmp_path / "dump"), "-q")
    got = nmpsim.run(HW, str(wl), sets={"hw.mac_array.pe": "fp16"}, dump=True)["tensors"]
    files = sorted((tmp_path / "dump").glob("*.npy"))
    assert files and sorted(got) == [f.stem for f in files]
    for f in files:
        expected = np.load(f)
        assert got[f.stem].dtype == expected.dtype
        assert np.array_equal(got[f.stem], expected, equal_nan=True), f.stem


def test_bad_input_raises_config_error_with_file_and_path(tmp_path):
    with pytest.raises(nmpsim.ConfigError) as e:
        nmpsim.run(HW, WL, sets={"hw.mac_array.rows": -3})
    assert isinstance(e.value, ValueError)
    assert e.value.pointer == "/mac_array/rows"
    assert "hw.mac_array.rows" in e.value.file
    bad = dict(GRAPH, layers=[dict(GRAPH["layers"][0], in_features="many")])
    with pytest.raises(nmpsim.ConfigError) as e:
        nmpsim.run(HW, bad)
    assert e.value.file == "<workload dict>"
    assert e.value.pointer == "/layers/0/in_features"
    with pytest.raises(nmpsim.ConfigError) as e:
        nmpsim.run(HW, str(tmp_path / "missing.json"))
    assert e.value.file.endswith("missing.json")
    # Nothing was written beside the inputs.
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call", [
    lambda: nmpsim.run(3, WL),
    lambda: nmpsim.run(HW, WL, sets=["hw.mac_array.rows=3"]),
    lambda: nmpsim.run(HW, WL, timing_only="yes"),
    lambda: nmpsim.sweep(42),
    lambda: nmpsim.arith("fp16", [1, 2]),
])
def test_wrong_types_raise_type_error(call):
    with pytest.raises(TypeError):
        call()


def test_sweep_returns_the_points_of_its_database(tmp_path):
    spec = {"name": "py", "hw": HW, "workload": WL, "timing_only": True,
            "grid": {"hw.mac_array.rows": [16, 32]},
            "zip": [{"hw.mac_array.cols": [16, 64], "hw.dram.channels": [1, 2]}]}
    db = tmp_path / "py.sqlite"
    rows = nmpsim.sweep(spec, db=str(db), jobs=2)
    assert [r["point"] for r in rows] == [0, 1, 2, 3]
    assert all(r["status"] == "ok" for r in rows)
    assert rows[1]["sets"] == ["hw.mac_array.rows=16", "hw.dram.channels=2",
                               "hw.mac_array.cols=64"]
    stored = sqlite3.connect(db).execute(
        "SELECT point, cycles, energy_pj FROM points ORDER BY point").fetchall()
    assert stored == [(r["point"], r["cycles"], r["energy_pj"]) for r in rows]
    # A point's figures are those of a run with its sets.
    report = nmpsim.run(HW, WL, timing_only=True,
                        sets=dict(s.split("=", 1) for s in rows[1]["sets"]))
    assert report["cycles"]["total"] == rows[1]["cycles"]
    # The front under a constraint holds only points that meet it.
    areas = sorted(r["area_um2"] for r in rows)
    front = nmpsim.pareto(str(db), "py", constraints={"area_um2.total": {"max": areas[1]}})
    assert front["ok"] == 4 and front["feasible"] == 2
    assert front["points"] and all(p["area_um2"] <= areas[1] for p in front["points"])
    with pytest.raises(nmpsim.ConfigError) as e:
        nmpsim.sweep(dict(spec, zip=[{"hw.mac_array.cols": [16]}]))
    assert e.value.pointer == "/zip/0"


def test_arith_gives_the_command_lines_results():
    lines = ["add 1.5 2.25", "mul 0x3c00 3", "div 1 3", "sqrt 2", "fdp 1,2,3 4,5,6"]
    expected = cli("arith", "--format", "bf16", input="\n".join(lines) + "\n").stdout.split("\n")
    assert nmpsim.arith("bf16", lines) == [line for line in expected if line]
    with pytest.raises(nmpsim.ConfigError) as e:
        nmpsim.arith("bf16", ["add 1"])
    assert "line 1" in str(e.value)


def test_the_pareto_example_runs(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "scripts/pareto_example.py"), "--out",
                          str(tmp_path / "pareto"), "--small"],
                         check=True, capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ))
    assert "Pareto points" in out.stdout
    assert (tmp_path / "pareto.png").stat().st_size > 0
