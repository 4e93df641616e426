"""The simulated world the logs come from: vocabularies, persons, devices, items and bots.

It is built once per ``generate_logs`` call from (events_per_day, seed), so ids stay stable across
days. String values that end up in the JSON lines are kept as ready-made JSON fragments
(``"key":"value"``) so the per-event work is a gather by integer code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import polars as pl

from data_platform.contracts import EVENT_TYPES, FIELD_NAMES

# --- Vocabularies -------------------------------------------------------------------------------

CATEGORIES = ("fashion", "electronics", "home", "beauty", "sports", "books", "toys", "grocery", "garden", "automotive")
CATEGORY_WEIGHTS = np.array([0.22, 0.10, 0.15, 0.10, 0.09, 0.08, 0.07, 0.08, 0.06, 0.05])
CATEGORY_MEDIAN_PRICE_EUR = np.array([35.0, 180.0, 60.0, 20.0, 45.0, 15.0, 25.0, 8.0, 40.0, 70.0])
CATEGORY_CTR_EFFECT = np.array([0.15, 0.25, -0.05, 0.10, 0.0, -0.25, 0.05, -0.30, -0.10, -0.15])
DRIFT_CATEGORY = CATEGORIES.index("electronics")
DRIFT_SHARE = 0.40

COUNTRIES = ("DE", "FR", "GB", "US", "NL", "ES", "IT", "PL", "IN")
COUNTRY_WEIGHTS = np.array([0.28, 0.14, 0.14, 0.14, 0.07, 0.08, 0.07, 0.04, 0.04])
CURRENCIES = ("EUR", "USD", "GBP")
EUR_RATE = np.array([1.0, 1.08, 0.86])
COUNTRY_CURRENCY = np.array([0, 0, 2, 1, 0, 0, 0, 0, 0], dtype=np.int8)

# How a device writes ts: epoch milliseconds, or ISO-8601 in the local time of one of these offsets.
TS_SUFFIXES = ("Z", "+00:00", "+01:00", "-05:00", "+05:30")
TS_SUFFIX_OFFSET_MIN = np.array([0, 0, 60, -300, 330])
COUNTRY_LOCAL_SUFFIX = np.array([2, 2, 1, 3, 2, 2, 2, 2, 4], dtype=np.int8)
TS_EPOCH = -1  # ts style code: integer epoch milliseconds
TS_STYLE_WEIGHTS = (0.33, 0.22, 0.45)  # epoch ms, ISO "Z", ISO with the country's local offset

DEVICE_TYPES = ("ios", "android", "web")
DEVICE_TYPE_WEIGHTS = np.array([0.35, 0.42, 0.23])
APP_VERSIONS = ("3.0.4", "3.1.0", "3.1.1", "3.2.0")
APP_VERSION_WEIGHTS = np.array([0.15, 0.45, 0.40, 0.0])
CENTS_VERSION = APP_VERSIONS.index("3.2.0")  # only ever seen with the cents_prices incident
PERSONS_LOGGING_IN = 0.6  # the others stay anonymous

MODEL_VERSIONS = ("ctr-2026.10", "ctr-2026.11-rc1")
MODEL_SHARE = np.array([0.9, 0.1])
MODEL_NOISE_SD = np.array([0.6, 0.45])  # the candidate model is a bit better

UA_TEMPLATES = {
    "ios": (
        "ShopApp/{v} (iPhone; iOS 17.6.1; Scale/3.00)",
        "ShopApp/{v} (iPhone; iOS 18.1; Scale/3.00)",
        "ShopApp/{v} (iPad; iPadOS 18.0; Scale/2.00)",
        "ShopApp/{v} CFNetwork/1568.100.1 Darwin/24.0.0",
    ),
    "android": (
        "ShopApp/{v} (Linux; Android 14; Pixel 8) okhttp/4.12.0",
        "ShopApp/{v} (Linux; Android 14; SM-S918B) okhttp/4.12.0",
        "ShopApp/{v} (Linux; Android 13; SM-A546B) okhttp/4.12.0",
        "ShopApp/{v} (Linux; Android 15; 2311DRK48G) okhttp/4.12.0",
    ),
    "web": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
    ),
}
N_UA_TEMPLATES = 4
CRAWLER_USER_AGENTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "python-requests/2.32.3",
    "curl/8.5.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Scrapy/2.11.2 (+https://scrapy.org)",
)
# First octets of addresses: residential/mobile blocks for people, cloud/crawler blocks for bots.
HUMAN_IP_FIRST_OCTETS = np.array(
    [
        31,
        37,
        46,
        62,
        77,
        79,
        80,
        84,
        88,
        91,
        93,
        95,
        109,
        176,
        178,
        185,
        188,
        212,
        217,
        24,
        50,
        67,
        73,
        98,
        104,
        49,
        103,
        117,
    ]
)
BOT_IP_FIRST_OCTETS = np.array([3, 34, 35, 40, 52, 66, 157])

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_PAIRS = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), dtype=np.uint16)  # byte -> 2 digits


# --- Helpers ------------------------------------------------------------------------------------


def json_text(value: str) -> str:
    """The inside of a JSON string literal for ``value`` (escaped, without the quotes)."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def fragments(key: str, values: pl.Series | list[str], quote: bool = True) -> pl.Series:
    """The ``"key":value`` fragments of a vocabulary, as pieces of a JSON line, for :func:`pick`.

    Each fragment carries the character that precedes it in a line: ``{`` for the first contract
    field (event_id, always present), ``,`` for the others, so a line is the plain concatenation of
    its present fragments. Two slots follow the vocabulary: absent (null) and explicit JSON null.
    The values must already be JSON-escaped.
    """
    lead = "{" if key == FIELD_NAMES[0] else ","
    values = pl.Series(values, dtype=pl.String)
    frags = f'{lead}"{key}":' + ('"' + values + '"' if quote else values)
    return pl.concat([frags, pl.Series([None, f'{lead}"{key}":null'], dtype=pl.String)], rechunk=True)


