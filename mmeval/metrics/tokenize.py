"""Word tokens for the text metrics that tokenize themselves (distinct-n, self-BLEU, ROUGE-L).

Chinese product copy has no spaces, so a whitespace split sees one token per sentence.
`zh` is sacrebleu's Chinese tokenizer (each CJK character a token, other runs split as
in `13a`), the field's convention for Chinese BLEU; `char` makes every non-space
character a token.

    tokens("红色羊毛帽 warm", "zh")   # ['红', '色', '羊', '毛', '帽', 'warm']
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

Tokenize = Literal["whitespace", "char", "zh"]
TOKENIZERS = ("whitespace", "char", "zh")


@lru_cache(maxsize=1)
def _zh() -> Any:
    from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh

    return TokenizerZh()


def tokens(text: str, tokenize: Tokenize) -> list[str]:
    if tokenize == "whitespace":
        return text.split()
    if tokenize == "char":
        return [c for c in text if not c.isspace()]
    if tokenize == "zh":
        return _zh()(text).split()
    raise ValueError(f"tokenize must be one of {', '.join(TOKENIZERS)}")


class TokenizerObject:
    """`tokens` as an object with a `tokenize(text)` method, the interface rouge-score's
    `RougeScorer(tokenizer=...)` takes."""

    def __init__(self, tokenize: Tokenize):
        if tokenize not in TOKENIZERS:
            raise ValueError(f"tokenize must be one of {', '.join(TOKENIZERS)}")
        self.mode = tokenize

    def tokenize(self, text: str) -> list[str]:
        return tokens(text, self.mode)
