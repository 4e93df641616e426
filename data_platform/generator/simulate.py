"""One day of user behaviour, vectorized: sessions, impressions, clicks, purchases, reviews, logins, bots.

The result is a set of numpy columns, one row per valid event (codes into the world's and the day's
vocabularies), that :mod:`render` turns into JSON lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from data_platform.base.enums import SENTIMENTS
from data_platform.contracts import EVENT_TYPES
from data_platform.generator import world as w
from data_platform.generator.incidents import Incident
from data_platform.generator.world import ABSENT, NULL, World, fragments, json_text, random_hex
from data_platform.privacy.redaction import redact_text

DAY_MS = 86_400_000
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
BOT_SHARE = 0.03
MEAN_IMPRESSIONS = 8.0  # per session
MAX_POSITION = 60
IMPRESSION_GAP_MS = 9_000.0
LOGIN_SESSION_P = 0.78  # a session of a person who logs in starts with a login
REVIEW_SESSION_P = 0.093
# Events that come with each impression (itself, its clicks and their purchases; measured on the
# click model below) and per session (a login, a review): used to size the day.
EVENTS_PER_IMPRESSION = 1.084
EVENTS_PER_SESSION_BESIDES = w.PERSONS_LOGGING_IN * LOGIN_SESSION_P + REVIEW_SESSION_P
# Click model: logit = base + position decay + category + price + item quality + taste.
CTR_BASE_LOGIT = -1.7
CTR_POSITION_SLOPE = -0.9
CTR_PRICE_SLOPE = -0.35
CTR_FAVOURITE_BOOST = 0.6
PURCHASE_P = 0.17
SPAM_SHARE = 0.10  # of a day's reviews are spam, posted in campaigns (see _campaigns)
CAMPAIGN_MIN_POSTS = 3  # a campaign posts its text from at least this many devices on one day
CAMPAIGN_POSTS = 6  # posts of one campaign on a day, about
SHOP_LINK_SHARE = 0.05  # of a day's reviews are genuine ones that cite a help page of the shop (a link)
PII_SHARE = 0.10
# Of a day's genuine reviews (no spam, no link, no personal data), this share, and at least one pair on a
# day with enough of them, become near-duplicate pairs (see _near_duplicates): a longer review and its
# copy by another person, either reposted as it is or with the name it is signed with changed. They
# are drawn from their own random stream, so the rest of the day is the same with or without them.
NEAR_DUPLICATE_SHARE = 0.01
NEAR_DUPLICATE_KINDS = ("repost", "changed_name")
NEAR_DUPLICATE_MIN_WORDS = 16  # a changed name then leaves word 3-shingle Jaccard >= 13/15 = 0.87
SIGN_OFF_NAMES = ("Anna", "Jonas", "Marie", "Lukas", "Sofia", "Paul", "Emma", "Noah")
EXPLICIT_NULL_USER_P = 0.02
OPTIONAL_MISSING_P = 0.01
NULL_SPIKE_P = 0.40
CENTS_DEVICE_SHARE = 0.20
VOLUME_DROP = 0.3
WEEKDAY_VOLUME = (0.97, 0.96, 0.97, 0.98, 1.0, 1.06, 1.06)  # Monday .. Sunday
# Share of people's sessions by local hour of day.
DIURNAL = np.array(
    [
        0.9,
        0.5,
        0.3,
        0.2,
        0.2,
        0.4,
        1.0,
        2.0,
        3.0,
        3.5,
        3.8,
        4.2,
        4.8,
        4.5,
        4.0,
        3.8,
        3.9,
        4.3,
        5.0,
        5.8,
        6.2,
        5.5,
        3.8,
        2.0,
    ]
)

# Columns of the per-event table and their "not set" value. Device-derived columns (country,
# device, app_version, user_agent, ip, ts style, currency) are added by _add_client_fields.
EVENT_COLUMNS: dict[str, tuple[type, float]] = {
    "etype": (np.int8, ABSENT),
    "ts": (np.int64, 0),
    "device": (np.int32, ABSENT),
    "user": (np.int32, ABSENT),
    "session": (np.int32, ABSENT),
    "imp": (np.int32, ABSENT),
    "item": (np.int32, ABSENT),
    "category": (np.int8, ABSENT),
    "position": (np.int16, 0),
    "price": (np.float64, np.nan),
    "ctr": (np.float64, np.nan),
    "model": (np.int8, ABSENT),
    "text": (np.int32, ABSENT),
    "rating": (np.int8, 0),
}
# Optional fields (as in the contract) -> the event column that carries them.
OPTIONAL_FIELD_COLUMNS = {
    "session_id": "session",
    "country": "country",
    "device": "device_type",
    "app_version": "app_version",
    "user_agent": "ua",
    "ip": "ip",
}

# Review texts by their true sentiment (plain strings: JSON-escaped with json_text when rendered).
# Written to be hard for keyword rules: negations ("Not bad at all"), mixed feelings that land on
# one side ("I wanted to love it but..."), polar words in the other class ("Never disappointed").
# A PII sentence may be appended after a text, so no text is a prefix of a text of another pool
# (see review_truth), and none contains anything redaction would replace.
REVIEW_TEXTS = {
    "negative": (
        "Broke after two days. Very disappointed.",
        "Terrible quality, do not buy.",
        "Arrived damaged and support never answered.",
        'Says "waterproof" but it is not.',
        "Producto horrible, no lo recomiendo 😡",
        "Totaler Schrott, nach einer Woche kaputt.",
        "I wanted to love it but it broke in a week.",
        "Looks nice in the photos, feels cheap in the hand.",
        "Not worth the money.",
        "Would not recommend, the zipper jammed on day one.",
        "Decepcionado, la talla no corresponde y devolverlo es un lío.",
        "Qualité médiocre, un peu déçu.",
        "returned it. the smell never went away",
        "Had high hopes, but it stopped charging after a month.",
        "Nie polecam, zepsuło się po tygodniu.",
        "Good idea, poor execution: the lid does not close properly.",
    ),
    "neutral": (
        "It's okay, does the job.",
        "Average quality, nothing special.",
        "Fine for the price, sizing runs a bit small.",
        "Correct, sans plus.",
        "Not great, not terrible.",
        "Does what it says, nothing more, nothing less.",
        "Sturdy but heavy. Some will like it, some won't.",
        "Arrived on time, haven't really used it yet.",
        "Ganz in Ordnung, aber nicht überragend.",
        "Ni bueno ni malo, cumple.",
        "Colour is a little different from the picture, otherwise as expected.",
        "meh",
        "Decent, though I expected a bit more for this price.",
        "Nel complesso accettabile.",
        "Good enough for occasional use.",
    ),
    "positive": (
        "Great quality, arrived fast.",
        "Love it! Exactly as described.",
        "Excellent value for money, would buy again.",
        "Très bon produit, livraison rapide.",
        "Super Qualität, gerne wieder 👍",
        "My kids love it. Five stars!",
        "Not bad at all, works well.",
        "I was sceptical at first, but it has held up really well.",
        "No complaints, does exactly what I needed.",
        "Can't fault it.",
        "Hard to believe it costs so little, the quality is impressive.",
        "Zeer tevreden, snel geleverd.",
        "Me encanta, lo volvería a comprar.",
        "Never disappointed by this brand.",
        "Ottimo prodotto, consigliato!",
        "Bit pricey, but worth every cent.",
    ),
    "spam": (
        "BEST DEALS!!! 90% OFF designer bags at http://cheap-luxury-deals.example.biz - order now!!!",
        "Free gift cards here >>> www.free-giftcards-now.example.net <<< Make $500/day from home!",
        "1000 followers for $5!!! http://likes4you.example.biz/buy and www.insta-boost.example.info/vip",
    ),
}
# Genuine reviews that cite a page of the shop's own site (example-shop.com), by sentiment, with the
# rating they come with. The review form offers them as one-tap answers after a support contact, so
# several customers post the very same text on a day: exactly what a rule against mass-posted links
# must not take for promotion. Written the ways people write a URL (scheme + www, bare www).
SHOP_LINK_TEXTS = {
    "negative": ("Stopped charging after a week, and http://www.example-shop.com/support.asp did not help.",),
    "neutral": ("Setup is fiddly: follow https://www.example-shop.com/help/setup step by step and it works.",),
    "positive": ("Paired in a minute thanks to www.example-shop.com/help/pairing, works great.",),
}
SHOP_LINK_RATING = {"negative": 2, "neutral": 3, "positive": 5}
# Polar texts mild enough to go with a middling (3-star) rating; the others only come with a rating
# of their own sentiment (a 3-star "Terrible quality, do not buy." would not be realistic).
MILD_REVIEW_TEXTS = frozenset(
    {
        'Says "waterproof" but it is not.',
        "Looks nice in the photos, feels cheap in the hand.",
        "Not worth the money.",
        "Qualité médiocre, un peu déçu.",
        "returned it. the smell never went away",
        "Good idea, poor execution: the lid does not close properly.",
        "Not bad at all, works well.",
        "I was sceptical at first, but it has held up really well.",
        "No complaints, does exactly what I needed.",
        "Can't fault it.",
        "Never disappointed by this brand.",
        "Bit pricey, but worth every cent.",
    }
)
REVIEW_POOLS = tuple(REVIEW_TEXTS)  # the sentiments in labeling.SENTIMENTS order, then "spam"
SPAM_POOL = REVIEW_POOLS.index("spam")
assert REVIEW_POOLS == (*SENTIMENTS, "spam")
assert MILD_REVIEW_TEXTS <= set(REVIEW_TEXTS["negative"]) | set(REVIEW_TEXTS["positive"])
SENTIMENT_BY_RATING = ("", "negative", "negative", "neutral", "positive", "positive")
# A review's text has the sentiment of its rating with this probability; otherwise an adjacent one
# (1-2 and 4-5 stars: a neutral text; 3 stars: a mild negative or mild positive text, half/half).
TEXT_MATCHES_RATING_P = 0.8


def _text_choices() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The texts a review may draw, by (pool, mild only): a flat table of text codes (index into
    the pools' texts in order) and each (pool, mild) group's start and size in it."""
    table, start, size = [], [], []
    code = 0
    for pool in REVIEW_POOLS:
        codes = code + np.arange(len(REVIEW_TEXTS[pool]))
        mild = np.array([t in MILD_REVIEW_TEXTS for t in REVIEW_TEXTS[pool]], dtype=bool)
        for group in (codes, codes[mild]):
            start.append(len(table))
            size.append(len(group))
            table.extend(group.tolist())
        code += len(REVIEW_TEXTS[pool])
    return np.array(table, np.int64), np.array(start, np.int64), np.array(size, np.int64)


