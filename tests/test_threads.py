"""Threads: one count for torch and BLAS/OpenMP, from --threads, $MMEVAL_THREADS or the cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from mmeval import threads
from mmeval.errors import SpecError
from mmeval.threads import available_cores, configure_threads, threads_in_effect
from tests.cli.test_cli import assert_one_line_error, mmeval
from tests.test_suite import base_suite, write_suite


@pytest.fixture
def restore_threads(monkeypatch):
    """configure_threads changes the whole process: put torch, BLAS and the env back after."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MMEVAL_THREADS"):
        monkeypatch.delenv(name, raising=False)  # also makes monkeypatch restore what was there
    torch_threads, pools = torch.get_num_threads(), threadpool_info()
    yield
    torch.set_num_threads(torch_threads)
    threadpool_limits(limits={pool["prefix"]: pool["num_threads"] for pool in pools})
    threads._chosen = None


def test_configure_sets_torch_blas_and_env_to_the_same_count(restore_threads):
    target = 1 if torch.get_num_threads() != 1 else 2  # a change, so the assertion can fail
    info = configure_threads(str(target))
    assert torch.get_num_threads() == target
    assert [pool["num_threads"] for pool in threadpool_info()] == [target] * len(threadpool_info())
    assert all(os.environ[name] == str(target) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"))
    assert info["count"] == target and info["source"] == "--threads" and info["torch"] == target
    assert set(info["blas"].values()) == {target}
    assert threads_in_effect() == info


def test_env_var_is_used_when_no_option_and_the_option_wins(restore_threads, monkeypatch):
    monkeypatch.setenv("MMEVAL_THREADS", "1")
    assert configure_threads(None)["source"] == "$MMEVAL_THREADS" and torch.get_num_threads() == 1
    info = configure_threads(2)
    assert (info["count"], info["source"], torch.get_num_threads()) == (2, "--threads", 2)


@pytest.mark.parametrize("env", [None, "", " "])
def test_default_is_one_per_physical_core(restore_threads, monkeypatch, env):
    if env is not None:  # set but blank counts as not set
        monkeypatch.setenv("MMEVAL_THREADS", env)
    info = configure_threads(None)
    assert info["source"] == "cores" and info["count"] == available_cores() == torch.get_num_threads()


def test_available_cores_follows_cpu_affinity():
    """Pinned to one CPU, the process has one core, whatever the machine has."""
    cpu = min(os.sched_getaffinity(0))
    code = f"import os; os.sched_setaffinity(0, {{{cpu}}}); from mmeval.threads import available_cores; print(available_cores())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "1", proc.stderr
    assert 1 <= available_cores() <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize("value", ["0", "-1", "x", "1.5", "", " ", "2 2", "1025", "+3", "²", 0])
def test_bad_counts_name_their_source(value, restore_threads):
    with pytest.raises(SpecError, match=r"--threads must be a whole number of threads from 1 to 1024"):
        configure_threads(value)


def test_threads_module_imports_no_torch():
    """`mmeval list` and `--help` import cli/run.py and runinfo.py, which import this module."""
    code = ("import sys; from mmeval.threads import threads_in_effect; import mmeval.cli.run, mmeval.runinfo; "
            "info = threads_in_effect(); print('torch' in sys.modules, info['torch'], info['source'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["False", "None", "library", "defaults"], proc.stderr


def test_configure_imports_no_torch_and_a_torch_loaded_later_uses_the_count():
    """A run that fails before any model loads never pays for importing torch."""
    code = ("import sys; from mmeval.threads import configure_threads; configure_threads(1); "
            "loaded = 'torch' in sys.modules; import torch; print(loaded, torch.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MMEVAL_THREADS")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.stdout.split() == ["False", "1"], proc.stderr


@pytest.mark.parametrize("args, env, fragment", [
    (["--threads", "0"], {}, "--threads must be a whole number of threads from 1 to 1024, got '0'"),
    (["--threads", "x"], {}, "--threads must be a whole number of threads from 1 to 1024, got 'x'"),
    ([], {"MMEVAL_THREADS": "lots"}, "$MMEVAL_THREADS must be a whole number of threads from 1 to 1024, got 'lots'"),
])
def test_bad_counts_through_the_cli_exit_2_with_one_line(tmp_path, monkeypatch, args, env, fragment):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = write_suite(tmp_path, base_suite())
    proc = mmeval("run", str(path), "--out", str(tmp_path / "run"), *args)
    assert_one_line_error(proc, 2, fragment)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, expected", [
    (["--threads", "1"], lambda: {"count": 1, "source": "--threads"}),
    ([], lambda: {"count": available_cores(), "source": "cores"}),
])
def test_the_report_records_the_threads_used(tmp_path, monkeypatch, args, expected):
    monkeypatch.delenv("MMEVAL_THREADS", raising=False)
    path = write_suite(tmp_path, base_suite())
    proc = mmeval("run", str(path), "--out", str(tmp_path / "run"), "--quiet", *args)
    assert proc.returncode == 0, proc.stderr
    recorded = json.loads((tmp_path / "run" / "report.json").read_text())["provenance"]["threads"]
    want = expected()
    assert {k: recorded[k] for k in ("count", "source")} == want
    assert recorded["torch"] == want["count"]
    assert recorded["blas"] and set(recorded["blas"].values()) == {want["count"]}


def test_ranks_of_a_torchrun_run_share_the_cores(monkeypatch) -> None:
    from mmeval.threads import _choose, available_cores

    monkeypatch.delenv("MMEVAL_THREADS", raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert _choose(None) == (max(1, available_cores() // 2), "cores/2 ranks")
    assert _choose("3") == (3, "--threads")  # an explicit count is the user's
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "not a number")
    assert _choose(None) == (available_cores(), "cores")
