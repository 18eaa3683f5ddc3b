"""Word lists and text builders for the seeded catalogue.

Titles and descriptions are assembled from these lists so that full-text search has real
English stems to match (and rank), and trigram matching has real words to misspell.
"""

from __future__ import annotations

import random

ADJECTIVES: tuple[str, ...] = (
    "amber", "ancient", "arctic", "autumn", "azure", "bold", "brass", "brave", "bright",
    "broken", "bronze", "burning", "calm", "celestial", "charming", "cheerful", "clever",
    "cobalt", "cosmic", "cozy", "crimson", "crystal", "cunning", "curious", "dancing",
    "daring", "dawn", "dreamy", "dusky", "electric", "elegant", "emerald", "enchanted",
    "endless", "fabled", "fierce", "fiery", "floating", "forgotten", "frosty", "gentle",
    "ghostly", "gilded", "glowing", "golden", "graceful", "hidden", "hollow", "humble",
    "icy", "indigo", "iron", "ivory", "jade", "jolly", "lazy", "legendary", "lilac",
    "lonely", "lucky", "lunar", "magic", "marble", "mellow", "midnight", "mighty", "misty",
    "moonlit", "mossy", "mysterious", "neon", "noble", "nocturnal", "obsidian", "ocean",
    "painted", "pastel", "peaceful", "playful", "polar", "proud", "quiet", "radiant",
    "restless", "roaring", "rusty", "sacred", "sapphire", "scarlet", "secret", "shadow",
    "shimmering", "silent", "silver", "sleepy", "sly", "solar", "spectral", "spirited",
    "starry", "stormy", "sunlit", "swift", "tidal", "tiny", "twilight", "velvet",
    "vintage", "violet", "wandering", "whimsical", "wild", "windy", "winter", "wise",
    "wooden", "young", "zesty",
)  # fmt: skip

SUBJECTS: tuple[str, ...] = (
    "alchemist", "anchor", "archer", "aurora", "badger", "bard", "beacon", "bear",
    "blossom", "castle", "cat", "cathedral", "centaur", "chameleon", "cherry", "citadel",
    "clockwork", "comet", "compass", "coral", "crane", "crow", "dragon", "dragonfly",
    "dreamer", "druid", "eagle", "ember", "explorer", "falcon", "fern", "firefly", "fox",
    "galaxy", "garden", "giant", "glacier", "golem", "griffin", "guardian", "harbor",
    "hare", "hedgehog", "heron", "horizon", "hummingbird", "island", "jellyfish", "jungle",
    "knight", "koi", "lantern", "leopard", "lighthouse", "lion", "lotus", "lynx",
    "mage", "maple", "mermaid", "meadow", "meteor", "monk", "moth", "mountain",
    "mushroom", "nebula", "ninja", "oak", "octopus", "orchid", "otter", "owl", "panda",
    "panther", "peacock", "penguin", "phoenix", "pilgrim", "pine", "pirate", "planet",
    "poet", "raccoon", "raven", "robot", "rose", "sailor", "samurai", "scholar",
    "serpent", "shrine", "sparrow", "sphinx", "spirit", "squirrel", "stag", "starling",
    "sunflower", "swan", "temple", "thunder", "tiger", "tortoise", "traveler", "unicorn",
    "valley", "voyager", "waterfall", "whale", "willow", "witch", "wizard", "wolf",
    "wren",
)  # fmt: skip

ASSET_FORMS: tuple[str, ...] = (
    "portrait", "saga", "chronicles", "sketchbook", "collection", "series", "theme",
    "anthem", "story", "legend", "tales", "study", "journey", "character", "emblem",
    "universe", "ballad", "odyssey", "mascot", "adventures",
)  # fmt: skip

DERIVATIVE_MARKS: tuple[str, ...] = (
    "remix", "reimagined", "fan edition", "redux", "alternate", "tribute", "variant",
    "reborn", "retold", "expanded",
)  # fmt: skip

