"""The catalogue's closed vocabulary: categories, colours, materials and how they look/sound.

Shared by the catalogue generator, the reference generators (attribute encoding) and the
rule-based attribute extractor, so all three agree on one spelling of every value.
"""

from __future__ import annotations

CATEGORIES = ["t-shirt", "mug", "sneaker", "backpack", "lamp", "watch", "vase", "cap"]
COLOURS = {
    "red": (200, 40, 40),
    "blue": (40, 80, 200),
    "green": (40, 150, 60),
    "yellow": (230, 200, 40),
    "black": (30, 30, 30),
    "white": (235, 235, 235),
    "orange": (240, 130, 30),
    "purple": (130, 50, 160),
}
MATERIALS = ["cotton", "leather", "ceramic", "steel", "wool", "wood"]

# Typical price per category and how the material scales it (dollars).
BASE_PRICE = {"t-shirt": 18, "mug": 12, "sneaker": 70, "backpack": 55, "lamp": 40, "watch": 120, "vase": 30, "cap": 20}
MATERIAL_FACTOR = {"cotton": 1.0, "leather": 1.8, "ceramic": 1.1, "steel": 1.5, "wool": 1.3, "wood": 1.2}

ATTRIBUTES = ("category", "colour", "material")


def one_hot_size() -> int:
    return len(CATEGORIES) + len(COLOURS) + len(MATERIALS)


def encode(category: str, colour: str, material: str) -> list[float]:
    """The attribute vector the image and audio generators are conditioned on."""
    vec = [0.0] * one_hot_size()
    vec[CATEGORIES.index(category)] = 1.0
    vec[len(CATEGORIES) + list(COLOURS).index(colour)] = 1.0
    vec[len(CATEGORIES) + len(COLOURS) + MATERIALS.index(material)] = 1.0
    return vec
