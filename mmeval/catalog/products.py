"""Seeded products with titles and reference descriptions.

Everything derives from `numpy.random.Generator(PCG64(seed))`, whose streams numpy keeps
stable, so the same seed gives the same catalogue on every machine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .vocab import BASE_PRICE, CATEGORIES, COLOURS, MATERIAL_FACTOR, MATERIALS

_OPENERS = [
    "A {colour} {category} made of {material}.",
    "This {colour} {category} is crafted from {material}.",
    "Meet our {colour} {material} {category}.",
    "The {category} comes in {colour} {material}.",
]
_FEATURES = {
    "t-shirt": ["Soft on the skin and easy to wash.", "A relaxed fit for every day."],
    "mug": ["Holds a generous cup of coffee.", "Keeps your tea warm for longer."],
    "sneaker": ["A cushioned sole for long walks.", "Light and grippy on city streets."],
    "backpack": ["Roomy pockets for a laptop and more.", "Padded straps for a comfortable carry."],
    "lamp": ["Gives a warm and even light.", "A calm glow for your desk."],
    "watch": ["Water resistant with a clear dial.", "A slim case that suits any wrist."],
    "vase": ["Made for fresh or dried flowers.", "A simple shape for any shelf."],
    "cap": ["An adjustable strap for a good fit.", "Shades your eyes on sunny days."],
}
_CLOSERS = ["Only ${price}.", "Yours for ${price}.", "Priced at ${price}."]


@dataclass(frozen=True)
class Product:
    id: str
    category: str
    colour: str
    material: str
    price: float
    title: str
    description: str
    variant: int  # drives layout/texture details of the rendered image and the jingle

    def attributes(self) -> dict[str, str]:
        return {"category": self.category, "colour": self.colour, "material": self.material}

    def to_dict(self) -> dict:
        return asdict(self)


def prompt(product: Product) -> str:
    """The text-generation input: title and price, then the cue the description follows."""
    return f"{product.title} | ${product.price:.2f} | Description:"


def make_products(n: int, seed: int, prefix: str = "p") -> list[Product]:
    rng = np.random.Generator(np.random.PCG64(seed))
    colours = list(COLOURS)
    products = []
    for i in range(n):
        category = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
        colour = colours[int(rng.integers(len(colours)))]
        material = MATERIALS[int(rng.integers(len(MATERIALS)))]
        raw = BASE_PRICE[category] * MATERIAL_FACTOR[material] * float(rng.uniform(0.8, 1.25))
        price = round(max(1.0, round(raw)) - 0.01, 2)
        words = {"colour": colour, "category": category, "material": material}
        opener = _OPENERS[int(rng.integers(len(_OPENERS)))].format(**words)
        feature = _FEATURES[category][int(rng.integers(2))]
        closer = _CLOSERS[int(rng.integers(len(_CLOSERS)))].replace("{price}", f"{price:.2f}")
        opener = opener[0].upper() + opener[1:]
        title = f"{colour.capitalize()} {material.capitalize()} {category.capitalize()}"
        products.append(
            Product(f"{prefix}{i:04d}", category, colour, material, price, title,
                    f"{opener} {feature} {closer}", int(rng.integers(1 << 30)))
        )
    return products
