"""License terms in plain words, the one place every page takes them from: what kind of
license, where it holds and for how long."""

from __future__ import annotations

from ipmarket.licensing.terms import WORLDWIDE, parse_duration

_TYPE_WORDS = {
    "standard": "Standard license — not exclusive: others may license the same work too.",
    "premium": "Premium license — not exclusive, with the extra rights its requirements name.",
    "exclusive": (
        "Exclusive license — while it lasts, nobody else may hold a license of this work "
        "for the same territory."
    ),
}


def type_words(license_type: str) -> str:
    return _TYPE_WORDS.get(license_type, license_type)


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 else "s")


def duration_words(duration: str) -> str:
    """'PERPETUAL' → 'never expires'; 'P1Y6M' → '1 year and 6 months' (counted from the
    license's approval); text that is no duration is shown as it is."""
    try:
        parsed = parse_duration(duration)
    except ValueError:
        return duration
    if parsed.perpetual:
        return "never expires"
    parts = [
        _plural(n, unit)
        for n, unit in ((parsed.years, "year"), (parsed.months, "month"), (parsed.days, "day"))
        if n
    ]
    if not parts:
        return duration
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def territory_words(territory: str | None) -> str:
    """'worldwide', or 'only in DE, FR' for a list of ISO 3166-1 country codes."""
    if not territory or territory.upper() == WORLDWIDE:
        return "worldwide"
    codes = [code.strip() for code in territory.split(",") if code.strip()]
    return "only in " + ", ".join(codes)
