"""Which samples people rate: a seeded, stratified choice from the run's dataset.

Strata are the values of a dataset field (`review.stratify: category`), or, without one,
ten contiguous stretches of the dataset's order, so a sorted file is still covered end to
end. Each stratum gets its share of `samples` by largest remainder (every stratum with a
sample gets at least one while there are picks left), then a seeded draw within it.

    choose_samples(["a", "b", "c", "d"], ["x", "x", "y", "y"], n=2, seed=0)   # one of a/b, one of c/d
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ORDER_STRATA = 10


def choose_samples(ids: Sequence[str], strata: Sequence[str] | None, n: int, seed: int) -> list[str]:
    """`n` of `ids` (all when there are fewer), in dataset order."""
    ids = list(ids)
    if n >= len(ids):
        return ids
    if strata is None:
        strata = [str(i * ORDER_STRATA // len(ids)) for i in range(len(ids))]
    groups: dict[str, list[int]] = {}
    for index, stratum in enumerate(strata):
        groups.setdefault(stratum, []).append(index)
    shares = _allocate({k: len(v) for k, v in groups.items()}, n)
    rng = np.random.default_rng([seed, 18])  # 18: the issue that added reviews; keeps this draw apart from others on the seed
    chosen: list[int] = []
    for stratum in sorted(groups):
        members = groups[stratum]
        chosen.extend(int(i) for i in rng.choice(members, size=shares[stratum], replace=False))
    return [ids[i] for i in sorted(chosen)]


def _allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Proportional shares summing to `n`: one each first (as far as `n` reaches, largest
    strata first), the rest by largest remainder of the proportional quota."""
    order = sorted(sizes, key=lambda k: (-sizes[k], k))
    shares = {k: 0 for k in sizes}
    for k in order[:n]:
        shares[k] = 1
    left = n - sum(shares.values())
    if left > 0:
        spare = {k: sizes[k] - shares[k] for k in sizes}
        total = sum(spare.values())
        quotas = {k: left * spare[k] / total for k in sizes}
        for k in sizes:
            shares[k] += int(quotas[k])
        rest = left - sum(int(q) for q in quotas.values())
        for k in sorted(sizes, key=lambda k: (-(quotas[k] - int(quotas[k])), k))[:rest]:
            shares[k] += 1
    return shares
