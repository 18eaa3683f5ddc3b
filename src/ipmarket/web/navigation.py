"""The site navigation, which changes with the signed-in user's role. One list, one place:
the admin back office adds its entry here."""

from __future__ import annotations

from dataclasses import dataclass

from ipmarket.identity import Permission
from ipmarket.web.session import VisitorView


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    current: bool


P = Permission
# (label, href, shown to a user holding any of these; () for everyone, anonymous included)
_ITEMS: tuple[tuple[str, str, tuple[Permission, ...]], ...] = (
    ("Marketplace", "/products", ()),
    ("IP catalogue", "/ip", ()),
    ("Verify", "/verify", ()),
    ("Studio", "/studio", (P.CREATE_IP,)),
    ("Licenses", "/licenses", (P.APPLY_LICENSE,)),
    ("My products", "/shop", (P.CREATE_PRODUCTS,)),
    ("Orders", "/orders", (P.PURCHASE_PRODUCTS,)),
    ("Money", "/money", (P.CREATE_IP, P.CREATE_PRODUCTS)),
)


def navigation(visitor: VisitorView | None, path: str) -> list[NavItem]:
    items = []
    for label, href, permissions in _ITEMS:
        if permissions and (visitor is None or not any(visitor.can(p) for p in permissions)):
            continue
        items.append(NavItem(label, href, path == href or path.startswith(href + "/")))
    return items
