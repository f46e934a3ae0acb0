"""Encrypted store: every byte flip, swaps, wrong keys and rotation are caught; values round-trip."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmeval.errors import IntegrityError
from mmeval.security.keyring import KeyRing
from mmeval.security.store import RecordStore, record_file_name


@pytest.fixture
def ring(tmp_path):
    return KeyRing.init(tmp_path / "keys" / "k.json")


def _snapshot(root):
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def test_every_single_byte_flip_is_detected(tmp_path, ring):
    store = RecordStore(tmp_path / "store", ring, run_id="run-1")
    store.put("m/s1", {"output": "hi"})
    path = tmp_path / "store" / record_file_name("m/s1")
    original = path.read_bytes()
    for i in range(len(original)):
        for mask in (0x01, 0x80):
            damaged = bytearray(original)
            damaged[i] ^= mask
            path.write_bytes(bytes(damaged))
            with pytest.raises(IntegrityError, match="m/s1"):
                store.get("m/s1")
    path.write_bytes(original)
    assert store.get("m/s1") == {"output": "hi"}
    assert len(original) > 200  # the loop really covered a whole record


def test_swapped_records_are_detected(tmp_path, ring):
    store = RecordStore(tmp_path / "store", ring, run_id="run-1")
    store.put("m/a", "alpha")
    store.put("m/b", "beta")
    a, b = (tmp_path / "store" / record_file_name(i) for i in ("m/a", "m/b"))
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    for record_id in ("m/a", "m/b"):
        with pytest.raises(IntegrityError, match=record_id):
            store.get(record_id)


def test_record_moved_to_another_run_is_detected(tmp_path, ring):
    one = RecordStore(tmp_path / "one", ring, run_id="run-1")
    RecordStore(tmp_path / "two", ring, run_id="run-2").put("m/a", "from two")
    one.put("m/a", "from one")
    shutil.copy(tmp_path / "two" / record_file_name("m/a"), tmp_path / "one" / record_file_name("m/a"))
    with pytest.raises(IntegrityError, match="m/a"):
        one.get("m/a")


def test_wrong_key_ring_fails_cleanly(tmp_path, ring):
    store = RecordStore(tmp_path / "store", ring, run_id="run-1")
    store.put("m/a", "alpha")
    other = KeyRing.init(tmp_path / "other.json")
    before = _snapshot(tmp_path / "store")
    with pytest.raises(IntegrityError):
        RecordStore(tmp_path / "store", other).get("m/a")
    with pytest.raises(IntegrityError):
        RecordStore(tmp_path / "store", other).rewrap(other)
    assert _snapshot(tmp_path / "store") == before


def test_rotation_keeps_every_record_and_old_key_removal_then_fails_cleanly(tmp_path, ring):
    store = RecordStore(tmp_path / "store", ring, run_id="run-1")
    values = {f"m/s{i}": {"i": i, "text": f"value {i}"} for i in range(20)}
    for record_id, value in values.items():
        store.put(record_id, value)
    old_id = ring.active_master()[0]
    untouched = RecordStore(tmp_path / "untouched", ring, run_id="run-2")
    untouched.put("m/x", "never re-wrapped")

    new_id = ring.rotate()
    assert store.rewrap(ring) == 20
    assert store.key_ids() == {new_id: 20}
    assert {i: store.get(i) for i in store.ids()} == values
    ring.remove_master(old_id)
    reloaded = KeyRing.load(ring.path)
    assert {i: RecordStore(tmp_path / "store", reloaded).get(i) for i in values} == values
    before = _snapshot(tmp_path / "untouched")
    with pytest.raises(IntegrityError, match=old_id):
        RecordStore(tmp_path / "untouched", reloaded).get("m/x")
    assert _snapshot(tmp_path / "untouched") == before


def test_rewrap_with_a_tampered_record_changes_nothing(tmp_path, ring):
    store = RecordStore(tmp_path / "store", ring, run_id="run-1")
    for i in range(5):
        store.put(f"m/s{i}", i)
    victim = tmp_path / "store" / record_file_name("m/s3")
    raw = bytearray(victim.read_bytes())
    raw[-10] ^= 1
    victim.write_bytes(bytes(raw))
    ring.rotate()
    before = _snapshot(tmp_path / "store")
    with pytest.raises(IntegrityError, match="m/s3"):
        store.rewrap(ring)
    assert _snapshot(tmp_path / "store") == before


def test_no_plaintext_in_files_or_names(tmp_path, ring):
    store = RecordStore(tmp_path / "store", ring, run_id="run-1")
    store.put("m/s1", {"output": "CANARY-secret-value"})
    for p in (tmp_path / "store").iterdir():
        assert b"CANARY" not in p.read_bytes() and "CANARY" not in p.name
        assert p.stat().st_mode & 0o077 == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record_id=st.text(min_size=1, max_size=30), value=json_values)
def test_round_trip_of_arbitrary_json(tmp_path, ring, record_id, value):
    store = RecordStore(tmp_path / "store", ring, run_id="run-h")
    store.put(record_id, value)
    assert store.get(record_id) == value
    assert record_id in store.ids()