# IP asset categories and content types, with rough weights.
ASSET_CATEGORIES: tuple[tuple[str, int], ...] = (
    ("illustration", 30), ("character", 20), ("photography", 8), ("music", 8),
    ("animation", 7), ("game", 7), ("literature", 6), ("logo", 4), ("pattern", 6),
    ("3d-model", 4),
)  # fmt: skip
CONTENT_TYPES: dict[str, str] = {
    "illustration": "image", "character": "image", "photography": "image",
    "music": "audio", "animation": "video", "game": "other", "literature": "text",
    "logo": "image", "pattern": "image", "3d-model": "model",
}  # fmt: skip

# Product categories, with rough weights, and the kinds of goods in each.
PRODUCT_CATEGORIES: tuple[tuple[str, int], ...] = (
    ("apparel", 22), ("accessories", 12), ("art-prints", 12), ("stickers", 10),
    ("home-decor", 8), ("figurines", 6), ("stationery", 7), ("mugs", 6), ("posters", 6),
    ("phone-cases", 4), ("plush", 3), ("games", 2), ("jewelry", 2),
)  # fmt: skip
PRODUCT_KINDS: dict[str, tuple[str, ...]] = {
    "apparel": ("t-shirt", "hoodie", "sweatshirt", "tank top", "cap", "beanie", "scarf",
                "socks", "jacket"),
    "accessories": ("tote bag", "backpack", "keychain", "enamel pin", "wallet", "patch",
                    "lanyard", "umbrella"),
    "art-prints": ("giclee print", "canvas print", "framed print", "art card", "lithograph"),
    "stickers": ("sticker pack", "vinyl sticker", "holographic sticker", "decal"),
    "home-decor": ("cushion", "blanket", "wall tapestry", "lamp", "clock", "rug", "coaster set"),
    "figurines": ("figurine", "statue", "resin model", "bobblehead", "miniature"),
    "stationery": ("notebook", "journal", "bookmark", "postcard set", "calendar", "pencil case"),
    "mugs": ("mug", "travel mug", "tumbler", "teacup"),
    "posters": ("poster", "mini poster", "silk poster"),
    "phone-cases": ("phone case", "tablet sleeve", "laptop skin"),
    "plush": ("plush toy", "plushie", "cuddly toy"),
    "games": ("board game", "card game", "puzzle", "dice set"),
    "jewelry": ("necklace", "pendant", "ring", "earrings", "bracelet"),
}  # fmt: skip

MATERIALS: tuple[str, ...] = (
    "organic cotton", "recycled polyester", "ceramic", "stainless steel", "bamboo",
    "hardwood", "archival paper", "vinyl", "resin", "linen", "wool", "sterling silver",
    "brushed aluminium", "canvas", "porcelain",
)  # fmt: skip
STYLES: tuple[str, ...] = (
    "watercolor", "ink", "pixel art", "art nouveau", "minimalist", "retro", "ukiyo-e",
    "gothic", "cyberpunk", "cottagecore", "vaporwave", "line art", "pop art", "surreal",
)  # fmt: skip
OPENINGS: tuple[str, ...] = (
    "Officially licensed", "Hand finished", "Limited run", "Made to order", "Studio made",
    "Small batch", "Signed edition", "Fan favourite", "Collector grade", "Everyday",
)  # fmt: skip
CLOSINGS: tuple[str, ...] = (
    "Ships in recyclable packaging.", "Printed on demand in small studios.",
    "Each piece is inspected by hand.", "A thoughtful gift for collectors.",
    "Colours may vary slightly from screen to print.", "Part of the proceeds go to the creator.",
    "Care: wash cold, hang dry.", "Comes with a certificate of authenticity.",
)  # fmt: skip