_TEXT_TABLE, _TEXT_GROUP_START, _TEXT_GROUP_SIZE = _text_choices()
# Text codes: the pools' texts in order, then the shop-link texts (codes from _SHOP_LINK_FIRST on).
_SHOP_LINKS = [(t, s) for s in SENTIMENTS for t in SHOP_LINK_TEXTS[s]]
_SHOP_LINK_FIRST = sum(len(REVIEW_TEXTS[p]) for p in REVIEW_POOLS)
_CODE_TEXTS = [t for p in REVIEW_POOLS for t in REVIEW_TEXTS[p]] + [t for t, _ in _SHOP_LINKS]  # by text code
_TEXT_CODE_POOL = np.concatenate(
    [
        np.repeat(np.arange(len(REVIEW_POOLS)), [len(REVIEW_TEXTS[p]) for p in REVIEW_POOLS]),
        [REVIEW_POOLS.index(s) for _, s in _SHOP_LINKS],
    ]
).astype(np.int8)
# A base text is recognised raw and redacted (a shop-link text's URL becomes <URL> in the warehouse).
_BASE_TEXTS_LONGEST_FIRST = sorted(
    {(b, p) for p in REVIEW_POOLS for t in REVIEW_TEXTS[p] for b in (t, redact_text(t))}
    | {(b, s) for t, s in _SHOP_LINKS for b in (t, redact_text(t))},
    key=lambda tp: (-len(tp[0]), tp),
)


