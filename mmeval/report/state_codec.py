"""A safe JSON codec for metric states, so `records.jsonl` can carry each sample's state.

Records are untrusted input (a run directory may come from anywhere), so there is no
pickle: only data. Plain JSON carries None, bool, int, str, finite floats and lists;
everything else is one tagged object `{"$tag": payload}`:

    {"$f": "nan" | "inf" | "-inf"}             non-finite float
    {"$tuple": [...]}                           tuple
    {"$dict": [[key, value], ...]}              dict (any encodable hashable keys)
    {"$counter": [[key, count], ...]}           collections.Counter (tuple keys included)
    {"$frozenset": [...]}, {"$set": [...]}      sets
    {"$ndarray": {"dtype", "shape", "b64"}}     numeric numpy array, little-endian bytes
    {"$dataclass": {field: value, ...}}         a dataclass's fields (no class name)

A dataclass comes back as the class of the matching value in the metric's `init()`
template, so a record can never name a class to construct. Anything malformed or
not matching the template's shape raises InputError.

    text = json.dumps(encode_state(state))
    state = decode_state(json.loads(text), metric.init())
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
import numbers
from collections import Counter
from typing import Any

from ..errors import InputError

MAX_DEPTH = 32
# Numeric kinds only: bool, signed/unsigned integers, floats, complex. Never objects.
_ARRAY_KINDS = "biufc"


class UnencodableState(ValueError):
    """A state holds a value this codec does not carry (the record then keeps no state)."""


def encode_state(state: Any, _depth: int = 0) -> Any:
    """A JSON-ready value for `state`; raises UnencodableState for unsupported types."""
    if _depth > MAX_DEPTH:
        raise UnencodableState("nested too deeply")
    nested = _depth + 1
    if state is None or isinstance(state, (bool, str)):
        return state
    if isinstance(state, int):
        return int(state)
    if isinstance(state, float):
        if math.isfinite(state):
            return float(state)
        return {"$f": "nan" if math.isnan(state) else ("inf" if state > 0 else "-inf")}
    if isinstance(state, Counter):
        return {"$counter": [[encode_state(k, nested), encode_state(v, nested)] for k, v in state.items()]}
    if isinstance(state, dict):
        return {"$dict": [[encode_state(k, nested), encode_state(v, nested)] for k, v in state.items()]}
    if isinstance(state, tuple):
        return {"$tuple": [encode_state(v, nested) for v in state]}
    if isinstance(state, list):
        return [encode_state(v, nested) for v in state]
    if isinstance(state, (set, frozenset)):
        tag = "$frozenset" if isinstance(state, frozenset) else "$set"
        return {tag: [encode_state(v, nested) for v in state]}
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        return {"$dataclass": {f.name: encode_state(getattr(state, f.name), nested) for f in dataclasses.fields(state)}}
    return _encode_numpy(state)


def _encode_numpy(state: Any) -> Any:
    import numpy as np

    if isinstance(state, np.ndarray):
        if state.dtype.kind not in _ARRAY_KINDS:
            raise UnencodableState(f"array of dtype {state.dtype}")
        little = state.astype(state.dtype.newbyteorder("<"), copy=False)
        data = base64.b64encode(np.ascontiguousarray(little).tobytes()).decode()
        return {"$ndarray": {"dtype": little.dtype.str, "shape": list(state.shape), "b64": data}}
    if isinstance(state, np.generic) and state.dtype.kind in _ARRAY_KINDS:
        return encode_state(state.item())
    raise UnencodableState(f"type {type(state).__name__}")


def decode_state(value: Any, template: Any = None, _depth: int = 0) -> Any:
    """The state `value` encodes; `template` (the metric's `init()`) fixes dataclass
    classes and the top-level kinds. Raises InputError on anything malformed."""
    if _depth > MAX_DEPTH:
        raise InputError("metric state is nested too deeply")
    state = _decode(value, template, _depth + 1)
    if template is not None and not _same_kind(state, template):
        raise InputError(f"metric state is a {_kind(state)}, expected a {_kind(template)}")
    return state


def _decode(value: Any, template: Any, depth: int) -> Any:
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError("metric state holds a bare non-finite number")
        return value
    if isinstance(value, list):
        return [decode_state(v, None, depth) for v in value]
    if not isinstance(value, dict) or len(value) != 1:
        raise InputError("metric state: malformed value (expected one tagged object)")
    (tag, payload), = value.items()
    if tag == "$f":
        if payload not in ("nan", "inf", "-inf"):
            raise InputError(f"metric state: bad float {payload!r}")
        return float(payload)
    if tag == "$tuple":
        items = _list(payload, tag)
        subs = list(template) if isinstance(template, tuple) and len(template) == len(items) else [None] * len(items)
        return tuple(decode_state(v, t, depth) for v, t in zip(items, subs))
    if tag in ("$dict", "$counter"):
        pairs = []
        for pair in _list(payload, tag):
            if not isinstance(pair, list) or len(pair) != 2:
                raise InputError(f"metric state: {tag} entries must be [key, value] pairs")
            key = decode_state(pair[0], None, depth)
            sub = template.get(key) if isinstance(template, dict) and _hashable(key) else None
            pairs.append((key, decode_state(pair[1], sub, depth)))
        try:
            mapping = dict(pairs)
        except TypeError:
            raise InputError(f"metric state: {tag} has an unhashable key") from None
        return Counter(mapping) if tag == "$counter" else mapping
    if tag in ("$set", "$frozenset"):
        items = [decode_state(v, None, depth) for v in _list(payload, tag)]
        try:
            return frozenset(items) if tag == "$frozenset" else set(items)
        except TypeError:
            raise InputError(f"metric state: {tag} has an unhashable item") from None
    if tag == "$ndarray":
        return _decode_array(payload)
    if tag == "$dataclass":
        return _decode_dataclass(payload, template, depth)
    raise InputError(f"metric state: unknown tag {tag!r}")


def _decode_array(payload: Any) -> Any:
    import numpy as np

    if not isinstance(payload, dict) or set(payload) != {"dtype", "shape", "b64"}:
        raise InputError("metric state: $ndarray needs exactly dtype, shape, b64")
    dtype_text, shape, data = payload["dtype"], payload["shape"], payload["b64"]
    if not isinstance(dtype_text, str) or not isinstance(shape, list) or not isinstance(data, str):
        raise InputError("metric state: malformed $ndarray")
    if not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d for d in shape) or len(shape) > 32:
        raise InputError("metric state: $ndarray shape must be non-negative integers")
    try:
        dtype = np.dtype(dtype_text)
        raw = base64.b64decode(data, validate=True)
    except (TypeError, ValueError, binascii.Error):
        raise InputError(f"metric state: bad $ndarray dtype or data ({dtype_text!r})") from None
    if dtype.kind not in _ARRAY_KINDS or dtype.hasobject:
        raise InputError(f"metric state: $ndarray dtype {dtype_text!r} is not numeric")
    count = math.prod(shape)
    if count * dtype.itemsize != len(raw):
        raise InputError("metric state: $ndarray data does not match its shape and dtype")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _decode_dataclass(payload: Any, template: Any, depth: int) -> Any:
    if not (dataclasses.is_dataclass(template) and not isinstance(template, type)):
        raise InputError("metric state: a dataclass where the metric's state has none")
    fields = {f.name: f for f in dataclasses.fields(template)}
    if not isinstance(payload, dict) or set(payload) != set(fields):
        raise InputError(f"metric state: {type(template).__name__} needs exactly the fields {', '.join(fields)}")
    if any(not f.init for f in fields.values()):
        raise InputError(f"metric state: {type(template).__name__} cannot be rebuilt from its fields")
    values = {name: decode_state(payload[name], getattr(template, name), depth) for name in fields}
    try:
        return dataclasses.replace(template, **values)
    except (TypeError, ValueError) as exc:
        raise InputError(f"metric state: {type(template).__name__} rejects its fields ({exc})") from None


def _list(payload: Any, tag: str) -> list[Any]:
    if not isinstance(payload, list):
        raise InputError(f"metric state: {tag} needs a list")
    return payload


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def _kind(value: Any) -> str:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value).__name__
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, numbers.Number):  # int, float, numpy scalars: a sum may start as 0
        return "number"
    if isinstance(value, Counter):
        return "Counter"
    if type(value).__name__ == "ndarray":
        return "array"
    return type(value).__name__


def _same_kind(state: Any, template: Any) -> bool:
    return _kind(state) == _kind(template)
