"""Synthetic card transactions with a known fraud pattern, for the demo and the tests.

Fraud is likelier for card-not-present transactions, high total values, foreign countries,
night hours and bursts of recent transactions, so a model trained on it learns something real.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MERCHANT_CATEGORIES = [
    "grocery",
    "fuel",
    "restaurants",
    "travel",
    "electronics",
    "fashion",
    "online_services",
    "pharmacy",
    "entertainment",
    "utilities",
]
COUNTRIES = ["FR", "DE", "ES", "IT", "NL", "BE", "GB", "US", "BR", "NG"]
CHANNELS = ["chip", "contactless", "online", "magstripe"]
FEATURES = [
    "total_value",
    "merchant_category",
    "country",
    "channel",
    "card_present",
    "customer_age",
    "account_age_days",
    "hour",
    "distance_from_home_km",
    "transactions_last_24h",
]
TARGET = "is_fraud"


def make_transactions(
    rows: int, *, seed: int, start: str = "2026-09-01", days: int = 30, fraud_shift: float = 0.0
) -> pd.DataFrame:
    """`rows` transactions over `days` days from `start`; `fraud_shift` raises the fraud rate
    and the share of online spending (a later month looks a little different)."""
    rng = np.random.default_rng(seed)
    timestamps = pd.Timestamp(start) + pd.to_timedelta(rng.uniform(0, days * 86400, rows), unit="s")
    channel_p = np.array([0.45, 0.30, 0.20 + fraud_shift, 0.05 - fraud_shift / 2])
    channel = rng.choice(CHANNELS, size=rows, p=channel_p / channel_p.sum())
    category = rng.choice(
        MERCHANT_CATEGORIES,
        size=rows,
        p=[0.22, 0.12, 0.14, 0.06, 0.08, 0.1, 0.12, 0.06, 0.06, 0.04],
    )
    country = rng.choice(
        COUNTRIES, size=rows, p=[0.55, 0.1, 0.08, 0.07, 0.05, 0.04, 0.04, 0.03, 0.02, 0.02]
    )
    card_present = channel != "online"
    total_value = np.round(rng.lognormal(mean=3.4, sigma=1.0, size=rows), 2)
    customer_age = rng.integers(18, 90, size=rows)
    account_age_days = rng.integers(1, 7000, size=rows)
    hour = timestamps.hour.to_numpy()
    distance = np.round(rng.exponential(12, size=rows), 1)
    recent = rng.poisson(2.0, size=rows)
    foreign = ~np.isin(country, COUNTRIES[:6])
    night = (hour < 5) | (hour > 22)
    logit = (
        -6.0
        + 2.2 * ~card_present
        + 1.8 * (total_value > 120)
        + 1.6 * foreign
        + 1.4 * night
        + 0.35 * recent
        + 1.8 * (account_age_days < 90)
        + 1.0 * (distance > 50)
        + 1.2 * (category == "electronics")
        + 3 * fraud_shift
    )
    is_fraud = rng.random(rows) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "transaction_id": np.arange(1, rows + 1) + seed * 10_000_000,
            "timestamp": timestamps.floor("s"),
            "total_value": total_value,
            "merchant_category": category,
            "country": country,
            "channel": channel,
            "card_present": card_present,
            "customer_age": customer_age,
            "account_age_days": account_age_days,
            "hour": hour,
            "distance_from_home_km": distance,
            "transactions_last_24h": recent,
            TARGET: is_fraud.astype(int),
        }
    )
    # Some customers never gave an age: a realistic gap for the profile to show.
    frame.loc[rng.random(rows) < 0.03, "customer_age"] = np.nan
    return frame.sort_values("timestamp", ignore_index=True)
