"""`use: python` finds a module beside the suite from any working directory, and says
where it looked (with the suite key) when the module is not there."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from mmeval.errors import SpecError
from mmeval.models.python import importable_from
from mmeval.suite import load_suite
from tests.cli.test_cli import assert_one_line_error, mmeval

TITLE_MODEL = "def titles(inputs):\n    return [text.title() for text in inputs]\n"


def suite_beside(folder: Path, module: str, source: str | None = TITLE_MODEL) -> Path:
    """A suite in `folder` whose candidate is `MODULE:titles`, the module written beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    if source is not None:
        (folder / f"{module}.py").write_text(source)
    rows = [{"id": f"s{i}", "input": word, "target": word.title()} for i, word in enumerate(["red shoe", "blue hat"])]
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = {"version": 1, "name": "titles", "dataset": {"path": "data.jsonl"},
             "models": {"candidate": {"use": "python", "args": {"callable": f"{module}:titles"}}},
             "metrics": [{"use": "exact_match"}]}
    (folder / "suite.yaml").write_text(yaml.safe_dump(suite))
    return folder / "suite.yaml"


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """A working directory that is not the suite's folder."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


@pytest.fixture
def fresh_module():
    """A module name no earlier test imported; forgotten again afterwards."""
    name = f"title_model_{len(sys.modules)}"
    yield name
    sys.modules.pop(name, None)


def test_importable_from_prepends_then_restores_sys_path_exactly(tmp_path):
    before = list(sys.path)
    with importable_from(tmp_path):
        assert sys.path[0] == str(tmp_path)
        sys.path.append("/somewhere/a/plugin/added")
    assert sys.path == before
    with pytest.raises(RuntimeError), importable_from(tmp_path):
        raise RuntimeError("a model failed to build")
    assert sys.path == before


def test_suite_module_is_found_from_another_directory(tmp_path, elsewhere, fresh_module):
    path = suite_beside(tmp_path / "suite", fresh_module)
    before = list(sys.path)
    with importable_from(path.parent):  # what load_suite does around building models
        suite = load_suite(path)
    assert suite.models["candidate"].generate(["red shoe"], seed=0, ids=["s0"]) == ["Red Shoe"]
    assert sys.path == before


def test_missing_module_names_the_suite_key_and_the_folders_searched(tmp_path, elsewhere, fresh_module):
    path = suite_beside(tmp_path / "suite", fresh_module, source=None)
    with pytest.raises(SpecError) as caught, importable_from(path.parent):
        load_suite(path)
    message = str(caught.value)
    assert f"models.candidate.args.callable: cannot import module {fresh_module!r}" in message
    assert f"(looked in {path.parent}, {elsewhere})" in message


def test_an_import_failing_inside_the_module_is_reported_as_it_is(tmp_path, elsewhere, fresh_module):
    path = suite_beside(tmp_path / "suite", fresh_module, source="import no_such_dependency_xyz\n")
    with pytest.raises(SpecError, match="models.candidate.args.callable: cannot import module .*no_such_dependency_xyz"), \
            importable_from(path.parent):
        load_suite(path)


def test_the_working_directory_still_works_as_a_fallback(tmp_path, elsewhere, fresh_module):
    (elsewhere / f"{fresh_module}.py").write_text(TITLE_MODEL)
    path = suite_beside(tmp_path / "suite", fresh_module, source=None)
    assert load_suite(path).models["candidate"].generate(["blue hat"], seed=0, ids=["s1"]) == ["Blue Hat"]


# Needs suite.py to build models inside `with importable_from(base):` (the lead's one line).
def test_mmeval_run_from_another_directory_finds_the_module_beside_the_suite(tmp_path, elsewhere):
    path = suite_beside(tmp_path / "suite", "title_model")
    proc = mmeval("run", str(path), "--out", str(tmp_path / "run"), "--quiet", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert [r["value"] for r in report["results"] if r["key"] == "exact_match"] == [1.0]


def test_mmeval_run_without_the_module_says_where_it_looked(tmp_path, elsewhere):
    path = suite_beside(tmp_path / "suite", "title_model", source=None)
    proc = mmeval("run", str(path), "--out", str(tmp_path / "run"), cwd=elsewhere)
    assert_one_line_error(proc, 2, f"models.candidate.args.callable: cannot import module 'title_model' "
                                   f"(looked in {path.parent}, {elsewhere})")