def review_truth(text: str | None) -> str | None:
    """The true sentiment (one of ``labeling.SENTIMENTS``) of a generated review text, or None.

    ``text`` is the review text as decoded from the JSON line (as stored in the warehouse), raw or
    with its personal data redacted: generated texts are a base text from :data:`REVIEW_TEXTS` (or
    :data:`SHOP_LINK_TEXTS`), sometimes followed by a sentence with personal data, so the answer is the
    pool of the longest base text that ``text`` starts with. None for spam, for a text no base text
    starts, and for anything that is not a string.
    """
    if not isinstance(text, str):
        return None
    for base, pool in _BASE_TEXTS_LONGEST_FIRST:
        if text.startswith(base):
            return None if pool == "spam" else pool
    return None


@dataclass
class DayEvents:
    """The valid events of one generated day (one row per event) and the day's id vocabularies."""

    cols: dict[str, np.ndarray]
    frags: dict[str, pl.Series]  # session_id, impression_id, text
    n_bot_events: int
    # Per review text code (cols["text"] of the day's reviews): its pool, an index into REVIEW_POOLS.
    text_pool: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    # The injected near-duplicate pairs: (text code of the original, text code of the copy, kind).
    near_duplicates: list[tuple[int, int, str]] = field(default_factory=list)


def day_volume(day: dt.date, events_per_day: int, incidents: list[Incident]) -> int:
    """Valid events to generate for ``day`` (weekly pattern, volume_drop incident)."""
    volume = events_per_day * WEEKDAY_VOLUME[day.weekday()]
    if any(i.kind == "volume_drop" for i in incidents):
        volume *= VOLUME_DROP
    return max(1, round(volume))