FIRST_NAMES: tuple[str, ...] = (
    "ada", "akira", "amara", "bao", "bruno", "carmen", "chen", "dara", "elif", "emeka",
    "farah", "freya", "gideon", "hana", "ines", "ivan", "jun", "kai", "lena", "luca",
    "mateo", "maya", "nadia", "niko", "olu", "priya", "quinn", "rafa", "rin", "sami",
    "sofia", "taro", "uma", "vera", "wen", "yara", "yusuf", "zara",
)  # fmt: skip

# Words a shopper would type: subjects, adjectives, product kinds, styles.
SEARCH_WORDS: tuple[str, ...] = (
    SUBJECTS
    + ADJECTIVES
    + tuple(w for kinds in PRODUCT_KINDS.values() for k in kinds for w in k.split())
    + tuple(s.split()[0] for s in STYLES)
)


def weighted(rng: random.Random, items: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in items], weights=[w for _, w in items])[0]


def asset_title(rng: random.Random) -> str:
    adjective, subject = rng.choice(ADJECTIVES), rng.choice(SUBJECTS)
    if rng.random() < 0.5:
        return f"The {adjective.title()} {subject.title()} {rng.choice(ASSET_FORMS).title()}"
    return f"{adjective.title()} {subject.title()}"


def derivative_title(rng: random.Random, parent_title: str) -> str:
    return f"{parent_title} ({rng.choice(DERIVATIVE_MARKS)})"


def asset_description(rng: random.Random, title: str, category: str) -> str:
    style, subject = rng.choice(STYLES), rng.choice(SUBJECTS)
    mood = rng.choice(ADJECTIVES)
    return (
        f"{title} is an original {category} work in a {style} style. "
        f"It follows a {mood} {subject} through a {rng.choice(ADJECTIVES)} "
        f"{rng.choice(SUBJECTS)} world. Available for licensed merchandise and derivative works."
    )


def product_title(rng: random.Random, asset_words: list[str], category: str) -> str:
    kind = rng.choice(PRODUCT_KINDS[category])
    roll = rng.random()
    if roll < 0.45:
        # Named after the licensed asset: "Moonlit Fox enamel pin".
        base = " ".join(asset_words[:3])
    elif roll < 0.8:
        base = f"{rng.choice(ADJECTIVES).title()} {rng.choice(asset_words)}"
    else:
        base = f"{rng.choice(STYLES).title()} {rng.choice(SUBJECTS).title()}"
    return f"{base} {kind.title()}"


def product_description(rng: random.Random, title: str, asset_title: str) -> str:
    material = rng.choice(MATERIALS)
    return (
        f"{rng.choice(OPENINGS)} {title.lower()} inspired by {asset_title}. "
        f"Made from {material} with a {rng.choice(STYLES)} design featuring a "
        f"{rng.choice(ADJECTIVES)} {rng.choice(SUBJECTS)} and a {rng.choice(ADJECTIVES)} "
        f"{rng.choice(SUBJECTS)}. {rng.choice(CLOSINGS)}"
    )


def misspell(rng: random.Random, word: str) -> str:
    """One typing slip: a dropped, doubled, swapped or wrong letter."""
    if len(word) < 5:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    slip = rng.randrange(4)
    if slip == 0:
        return word[:i] + word[i + 1 :]
    if slip == 1:
        return word[:i] + word[i] + word[i:]
    if slip == 2:
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    return word[:i] + rng.choice("aeiou") + word[i + 1 :]


def search_query(rng: random.Random) -> str:
    """What a shopper types: mostly one or two real words, sometimes with a typo."""
    roll = rng.random()
    long_words = [w for w in SUBJECTS if len(w) >= 6]
    if roll < 0.45:
        return rng.choice(SEARCH_WORDS)
    if roll < 0.7:
        return f"{rng.choice(ADJECTIVES)} {rng.choice(SUBJECTS)}"
    if roll < 0.85:
        kind = rng.choice(PRODUCT_KINDS[rng.choice(list(PRODUCT_KINDS))])
        return f"{rng.choice(SUBJECTS)} {kind}"
    return misspell(rng, rng.choice(long_words))
