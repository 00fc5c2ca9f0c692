"""Counts written for people: 1,280 or 11.9 million, never 11918592."""
from __future__ import annotations


def count_for_people(n: int) -> str:
    """Thousands separated below a million ("12,810"), then millions with one decimal ("11.9 million")."""
    if abs(n) < 1_000_000:
        return f"{n:,}"
    return f"{n / 1_000_000:,.1f} million"