def epoch_ms(day: dt.date) -> int:
    """Epoch milliseconds of the day's UTC midnight."""
    return (day - dt.date(1970, 1, 1)).days * DAY_MS


def simulate_day(
    world: World, day: dt.date, events_per_day: int, incidents: list[Incident], rng: np.random.Generator
) -> DayEvents:
    """Simulate the events that happen on ``day``; ``incidents`` are those active on that day."""
    kinds = {i.kind: i for i in incidents}
    volume = day_volume(day, events_per_day, incidents)
    n_bot_events = round(volume * BOT_SHARE)
    # As many sessions as it takes for their expected events to reach the day's human volume.
    expected = (volume - n_bot_events) / (MEAN_IMPRESSIONS * EVENTS_PER_IMPRESSION + EVENTS_PER_SESSION_BESIDES)
    k = np.minimum(rng.geometric(1 / MEAN_IMPRESSIONS, int(expected * 1.5) + 20), MAX_POSITION)
    budget = np.cumsum(k * EVENTS_PER_IMPRESSION + EVENTS_PER_SESSION_BESIDES)
    n_sessions = max(1, int(np.searchsorted(budget, volume - n_bot_events)))
    k = k[:n_sessions]
    cat_weights = w.CATEGORY_WEIGHTS
    if "category_drift" in kinds:
        cat_weights = np.where(
            np.arange(len(w.CATEGORIES)) == w.DRIFT_CATEGORY,
            w.DRIFT_SHARE,
            cat_weights * (1 - w.DRIFT_SHARE) / (1 - cat_weights[w.DRIFT_CATEGORY]),
        )
    day_ms = epoch_ms(day)

    # Sessions: who, on which of their devices, when (following the local time of day).
    person = rng.choice(world.n_persons, n_sessions, p=world.person_activity)
    nth = (rng.random(n_sessions) * world.person_device_count[person]).astype(np.int64)
    device = world.person_devices[world.person_device_start[person] + nth]
    start = day_ms + _session_start_offsets(rng, world.device_country[device])
    logged_in = world.person_logs_in[person] & (rng.random(n_sessions) < LOGIN_SESSION_P)
    logins = _rows(
        len(person), etype=_etype("login"), ts=start, device=device, session=np.arange(n_sessions), user=person
    )
    logins = _take(logins, np.flatnonzero(logged_in))

    # Impressions: positions 1..k shown a few seconds apart.
    imp_session = np.repeat(np.arange(n_sessions), k)
    offsets = _within_group_cumsum(rng.exponential(IMPRESSION_GAP_MS, len(imp_session)), k)
    position = _within_group_index(k) + 1
    imp_device = device[imp_session]
    fav = world.person_fav_category[person][imp_session]
    impressions, p_click = _impressions(rng, world, imp_device, position, fav, cat_weights)
    impressions |= {
        "ts": start[imp_session] + offsets.astype(np.int64),
        "session": imp_session,
        "imp": np.arange(len(imp_session)),
    }
    session_end = np.maximum.reduceat(impressions["ts"], np.cumsum(k) - k)

    # Clicks: a little after their impression (3% come back after more than 30 minutes).
    clicks = _take(impressions, np.flatnonzero(rng.random(len(p_click)) < p_click))
    n_clicks = len(clicks["ts"])
    late = rng.random(n_clicks) < 0.03
    delay = np.where(
        late,
        rng.uniform(30 * MINUTE_MS, 4 * HOUR_MS, n_clicks),
        np.clip(rng.lognormal(np.log(12_000), 1.2, n_clicks), 500, 30 * MINUTE_MS - 1),
    )
    clicks = _rows(
        n_clicks,
        etype=_etype("click"),
        ts=clicks["ts"] + delay.astype(np.int64),
        device=clicks["device"],
        session=clicks["session"],
        imp=clicks["imp"],
        item=clicks["item"],
        price=clicks["price"],
    )

    # Purchases: some clicks convert, cheaper items more often.
    price_eur = world.item_price_eur[clicks["item"]]
    median = w.CATEGORY_MEDIAN_PRICE_EUR[_category_of(world, clicks["item"])]
    p_buy = PURCHASE_P * np.clip((median / price_eur) ** 0.3, 0.3, 2.0)
    purchases = _take(clicks, np.flatnonzero(rng.random(n_clicks) < p_buy))
    n_purchases = len(purchases["ts"])
    purchases |= {
        "etype": np.full(n_purchases, _etype("purchase"), np.int8),
        "imp": np.full(n_purchases, ABSENT),
        "ts": purchases["ts"] + rng.lognormal(np.log(150_000), 0.8, n_purchases).astype(np.int64),
    }
    clicks["price"] = np.full(n_clicks, np.nan)

    # Reviews at the end of some sessions (of items bought some other time); some spam, some PII.
    reviewing = np.flatnonzero(rng.random(n_sessions) < REVIEW_SESSION_P)
    reviews, texts, text_pool, near_duplicates = _reviews(
        rng, world, reviewing, session_end[reviewing], device[reviewing], person[reviewing]
    )

    human = _concat([logins, impressions, clicks, purchases, reviews])
    is_logged_in_session = logged_in[human["session"]]
    anonymous_null = ~is_logged_in_session & (rng.random(len(human["ts"])) < EXPLICIT_NULL_USER_P)
    human["user"] = np.select([is_logged_in_session, anonymous_null], [person[human["session"]], NULL], ABSENT).astype(
        np.int32
    )

    bots = _bots(rng, world, n_bot_events, day_ms, n_sessions, len(imp_session), cat_weights)
    cols = _concat([human, bots])
    _add_client_fields(rng, world, cols, kinds)
    n_impression_ids = len(imp_session) + n_bot_events  # bot clicks get ids no impression has
    frags = {
        "session_id": fragments("session_id", random_hex(rng, n_sessions + len(world.bot_devices), 16, "s_")),
        "impression_id": fragments("impression_id", random_hex(rng, n_impression_ids, 20, "imp_")),
        "text": fragments("text", texts),
    }
    return DayEvents(
        cols=cols, frags=frags, n_bot_events=n_bot_events, text_pool=text_pool, near_duplicates=near_duplicates
    )


