"""Build a plugin from its registry name and suite `args`, checking args before anything runs.

Arguments are validated against the constructor's signature and type hints (pydantic),
so a typo or a wrong type is a one-line SpecError that names the suite key. Parameters
annotated as `Path` are resolved relative to the suite file.

A suite's `language:` adds default arguments (`language_defaults`): a metric whose
`tokenize` parameter is a Literal gets the language's tokenizer unless the suite sets one.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from pathlib import Path
from typing import Any

from .errors import MmevalError, SpecError
from .registry import Registry


def _is_path_type(hint: Any) -> bool:
    if hint is Path:
        return True
    return any(arg is Path for arg in typing.get_args(hint))


def _describe(error: Any) -> str:
    first = error.errors()[0]
    loc = ".".join(str(part) for part in first["loc"])
    message = first["msg"]
    return f"{message} (at {loc})" if loc else message


def check_args(cls: type, args: dict[str, Any], where: str, base_dir: Path) -> dict[str, Any]:
    """Return `args` validated and coerced for `cls(**args)`; raise SpecError naming `where`."""
    from pydantic import TypeAdapter, ValidationError

    signature = inspect.signature(cls)
    params = {
        name: p
        for name, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable annotations: check names only
        hints = {}
    checked: dict[str, Any] = {}
    for key, value in args.items():
        if key not in params:
            if accepts_any:
                checked[key] = value
                continue
            close = difflib.get_close_matches(key, params, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else (
                f"; it takes {', '.join(params)}" if params else "; it takes no arguments"
            )
            raise SpecError(f"{where}.{key}: unknown argument{hint}")
        hint_type = hints.get(key)
        if hint_type is not None:
            try:
                value = TypeAdapter(hint_type).validate_python(value)
            except ValidationError as exc:
                raise SpecError(f"{where}.{key}: {value!r} is invalid: {_describe(exc)}") from None
            if _is_path_type(hint_type) and isinstance(value, Path) and not value.is_absolute():
                value = base_dir / value
        checked[key] = value
    missing = [n for n, p in params.items() if p.default is p.empty and n not in checked]
    if missing:
        raise SpecError(f"{where}: missing required argument(s): {', '.join(missing)}")
    return checked


# language -> the tokenizers it prefers; a metric gets the first its `tokenize` accepts.
# en: today's defaults. zh: sacrebleu's Chinese tokenizer (bleu, distinct_n, self_bleu,
# rouge_l). ja: MeCab for bleu (must be installed), characters for the others.
LANGUAGE_TOKENIZE: dict[str, tuple[str, ...]] = {"en": (), "zh": ("zh", "char"), "ja": ("ja-mecab", "char")}
_NEEDS = {"ja-mecab": (("MeCab", "ipadic"), "sacrebleu[ja]")}


def language_code(language: str) -> str:
    """The table key of a language tag (`zh`, `zh-CN`, `ZH-Hans` -> `zh`); ValueError if unknown."""
    code = language.split("-")[0].split("_")[0].lower()
    if code not in LANGUAGE_TOKENIZE:
        raise ValueError(f"unsupported language {language!r}; use one of {', '.join(LANGUAGE_TOKENIZE)} "
                         "(or leave it out and set each metric's tokenize)")
    return code


def _literal_values(hint: Any) -> list[Any]:
    if typing.get_origin(hint) is typing.Literal:
        return list(typing.get_args(hint))
    return [v for arg in typing.get_args(hint) for v in _literal_values(arg)]  # Optional / Union


def language_defaults(registry: Registry, name: str, args: dict[str, Any], language: str | None, where: str) -> dict[str, Any]:
    """The arguments `language` adds to `args` (never one the suite gives); {} for none."""
    if language is None or "tokenize" in args:
        return {}
    preferred = LANGUAGE_TOKENIZE[language_code(language)]
    if not preferred:
        return {}
    try:
        cls = registry.get(name)
        hint = typing.get_type_hints(cls.__init__).get("tokenize")
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
    except Exception:  # unresolvable annotations: no defaults
        return {}
    accepted = _literal_values(hint)
    choice = next((t for t in preferred if t in accepted), None)
    if choice is None:
        return {}
    if choice in _NEEDS:
        import importlib.util

        modules, extra = _NEEDS[choice]
        if any(importlib.util.find_spec(m) is None for m in modules):
            raise SpecError(f"{where}: language {language}: tokenize {choice} needs {' and '.join(modules)}; "
                            f"run: pip install '{extra}', or set args.tokenize on this metric")
    return {"tokenize": choice}


class ArgumentError(SpecError):
    """A constructor rejects one of its arguments; `build` names the suite key (`...args.NAME`)."""

    def __init__(self, argument: str, message: str):
        super().__init__(message)
        self.argument = argument


def build(registry: Registry, name: str, args: dict[str, Any], where: str, base_dir: Path) -> Any:
    """Resolve `name`, check `args`, construct. Constructor errors become SpecErrors."""
    try:
        cls = registry.get(name)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
    checked = check_args(cls, args, f"{where}.args", base_dir)
    try:
        return cls(**checked)
    except ArgumentError as exc:
        raise SpecError(f"{where}.args.{exc.argument}: {exc}") from None
    except MmevalError:
        raise
    except (ValueError, TypeError) as exc:
        raise SpecError(f"{where}: {exc}") from None
