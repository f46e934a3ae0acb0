"""reviews.jsonl: a hash chain that is durable per answer and shows any edit."""

from __future__ import annotations

import json

import pytest

from mmeval.errors import IntegrityError
from mmeval.review.ledger import Ratings, check_chain


def _fill(tmp_path, n=3) -> Ratings:
    ratings = Ratings(tmp_path, "run-1")
    for i in range(n):
        ratings.append("ann", f"s{i}", ["a", "b"], "left", {"a": {"fluency": 4}, "b": {"fluency": 2}})
    return ratings


def test_appends_chain_and_read_back(tmp_path):
    ratings = _fill(tmp_path)
    entries = ratings.entries()
    assert [e["seq"] for e in entries] == [0, 1, 2]
    assert entries[1]["prev"] == entries[0]["hash"] and entries[0]["prev"] == "0" * 64
    assert {"time", "rater", "sample_id", "shown", "pick", "scores", "run_id"} <= set(entries[0])
    assert (ratings.path.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("edit", ["score", "drop", "swap", "other-run"])
def test_any_edit_breaks_the_chain(tmp_path, edit):
    ratings = _fill(tmp_path)
    lines = ratings.path.read_bytes().splitlines(keepends=True)
    if edit == "score":
        lines[1] = lines[1].replace(b'"fluency": 4', b'"fluency": 5')
    elif edit == "drop":
        del lines[1]
    elif edit == "swap":
        lines[0], lines[1] = lines[1], lines[0]
    ratings.path.write_bytes(b"".join(lines))
    with pytest.raises(IntegrityError, match="line"):
        check_chain(ratings.path.read_bytes(), ratings.path, "other" if edit == "other-run" else "run-1")


def test_a_torn_last_line_is_the_answer_in_flight_and_is_cut(tmp_path, capsys):
    ratings = _fill(tmp_path, 2)
    with ratings.path.open("ab") as handle:
        handle.write(b'{"seq": 2, "rater": "ann", "sam')  # killed mid-write
    entries = ratings.entries()
    assert len(entries) == 2 and "torn last line" in capsys.readouterr().err
    ratings.append("bob", "s9", ["b", "a"], "tie", {})
    assert [e["seq"] for e in Ratings(tmp_path, "run-1").entries()] == [0, 1, 2]


def test_a_symlinked_ledger_is_refused(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("user data\n")
    (tmp_path / "reviews.jsonl").symlink_to(target)
    with pytest.raises(OSError):
        Ratings(tmp_path, "run-1").append("ann", "s0", ["a", "b"], "left", {})
    assert target.read_text() == "user data\n"


def test_malformed_entries_are_refused_even_with_a_valid_hash(tmp_path):
    from mmeval.security.auditcheck import entry_hash

    entry = {"seq": 0, "time": "t", "run_id": "run-1", "rater": "ann", "sample_id": "s0", "shown": ["a", "a"],
             "pick": "left", "scores": {}, "prev": "0" * 64}
    entry["hash"] = entry_hash(entry)
    with pytest.raises(IntegrityError):
        check_chain((json.dumps(entry) + "\n").encode(), tmp_path / "r", "run-1")
