"""License terms' territory (`WORLDWIDE` or ISO 3166-1 alpha-2 codes) and duration (an ISO
8601 date duration or `PERPETUAL`): parsed, compared and applied without the database."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

WORLDWIDE = "WORLDWIDE"
PERPETUAL = "PERPETUAL"

# ISO 3166-1 alpha-2: the officially assigned codes (249).
_COUNTRY_CODES = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
ISO_COUNTRIES = frozenset(_COUNTRY_CODES.split())


@dataclass(frozen=True)
class Territory:
    """WORLDWIDE, or a set of countries."""

    countries: frozenset[str] | None  # None means worldwide

    @property
    def is_worldwide(self) -> bool:
        return self.countries is None

    def overlaps(self, other: Territory) -> bool:
        if self.countries is None or other.countries is None:
            return True
        return bool(self.countries & other.countries)

    def __str__(self) -> str:
        return WORLDWIDE if self.countries is None else ",".join(sorted(self.countries))


def parse_territory(value: str | list[str]) -> Territory:
    """`WORLDWIDE`, or ISO 3166-1 alpha-2 codes as a list or a comma-separated string."""
    items = value if isinstance(value, list) else value.split(",")
    codes = {item.strip().upper() for item in items if item.strip()}
    if not codes:
        raise ValueError("territory must be WORLDWIDE or a list of ISO 3166-1 alpha-2 codes")
    if WORLDWIDE in codes:
        if len(codes) > 1:
            raise ValueError("WORLDWIDE cannot be combined with country codes")
        return Territory(None)
    unknown = sorted(code for code in codes if code not in ISO_COUNTRIES)
    if unknown:
        raise ValueError(f"not ISO 3166-1 alpha-2 country codes: {', '.join(unknown)}")
    return Territory(frozenset(codes))


_DURATION = re.compile(r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


@dataclass(frozen=True)
class Duration:
    """A calendar duration in years, months and days (weeks count as 7 days), or perpetual."""

    years: int = 0
    months: int = 0
    days: int = 0
    perpetual: bool = False

    def after(self, start: datetime) -> datetime | None:
        """When a license granted at `start` expires; None if it never does."""
        if self.perpetual:
            return None
        total_months = start.month - 1 + self.months + 12 * self.years
        year = start.year + total_months // 12
        month = total_months % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return start.replace(year=year, month=month, day=day) + timedelta(days=self.days)

    def __str__(self) -> str:
        if self.perpetual:
            return PERPETUAL
        parts = "".join(
            f"{n}{unit}"
            for n, unit in ((self.years, "Y"), (self.months, "M"), (self.days, "D"))
            if n
        )
        return f"P{parts}"


MAX_YEARS = 100


def parse_duration(value: str) -> Duration:
    """An ISO 8601 date duration (`P1Y`, `P6M`, `P90D`, `P1Y6M`, `P2W`) or `PERPETUAL`."""
    text = value.strip().upper()
    if text == PERPETUAL:
        return Duration(perpetual=True)
    match = _DURATION.match(text)
    if not match:
        raise ValueError(
            "duration must be an ISO 8601 duration such as P1Y, P6M or P90D, or PERPETUAL"
        )
    years, months, weeks, days = (int(g) if g else 0 for g in match.groups())
    duration = Duration(years=years, months=months, days=days + 7 * weeks)
    if duration.years + duration.months / 12 + duration.days / 365 > MAX_YEARS:
        raise ValueError(f"duration must be at most {MAX_YEARS} years, or PERPETUAL")
    if duration.years == duration.months == duration.days == 0:
        raise ValueError("duration must be longer than zero")
    return duration
