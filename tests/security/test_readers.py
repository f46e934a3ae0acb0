"""Reader roles (X25519 + HKDF + AES-GCM wraps of each record's data key): a reader's
private key alone opens a record; any changed byte of a wrap, a wrap moved to another
record, run or role, or a key the record was not sealed for fails."""

from __future__ import annotations

import base64
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmeval.errors import InputError, IntegrityError, SpecError
from mmeval.security.keyring import KeyRing
from mmeval.security.readers import create_reader_key, load_reader_key
from mmeval.security.store import RecordStore, record_file_name


@pytest.fixture
def ring(tmp_path):
    return KeyRing.init(tmp_path / "keys" / "k.json")


def add_reader(ring, tmp_path, role):
    path = tmp_path / f"{role}.key"
    ring.add_reader(role, create_reader_key(path))
    return load_reader_key(path)


def reader_store(tmp_path, key, name="store", run_id="run-1"):
    return RecordStore(tmp_path / name, None, run_id=run_id, reader=key)


def rewrite(path, change):
    body = json.loads(path.read_bytes())
    change(body)
    path.write_bytes(json.dumps(body, sort_keys=True, separators=(",", ":")).encode() + b"\n")


def test_a_reader_key_alone_opens_records(tmp_path, ring):
    auditor = add_reader(ring, tmp_path, "auditor")
    RecordStore(tmp_path / "store", ring, run_id="run-1").put("m/a", {"output": "secret"})
    assert reader_store(tmp_path, auditor).get("m/a") == {"output": "secret"}


def test_the_ring_holds_public_keys_only(tmp_path, ring):
    from cryptography.hazmat.primitives import serialization

    auditor = add_reader(ring, tmp_path, "auditor")
    body = json.loads(ring.path.read_text())
    entry = next(k for k in body["keys"] if k["kind"] == "reader")
    assert entry["role"] == "auditor" and base64.b64decode(entry["material"]) == auditor.public_raw
    private = auditor._private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption())
    assert base64.b64encode(private).decode() not in ring.path.read_text()
    assert KeyRing.load(ring.path).readers()[0].role == "auditor"
    assert (tmp_path / "auditor.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("field", ["epk", "nonce", "wrapped_key"])
def test_every_bit_of_a_wrap_is_authenticated(tmp_path, ring, field):
    auditor = add_reader(ring, tmp_path, "auditor")
    RecordStore(tmp_path / "store", ring, run_id="run-1").put("m/a", "alpha")
    path = tmp_path / "store" / record_file_name("m/a")
    original = path.read_bytes()
    raw = base64.b64decode(json.loads(original)["readers"][0][field])
    for i in range(len(raw)):
        damaged = bytearray(raw)
        damaged[i] ^= 0x01
        rewrite(path, lambda b: b["readers"][0].__setitem__(field, base64.b64encode(bytes(damaged)).decode()))
        with pytest.raises(IntegrityError, match="failed authentication"):
            reader_store(tmp_path, auditor).get("m/a")
    path.write_bytes(original)
    assert reader_store(tmp_path, auditor).get("m/a") == "alpha"


def test_a_relabelled_wrap_fails(tmp_path, ring):
    auditor = add_reader(ring, tmp_path, "auditor")
    RecordStore(tmp_path / "store", ring, run_id="run-1").put("m/a", "alpha")
    rewrite(tmp_path / "store" / record_file_name("m/a"), lambda b: b["readers"][0].__setitem__("role", "admin"))
    with pytest.raises(IntegrityError, match="failed authentication"):
        reader_store(tmp_path, auditor).get("m/a")


def test_a_wrap_moved_to_another_record_or_run_fails(tmp_path, ring):
    auditor = add_reader(ring, tmp_path, "auditor")
    RecordStore(tmp_path / "store", ring, run_id="run-1").put("m/a", "alpha")
    RecordStore(tmp_path / "store", ring, run_id="run-1").put("m/b", "beta")
    RecordStore(tmp_path / "other", ring, run_id="run-2").put("m/a", "other run")
    wrap_b = json.loads((tmp_path / "store" / record_file_name("m/b")).read_bytes())["readers"]
    wrap_other = json.loads((tmp_path / "other" / record_file_name("m/a")).read_bytes())["readers"]
    for wrap in (wrap_b, wrap_other):
        rewrite(tmp_path / "store" / record_file_name("m/a"), lambda b: b.__setitem__("readers", wrap))
        with pytest.raises(IntegrityError, match="m/a"):
            reader_store(tmp_path, auditor).get("m/a")


def test_a_key_the_record_was_not_sealed_for_cannot_open_it(tmp_path, ring):
    add_reader(ring, tmp_path, "auditor")
    RecordStore(tmp_path / "store", ring, run_id="run-1").put("m/a", "alpha")
    stranger_path = tmp_path / "stranger.key"
    create_reader_key(stranger_path)
    with pytest.raises(IntegrityError, match="not sealed for reader key"):
        reader_store(tmp_path, load_reader_key(stranger_path)).get("m/a")


def test_removing_a_role_then_rewrapping_revokes_it(tmp_path, ring):
    auditor, legal = add_reader(ring, tmp_path, "auditor"), add_reader(ring, tmp_path, "legal")
    store = RecordStore(tmp_path / "store", ring, run_id="run-1")
    store.put("m/a", "alpha")
    ring.remove_reader("auditor")
    assert reader_store(tmp_path, auditor).get("m/a") == "alpha"  # written before the removal: still wrapped for it
    ring.rotate()
    store.rewrap(ring)
    with pytest.raises(IntegrityError, match="not sealed for reader key"):
        reader_store(tmp_path, auditor).get("m/a")
    assert reader_store(tmp_path, legal).get("m/a") == "alpha"
    assert store.get("m/a") == "alpha"


def test_reader_key_files(tmp_path, ring):
    path = tmp_path / "r.key"
    create_reader_key(path)
    first = path.read_bytes()
    with pytest.raises(InputError, match="never overwritten"):
        create_reader_key(path)
    assert path.read_bytes() == first
    os.chmod(path, 0o644)
    with pytest.raises(InputError, match="chmod 600"):
        load_reader_key(path)
    with pytest.raises(SpecError, match="reader role"):
        ring.add_reader("../x", b"\0" * 32)
    ring.add_reader("auditor", b"\1" * 32)
    with pytest.raises(SpecError, match="already has reader role"):
        ring.add_reader("auditor", b"\2" * 32)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record_id=st.text(min_size=1, max_size=20), value=st.text() | st.integers() | st.lists(st.booleans(), max_size=4))
def test_round_trip_through_a_reader(tmp_path, ring, record_id, value):
    if not ring.readers():
        add_reader(ring, tmp_path, "auditor")
    RecordStore(tmp_path / "store", ring, run_id="run-h").put(record_id, value)
    assert reader_store(tmp_path, load_reader_key(tmp_path / "auditor.key"), run_id="run-h").get(record_id) == value
