"""Date normalisation pairs: a date written the way people in many locales write it -> ISO 8601.

    generate_dates(3, seed=0)
    # [('Donnerstag, 4. März 2021', '2021-03-04'), ('6/10/34', '2034-06-10'), ...]

Dates are drawn with `faker` from 1950-01-01 to 2049-12-31, so two-digit years are never
ambiguous (50-99 -> 19xx, 00-49 -> 20xx), and written with `babel`'s CLDR patterns (the
deeplearning.ai "neural machine translation with attention" toy, made multilingual). Numeric
formats whose day/month order would clash with en_US's M/d/yy (es_ES d/M/yy, it_IT dd/MM/yy)
are left out, so every source string has exactly one correct answer. Both are optional
dependencies: pip install 'rnnkit[translate]'.
"""

from __future__ import annotations

from datetime import date

LOCALES = ("en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "pt_BR", "nl_NL", "sv_SE", "pl_PL")
STYLES = ("short", "medium", "long", "full")
AMBIGUOUS = {("es_ES", "short"), ("it_IT", "short")}          # d/M/yy and dd/MM/yy read like M/d/yy
FORMATS = tuple((locale, style) for locale in LOCALES for style in STYLES if (locale, style) not in AMBIGUOUS)
FIRST, LAST = date(1950, 1, 1), date(2049, 12, 31)


def generate_dates(count: int, *, seed: int = 0) -> list[tuple[str, str]]:
    """`count` distinct (human-written date, ISO date) pairs, a pure function of `seed`."""
    try:
        from babel.dates import format_date
        from faker import Faker
    except ImportError as e:
        raise ImportError("the date task needs babel and faker: pip install 'rnnkit[translate]'") from e
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    fake = Faker()
    fake.seed_instance(seed)
    pairs: dict[str, str] = {}
    while len(pairs) < count:
        day = fake.date_between(start_date=FIRST, end_date=LAST)
        locale, style = FORMATS[fake.random_int(0, len(FORMATS) - 1)]
        pairs.setdefault(format_date(day, style, locale=locale), day.isoformat())
    return list(pairs.items())