ABSENT = -1  # code: the field is left out of the line
NULL = -2  # code: the field is written as an explicit JSON null


def pick(frags: pl.Series, codes: np.ndarray) -> pl.Series:
    """Gather fragments by code (``ABSENT`` -> null, ``NULL`` -> ``"key":null``)."""
    n = len(frags) - 2
    return frags.gather(np.where(codes >= 0, codes, n - 1 - codes))


def _hex_matrix(rng: np.random.Generator, n: int, digits: int) -> np.ndarray:
    """(n, digits) ASCII codes of random lowercase hex digits (``digits`` even)."""
    raw = np.frombuffer(rng.bytes(n * digits // 2), dtype=np.uint8).reshape(n, digits // 2)
    return _HEX_PAIRS[raw].view(np.uint8)


def _strings(chars: np.ndarray) -> pl.Series:
    """Polars strings from an (n, width) array of ASCII codes."""
    return pl.Series(np.ascontiguousarray(chars).view(f"S{chars.shape[1]}").ravel()).cast(pl.String)


def random_hex(rng: np.random.Generator, n: int, digits: int, prefix: str = "") -> pl.Series:
    """``n`` random ids: ``prefix`` and ``digits`` lowercase hex digits."""
    head = np.broadcast_to(np.frombuffer(prefix.encode(), dtype=np.uint8), (n, len(prefix)))
    return _strings(np.hstack([head, _hex_matrix(rng, n, digits)]))


def random_uuid4(rng: np.random.Generator, n: int) -> pl.Series:
    """``n`` random UUIDv4 strings (8-4-4-4-12 hex digits)."""
    hexes = _hex_matrix(rng, n, 32)
    hexes[:, 12] = ord("4")
    hexes[:, 16] = _HEX[8 + (hexes[:, 16] & 3)]  # variant bits 10xx
    dash = np.full((n, 1), ord("-"), dtype=np.uint8)
    return _strings(
        np.hstack(
            [hexes[:, :8], dash, hexes[:, 8:12], dash, hexes[:, 12:16], dash, hexes[:, 16:20], dash, hexes[:, 20:]]
        )
    )


def ipv4(rng: np.random.Generator, first_octets: np.ndarray, n: int) -> pl.Series:
    """``n`` random IPv4 addresses whose first octet is drawn from ``first_octets``."""
    octets = [rng.choice(first_octets, n)] + [rng.integers(lo, 255, n) for lo in (0, 0, 1)]
    return (
        pl.DataFrame({str(i): o for i, o in enumerate(octets)})
        .select(pl.concat_str(pl.all(), separator="."))
        .to_series()
    )


def ua_code(device_type: np.ndarray, version: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Index into :data:`USER_AGENTS` of a human client's user agent."""
    return ((device_type * len(APP_VERSIONS) + version) * N_UA_TEMPLATES + template).astype(np.int16)


USER_AGENTS = [
    UA_TEMPLATES[d][t].format(v=v) for d in DEVICE_TYPES for v in APP_VERSIONS for t in range(N_UA_TEMPLATES)
] + list(CRAWLER_USER_AGENTS)
CRAWLER_UA_BASE = len(USER_AGENTS) - len(CRAWLER_USER_AGENTS)


# --- The world ----------------------------------------------------------------------------------


@dataclass
class World:
    """Persons, their devices (bots are devices too), the item catalog and the JSON fragments."""

    # persons
    person_logs_in: np.ndarray  # bool: ever logs in (the rest stay anonymous)
    person_activity: np.ndarray  # probability a session belongs to this person
    person_fav_category: np.ndarray
    person_device_start: np.ndarray  # their devices are person_devices[start : start + count]
    person_device_count: np.ndarray
    person_devices: np.ndarray
    # devices
    device_type: np.ndarray
    device_version: np.ndarray
    device_ua_template: np.ndarray
    device_country: np.ndarray
    device_ts_suffix: np.ndarray  # TS_EPOCH or index into TS_SUFFIXES
    device_upgrade_u: np.ndarray  # uniform draw: who upgrades to 3.2.0 in a cents_prices incident
    device_is_bot: np.ndarray
    # items (sorted by category: category c is items cat_start[c] : cat_start[c] + cat_count[c])
    item_price_eur: np.ndarray
    item_quality: np.ndarray
    cat_start: np.ndarray
    cat_count: np.ndarray
    # bots
    bot_devices: np.ndarray
    bot_weight: np.ndarray
    bot_stealth: np.ndarray  # normal browser user agent, inhuman rate
    bot_anon_ids: list[str]
    # JSON fragments by code
    frags: dict[str, pl.Series]
    stats: dict[str, int]

    @property
    def n_persons(self) -> int:
        return len(self.person_logs_in)


def build_world(events_per_day: int, seed: int) -> World:
    """Draw the population for a run; depends only on (events_per_day, seed)."""
    rng = np.random.default_rng([seed, 0])
    n_persons = max(500, events_per_day // 20)
    n_items = int(np.clip(events_per_day // 50, 200, 200_000))
    n_bots = max(3, round(events_per_day * 0.03 / 3000))

    # Persons own 1-3 devices; ~1% also use a device of someone else (a shared family tablet).
    owned = rng.choice([1, 2, 3], n_persons, p=[0.6, 0.3, 0.1])
    owner = np.repeat(np.arange(n_persons), owned)
    n_human_devices = len(owner)
    first_device = np.cumsum(owned) - owned
    n_shared = max(1, round(0.01 * n_persons))
    sharer = rng.choice(n_persons, n_shared, replace=False)
    lender = (sharer + 1 + rng.integers(0, n_persons - 1, n_shared)) % n_persons
    entry_person = np.concatenate([owner, sharer])
    entry_device = np.concatenate([np.arange(n_human_devices), first_device[lender]])
    order = np.argsort(entry_person, kind="stable")
    device_count = np.bincount(entry_person, minlength=n_persons)

    # Devices: humans first, then bots.
    n_devices = n_human_devices + n_bots
    person_country = rng.choice(len(COUNTRIES), n_persons, p=COUNTRY_WEIGHTS).astype(np.int8)
    bot_stealth = rng.random(n_bots) < 0.3
    device_type = np.concatenate(
        [rng.choice(3, n_human_devices, p=DEVICE_TYPE_WEIGHTS), np.full(n_bots, DEVICE_TYPES.index("web"))]
    ).astype(np.int8)
    device_country = np.concatenate([person_country[owner], rng.choice([0, 3, 3, 4], n_bots)]).astype(np.int8)
    style = rng.choice(3, n_devices, p=TS_STYLE_WEIGHTS)
    device_ts_suffix = np.select([style == 0, style == 1], [TS_EPOCH, 0], COUNTRY_LOCAL_SUFFIX[device_country])
    device_is_bot = np.arange(n_devices) >= n_human_devices

    # Items: log-normal prices around the category median, ending in .99; a latent quality.
    item_cat = np.sort(rng.choice(len(CATEGORIES), n_items, p=CATEGORY_WEIGHTS))
    raw_price = CATEGORY_MEDIAN_PRICE_EUR[item_cat] * rng.lognormal(0.0, 0.6, n_items)
    cat_count = np.bincount(item_cat, minlength=len(CATEGORIES))

    anon_ids = random_uuid4(rng, n_devices)
    ips = pl.concat([ipv4(rng, HUMAN_IP_FIRST_OCTETS, n_human_devices), ipv4(rng, BOT_IP_FIRST_OCTETS, n_bots)])
    user_ids = "u" + pl.Series(1_000_000 + rng.permutation(n_persons)).cast(pl.String)
    item_ids = "item_" + pl.Series(rng.permutation(n_items) + 100_000).cast(pl.String)
    bot_devices = np.arange(n_human_devices, n_devices)
    frags = {
        "event_type": fragments("event_type", list(EVENT_TYPES)),
        "anon_id": fragments("anon_id", anon_ids),
        "ip": fragments("ip", ips),
        "user_id": fragments("user_id", user_ids),
        "item_id": fragments("item_id", item_ids),
        "category": fragments("category", list(CATEGORIES)),
        "currency": fragments("currency", list(CURRENCIES)),
        "model_version": fragments("model_version", list(MODEL_VERSIONS)),
        "country": fragments("country", list(COUNTRIES)),
        "device": fragments("device", list(DEVICE_TYPES)),
        "app_version": fragments("app_version", list(APP_VERSIONS)),
        "user_agent": fragments("user_agent", [json_text(ua) for ua in USER_AGENTS]),
    }
    person_logs_in = rng.random(n_persons) < PERSONS_LOGGING_IN
    world = World(
        person_logs_in=person_logs_in,
        person_activity=_normalized(rng.lognormal(0.0, 1.0, n_persons)),
        person_fav_category=rng.choice(len(CATEGORIES), n_persons, p=CATEGORY_WEIGHTS).astype(np.int8),
        person_device_start=np.cumsum(device_count) - device_count,
        person_device_count=device_count,
        person_devices=entry_device[order].astype(np.int32),
        device_type=device_type,
        device_version=np.concatenate(
            [rng.choice(len(APP_VERSIONS), n_human_devices, p=APP_VERSION_WEIGHTS), np.full(n_bots, 2)]
        ).astype(np.int8),
        device_ua_template=rng.integers(0, N_UA_TEMPLATES, n_devices).astype(np.int8),
        device_country=device_country,
        device_ts_suffix=device_ts_suffix.astype(np.int8),
        device_upgrade_u=np.where(device_is_bot, 2.0, rng.random(n_devices)),
        device_is_bot=device_is_bot,
        item_price_eur=np.maximum(1.0, np.round(raw_price)) - 0.01,
        item_quality=rng.normal(0.0, 0.5, n_items),
        cat_start=np.cumsum(cat_count) - cat_count,
        cat_count=cat_count,
        bot_devices=bot_devices,
        bot_weight=_normalized(rng.lognormal(0.0, 0.5, n_bots)),
        bot_stealth=bot_stealth,
        bot_anon_ids=anon_ids.gather(bot_devices).to_list(),
        frags=frags,
        stats={
            "persons": n_persons,
            "persons_with_multiple_devices": int((device_count > 1).sum()),
            "persons_logging_in": int(person_logs_in.sum()),
            "devices": n_human_devices,
            "shared_devices": int(len(np.unique(first_device[lender]))),
        },
    )
    return world


def user_agents_of(world: World, devices: np.ndarray, versions: np.ndarray) -> np.ndarray:
    """User agent codes of devices: crawlers their bot UA, stealth bots and people a client UA."""
    human = ua_code(world.device_type[devices], versions[devices], world.device_ua_template[devices])
    is_bot = world.device_is_bot[devices]
    bot_index = np.searchsorted(world.bot_devices, devices)
    crawler = is_bot & ~world.bot_stealth[np.minimum(bot_index, len(world.bot_devices) - 1)]
    crawler_ua = CRAWLER_UA_BASE + (bot_index % len(CRAWLER_USER_AGENTS))
    return np.where(crawler, crawler_ua, human).astype(np.int16)


def _normalized(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum()