# --- Pieces -------------------------------------------------------------------------------------


def _etype(name: str) -> int:
    return EVENT_TYPES.index(name)


def _rows(n: int, **values) -> dict[str, np.ndarray]:
    """A block of ``n`` events: the given columns (scalars broadcast), the rest "not set"."""
    cols = {}
    for name, (dtype, missing) in EVENT_COLUMNS.items():
        value = values.get(name, missing)
        cols[name] = np.broadcast_to(np.asarray(value).astype(dtype), (n,)).copy()
    return cols


def _take(cols: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[idx] for name, values in cols.items()}


def _concat(blocks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([b[name] for b in blocks]) for name in blocks[0]}


def _within_group_index(sizes: np.ndarray) -> np.ndarray:
    """0, 1, .., size-1 for each group of consecutive rows."""
    starts = np.cumsum(sizes) - sizes
    return np.arange(sizes.sum()) - np.repeat(starts, sizes)


def _within_group_cumsum(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` restarting at each group of consecutive rows (groups may be empty)."""
    total = np.cumsum(values)
    before = np.concatenate([[0.0], total])[np.cumsum(sizes) - sizes]  # sum of the earlier groups
    return total - np.repeat(before, sizes)


def _session_start_offsets(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """Milliseconds after UTC midnight, following the diurnal curve in each country's local time."""
    offset_min = w.TS_SUFFIX_OFFSET_MIN[w.COUNTRY_LOCAL_SUFFIX[country]]
    out = np.empty(len(country), dtype=np.int64)
    minutes = np.arange(1440)
    for offset in np.unique(offset_min):
        sel = np.flatnonzero(offset_min == offset)
        p = DIURNAL[((minutes + offset) // 60) % 24]
        out[sel] = rng.choice(1440, len(sel), p=p / p.sum()) * MINUTE_MS + rng.integers(0, MINUTE_MS, len(sel))
    return out


def _category_of(world: World, item: np.ndarray) -> np.ndarray:
    return np.searchsorted(world.cat_start + world.cat_count, item, side="right")


def _popular_items(rng: np.random.Generator, world: World, category: np.ndarray) -> np.ndarray:
    """Items of the given categories, skewed towards the first (most popular) of each."""
    rank = (world.cat_count[category] * rng.random(len(category)) ** 2.5).astype(np.int64)
    return world.cat_start[category] + rank


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _impressions(
    rng, world: World, device: np.ndarray, position: np.ndarray, fav: np.ndarray, cat_weights: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Impression events (ts and session left to the caller) and their true click probability."""
    n = len(device)
    category = rng.choice(len(w.CATEGORIES), n, p=cat_weights)
    item = _popular_items(rng, world, category)
    price_eur = world.item_price_eur[item]
    currency = w.COUNTRY_CURRENCY[world.device_country[device]]
    logit = (
        CTR_BASE_LOGIT
        + CTR_POSITION_SLOPE * np.log(position)
        + w.CATEGORY_CTR_EFFECT[category]
        + CTR_PRICE_SLOPE * np.log(price_eur / w.CATEGORY_MEDIAN_PRICE_EUR[category])
        + world.item_quality[item]
        + CTR_FAVOURITE_BOOST * (category == fav)
    )
    model = (rng.random(n) < w.MODEL_SHARE[1]).astype(np.int8)
    predicted = _sigmoid(logit + rng.normal(0.0, 1.0, n) * w.MODEL_NOISE_SD[model])
    cols = _rows(
        n,
        etype=_etype("impression"),
        device=device,
        item=item,
        category=category,
        position=position,
        price=np.round(price_eur * w.EUR_RATE[currency], 2),
        ctr=np.round(predicted, 4),
        model=model,
    )
    return cols, _sigmoid(logit)


def _reviews(rng, world: World, session: np.ndarray, after_ts: np.ndarray, device: np.ndarray, person: np.ndarray):
    """Review events, their texts (JSON-escaped), each text's pool (index into REVIEW_POOLS) and the
    injected near-duplicate pairs (see :func:`_near_duplicates`).

    The text's sentiment is that of the rating with probability TEXT_MATCHES_RATING_P, otherwise an
    adjacent one (see :func:`_review_text_codes`); spam is spam whatever the rating (always 5).
    """
    n = len(session)
    item = _popular_items(rng, world, rng.choice(len(w.CATEGORIES), n, p=w.CATEGORY_WEIGHTS))
    # J-shaped: mostly 4-5 stars, with a bump of angry 1-star reviews (more for bad items).
    quality = world.item_quality[item]
    rating = np.clip(np.round(4.1 + 1.5 * quality + rng.normal(0.0, 1.1, n)), 1, 5).astype(np.int8)
    rating[rng.random(n) < 0.06 + 0.10 * (quality < -0.4)] = 1
    # spam campaigns, then groups of customers citing the same help page (their own random stream)
    spam_posts, campaign = _campaigns(rng.random(n), device, np.ones(n, bool), SPAM_SHARE)
    linked = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
    spam = np.zeros(n, bool)
    spam[spam_posts] = True
    help_posts, thread = _campaigns(linked.random(n), device, ~spam, SHOP_LINK_SHARE)
    rating[spam] = 5
    texts = [json_text(t) for t in _CODE_TEXTS]
    base = _review_text_codes(rating, spam, rng.random(n))
    spam_text = linked.integers(0, len(REVIEW_TEXTS["spam"]), max(len(spam_posts), 1))[campaign]
    base[spam_posts] = sum(len(REVIEW_TEXTS[p]) for p in REVIEW_POOLS[:SPAM_POOL]) + spam_text  # one text a campaign
    help_text = linked.integers(0, len(_SHOP_LINKS), max(len(help_posts), 1))[thread]
    base[help_posts] = _SHOP_LINK_FIRST + help_text
    rating[help_posts] = [SHOP_LINK_RATING[_SHOP_LINKS[t][1]] for t in help_text.tolist()]
    pii = _pii_snippets(rng, min(n, 200) + 1)
    has_link = np.zeros(n, bool)
    has_link[help_posts] = True
    # no personal data after spam or a shop link (a second link would make a genuine review link-heavy)
    with_pii = np.where(~spam & ~has_link & (rng.random(n) < PII_SHARE), rng.integers(1, len(pii), n), 0)
    text = pl.Series(texts).gather(base) + pl.Series(pii).gather(with_pii)
    ts = after_ts + rng.integers(5_000, 120_000, n)
    # after every draw of the day's own stream: the injections take theirs from a stream of their own
    injected = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
    genuine = ~spam & ~has_link & (with_pii == 0)
    pairs, composed = _near_duplicates(injected, genuine, base, person, device)
    for original, copy, _ in pairs:
        base[copy], rating[copy] = base[original], rating[original]
    if composed:
        text = text.scatter(list(composed), [json_text(t) for t in composed.values()])
    cols = _rows(
        n, etype=_etype("review"), ts=ts, device=device, session=session, item=item, rating=rating, text=np.arange(n)
    )
    return cols, text, _TEXT_CODE_POOL[base], pairs


def _near_duplicates(
    rng: np.random.Generator, eligible: np.ndarray, base: np.ndarray, person: np.ndarray, device: np.ndarray
) -> tuple[list[tuple[int, int, str]], dict[int, str]]:
    """Near-duplicate pairs among the day's ``eligible`` reviews: ([(original, copy, kind)], {review: text}).

    NEAR_DUPLICATE_SHARE of the eligible reviews (at least one pair when four or more are eligible)
    are copies. Each original's text becomes a longer review: its own text, more texts of its pool
    (at least NEAR_DUPLICATE_MIN_WORDS words) and a sign-off with a name; the copy, a review by
    another person on another device, gets that text (kind ``repost``) or the text signed with
    another name (``changed_name``), and the original's rating and sentiment (the caller copies them).
    """
    candidates = np.flatnonzero(eligible)
    if NEAR_DUPLICATE_SHARE <= 0 or len(candidates) < 4:
        return [], {}
    wanted = max(1, round(NEAR_DUPLICATE_SHARE * len(candidates)))
    free = rng.permutation(candidates).tolist()
    pairs, composed = [], {}
    while free and len(pairs) < wanted:
        original = free.pop(0)
        copy = next((c for c in free if person[c] != person[original] and device[c] != device[original]), None)
        if copy is None:
            break
        free.remove(copy)
        pool = REVIEW_POOLS[_TEXT_CODE_POOL[base[original]]]
        sentences = [_CODE_TEXTS[base[original]]]
        for extra in rng.permutation([t for t in REVIEW_TEXTS[pool] if t != sentences[0]]).tolist():
            if len(" ".join(sentences).split()) >= NEAR_DUPLICATE_MIN_WORDS:
                break
            sentences.append(extra)
        name, other = rng.choice(len(SIGN_OFF_NAMES), 2, replace=False).tolist()
        kind = NEAR_DUPLICATE_KINDS[int(rng.integers(len(NEAR_DUPLICATE_KINDS)))]
        body = " ".join(sentences)
        composed[original] = f"{body} Thanks, {SIGN_OFF_NAMES[name]}."
        composed[copy] = composed[original] if kind == "repost" else f"{body} Thanks, {SIGN_OFF_NAMES[other]}."
        pairs.append((original, copy, kind))
    return pairs, composed


def _campaigns(
    priority: np.ndarray, device: np.ndarray, eligible: np.ndarray, share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Reviews that post one text per group from distinct devices: (review indices, group of each).

    About ``share`` of the ``eligible`` reviews, one per device (``priority``, uniform, decides which),
    and at least CAMPAIGN_MIN_POSTS whenever that many devices review on the day (none otherwise), in
    groups of about CAMPAIGN_POSTS and never fewer than CAMPAIGN_MIN_POSTS posts.
    """
    candidates = np.flatnonzero(eligible)
    candidates = candidates[np.argsort(priority[candidates], kind="stable")]
    _, first = np.unique(device[candidates], return_index=True)
    candidates = candidates[np.sort(first)]  # the first review of each device, in priority order
    k = min(len(candidates), max(CAMPAIGN_MIN_POSTS, round(share * len(device))))
    if k < CAMPAIGN_MIN_POSTS:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.sort(candidates[:k]), np.arange(k) % max(1, k // CAMPAIGN_POSTS)


def _review_text_codes(rating: np.ndarray, spam: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Text codes (index into the pools' texts in order) for reviews, from one uniform draw each.

    ``u < TEXT_MATCHES_RATING_P``: a text of the rating's sentiment; otherwise a neutral text for a
    1-2 or 4-5 star rating and a mild negative or mild positive one (half/half) for 3 stars. The
    rest of ``u`` picks the text uniformly inside its group. Spam reviews get a spam text.
    """
    p = TEXT_MATCHES_RATING_P
    negative, neutral, positive = (REVIEW_POOLS.index(s) for s in SENTIMENTS)
    sentiment = np.array([REVIEW_POOLS.index(SENTIMENT_BY_RATING[r]) for r in range(1, 6)])[rating - 1]
    agree = u < p
    v = np.where(agree, u / p, (u - p) / (1 - p))
    middling = ~agree & (sentiment == neutral)
    to_negative = v < 0.5
    pool = np.where(agree, sentiment, np.where(middling, np.where(to_negative, negative, positive), neutral))
    v = np.where(middling, np.where(to_negative, 2 * v, 2 * v - 1), v)
    pool = np.where(spam, SPAM_POOL, pool)
    v = np.where(spam, u, v)
    mild = middling & ~spam
    group = 2 * pool + mild
    size = _TEXT_GROUP_SIZE[group]
    offset = np.minimum((v * size).astype(np.int64), size - 1)
    return _TEXT_TABLE[_TEXT_GROUP_START[group] + offset]


def _pii_snippets(rng: np.random.Generator, n: int) -> list[str]:
    """Sentences with personal data (JSON-escaped); the first one is empty (no PII)."""
    first = ("anna", "jonas", "marie", "lukas", "sofia", "paul", "emma", "noah")
    last = ("schmidt", "muller", "dubois", "smith", "rossi", "garcia", "kowalski", "patel")
    domains = ("gmail.com", "web.de", "yahoo.fr", "outlook.com", "example.org")
    out = [""]
    for _ in range(n - 1):
        digits = "".join(str(d) for d in rng.integers(0, 10, 16))
        email = f"{rng.choice(first)}.{rng.choice(last)}{rng.integers(1, 99)}@{rng.choice(domains)}"
        choices = (
            f" Questions? Write me at {email}",
            f" Call me on +49 151 {digits[:4]} {digits[4:8]} if you want mine.",
            f" Call +1 (415) 555-0{digits[:3]}, ask for {rng.choice(first).title()}.",
            f" Full review with photos: https://www.{rng.choice(last)}-reviews.com/p/{digits[:6]}",
            f" My card 4{digits[1:4]} {digits[4:8]} {digits[8:12]} {digits[12:16]} was charged twice!",
            f" Seller, your server at {rng.integers(11, 223)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}."
            f"{rng.integers(1, 255)} leaked my address.",
        )
        out.append(json_text(choices[rng.integers(len(choices))]))
    return out


def _bots(
    rng, world: World, n_events: int, day_ms: int, first_session: int, first_imp: int, cat_weights: np.ndarray
) -> dict[str, np.ndarray]:
    """Bot events: long bursts at an inhuman rate, mostly impressions, clicks on unknown impressions."""
    n_bots = len(world.bot_devices)
    per_bot = rng.multinomial(n_events, world.bot_weight)
    bot = np.repeat(np.arange(n_bots), per_bot)
    gap = np.where(world.bot_stealth, 2_500.0, 1_200.0)[bot]
    offsets = _within_group_cumsum(rng.exponential(gap), per_bot)
    duration = np.zeros(n_bots)
    np.maximum.at(duration, bot, offsets)
    window_start = (rng.random(n_bots) * np.maximum(1.0, DAY_MS - duration)).astype(np.int64)
    ts = day_ms + window_start[bot] + offsets.astype(np.int64)
    device = world.bot_devices[bot]
    is_click = rng.random(n_events) < 0.25
    position = (_within_group_index(per_bot) % 20 + 1).astype(np.int16)
    cols, _ = _impressions(rng, world, device, position, np.full(n_events, -1), cat_weights)
    n_impressions = int((~is_click).sum())
    cols |= {"ts": ts, "session": first_session + bot, "imp": np.empty(n_events, np.int32)}
    # Impressions get the next impression ids; clicks ids that no impression has.
    cols["imp"][~is_click] = first_imp + np.arange(n_impressions)
    cols["imp"][is_click] = first_imp + n_impressions + np.arange(n_events - n_impressions)
    click_rows = np.flatnonzero(is_click)
    cols["etype"][click_rows] = _etype("click")
    for name in ("category", "position", "price", "ctr", "model"):
        cols[name][click_rows] = EVENT_COLUMNS[name][1]
    return cols


def _add_client_fields(rng, world: World, cols: dict[str, np.ndarray], kinds: dict[str, Incident]) -> None:
    """Fields that come from the client (device): country, device, app_version, user agent, ip, ts style.

    Applies the cents_prices incident (an app version that sends integer cents) and the rare missing
    optional fields (or the null_spike incident's many).
    """
    device = cols["device"]
    versions = world.device_version.copy()
    if "cents_prices" in kinds:
        versions[world.device_upgrade_u < CENTS_DEVICE_SHARE] = w.CENTS_VERSION
    has_price = ~np.isnan(cols["price"])
    country = world.device_country[device]
    crawler = np.isin(device, world.bot_devices[~world.bot_stealth])
    cols |= {
        "country": country,
        "device_type": world.device_type[device],
        "app_version": np.where(crawler, ABSENT, versions[device]).astype(np.int8),
        "ua": w.user_agents_of(world, device, versions),
        "ip": device.copy(),
        "ts_suffix": world.device_ts_suffix[device],
        "currency": np.where(has_price, w.COUNTRY_CURRENCY[country], ABSENT).astype(np.int8),
        "cents": has_price & (versions[device] == w.CENTS_VERSION),
    }
    spike = kinds.get("null_spike")
    n = len(device)
    for name, column in OPTIONAL_FIELD_COLUMNS.items():
        u = rng.random(n)
        if spike is not None and spike.field == name:  # half left out, half explicit nulls
            missing = np.select([u < NULL_SPIKE_P / 2, u < NULL_SPIKE_P], [ABSENT, NULL], 0)
        else:
            missing = np.where(u < OPTIONAL_MISSING_P, ABSENT, 0)
        cols[column] = np.where(missing < 0, missing, cols[column]).astype(cols[column].dtype)
