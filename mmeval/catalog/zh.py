"""Chinese product copy for `suites/ecommerce-text-zh.yaml`, from the seeded catalogue.

The first 40 suite products get Chinese titles, prices in yuan and reference copy from
fixed templates; two precomputed models answer them: `candidate` (other templates, an
attribute now and then wrong, seeded) and `baseline` (one generic sentence, low
diversity). `python -m mmeval.catalog.zh --out suites/data` rewrites
`ecommerce-zh/` bit for bit.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from . import suite_products
from .products import Product

N_ZH, CANDIDATE_SEED = 40, 2027
CATEGORY = {"t-shirt": "T恤", "mug": "马克杯", "sneaker": "运动鞋", "backpack": "双肩包",
            "lamp": "台灯", "watch": "手表", "vase": "花瓶", "cap": "棒球帽"}
COLOUR = {"red": "红色", "blue": "蓝色", "green": "绿色", "yellow": "黄色",
          "black": "黑色", "white": "白色", "orange": "橙色", "purple": "紫色"}
MATERIAL = {"cotton": "纯棉", "leather": "真皮", "ceramic": "陶瓷", "steel": "不锈钢", "wool": "羊毛", "wood": "实木"}
_OPENERS = ["这款{colour}{category}采用{material}制成。", "{colour}{material}{category}，做工精致。",
            "全新{colour}{material}{category}上市。", "我们的{category}选用{colour}{material}。"]
_FEATURES = {
    "t-shirt": ["亲肤柔软，易于清洗。", "宽松版型，适合日常穿着。"],
    "mug": ["容量充足，一杯咖啡刚刚好。", "保温效果好，茶水久热。"],
    "sneaker": ["鞋底缓震，长时间行走不累。", "轻盈防滑，城市通勤首选。"],
    "backpack": ["空间宽敞，可放笔记本电脑。", "肩带加厚，背着更舒适。"],
    "lamp": ["光线温暖均匀。", "柔和灯光，适合书桌使用。"],
    "watch": ["防水设计，表盘清晰。", "纤薄表壳，百搭各种手腕。"],
    "vase": ["适合插鲜花或干花。", "造型简约，摆在哪个架子上都好看。"],
    "cap": ["可调节后扣，佩戴合适。", "遮阳挡光，晴天出行必备。"],
}
_CLOSERS = ["仅售¥{price}。", "到手价¥{price}。", "售价¥{price}。"]


def yuan(product: Product) -> float:
    return round(max(1, round(product.price * 7)) - 0.1, 2)


def _copy(product: Product, opener: int, feature: int, closer: int, colour: str, material: str, with_feature: bool = True) -> str:
    words = {"colour": COLOUR[colour], "category": CATEGORY[product.category], "material": MATERIAL[material]}
    parts = [_OPENERS[opener].format(**words)]
    if with_feature:
        parts.append(_FEATURES[product.category][feature])
    parts.append(_CLOSERS[closer].format(price=f"{yuan(product):.2f}"))
    return "".join(parts)


def rows() -> tuple[list[dict], list[dict], list[dict]]:
    """(dataset, candidate outputs, baseline outputs) for the first N_ZH suite products."""
    products = suite_products()[:N_ZH]
    rng = np.random.Generator(np.random.PCG64(CANDIDATE_SEED))
    dataset, candidate, baseline = [], [], []
    for p in products:
        pick = np.random.Generator(np.random.PCG64([CANDIDATE_SEED, int(p.id[1:])]))  # the reference's own choice
        opener, feature, closer = int(pick.integers(4)), int(pick.integers(2)), int(pick.integers(3))
        title = f"{COLOUR[p.colour]}{MATERIAL[p.material]}{CATEGORY[p.category]}"
        sid = f"zh-{p.id}"
        dataset.append({"id": sid, "input": f"{title} | ¥{yuan(p):.2f} | 商品描述：",
                        "target": _copy(p, opener, feature, closer, p.colour, p.material),
                        "category": p.category, "colour": p.colour, "material": p.material, "price": yuan(p)})
        colour = p.colour if rng.random() > 0.2 else list(COLOUR)[int(rng.integers(len(COLOUR)))]
        material = p.material if rng.random() > 0.15 else list(MATERIAL)[int(rng.integers(len(MATERIAL)))]
        candidate.append({"id": sid, "output": _copy(p, int(rng.integers(4)), int(rng.integers(2)), int(rng.integers(3)),
                                                     colour, material, with_feature=rng.random() > 0.2)})
        baseline.append({"id": sid, "output": f"这是一款好看的{CATEGORY[p.category]}，欢迎选购。"})
    return dataset, candidate, baseline


def write_zh_suite_data(out: Path) -> list[Path]:
    """Write `<out>/ecommerce-zh/{text,candidate,baseline}.jsonl`; returns the paths."""
    root = Path(out) / "ecommerce-zh"
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, lines in zip(("text", "candidate", "baseline"), rows()):
        path = root / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m mmeval.catalog.zh", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("suites/data"), help="folder that gets ecommerce-zh/")
    files = write_zh_suite_data(parser.parse_args().out)
    print(f"wrote {len(files)} files under {files[0].parent}")


if __name__ == "__main__":
    main()
