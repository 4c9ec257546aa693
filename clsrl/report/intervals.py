"""What the tables and figures show of a number measured over seeds, said plainly: with 2 seeds both
values, with 3 or more the mean and its 95% Student's t interval. A seed varies only the few-shot
draw (the trainer seed is fixed: training.trainer_seed, as in the protocol).

>>> seed_cell([70.3125, 70.3125]), seed_cell([10.0, 12.0, 14.0]), seed_cell([61.5])
('70.31, 70.31', '12.00 [7.03, 16.97]', '61.50')
>>> interval_kind(2), interval_kind(5)
('both seeds shown', 'mean [95% t-interval] over 5 seeds')
"""

from __future__ import annotations

import math
import statistics

SEED_NOTE = (
    "A seed varies only the few-shot draw (which training images); the trainer seed is fixed "
    "(training.trainer_seed), as in the protocol."
)


def t_quantile(p: float, df: int) -> float:
    """Student's t quantile (p > 0.5), by bisection on its CDF (Simpson's rule on the density).

    >>> round(t_quantile(0.975, 4), 3), round(t_quantile(0.975, 1000), 2)
    (2.776, 1.96)
    """

    def density(x: float) -> float:
        log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
        return math.exp(log_c - (df + 1) / 2 * math.log1p(x * x / df))

    def cdf(x: float, pieces: int = 400) -> float:
        h = x / pieces
        total = density(0) + density(x)
        total += sum((4 if i % 2 else 2) * density(i * h) for i in range(1, pieces))
        return 0.5 + total * h / 3

    low, high = 0.0, 50.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if cdf(middle) < p else (low, middle)
    return (low + high) / 2


def finite(values) -> list[float]:
    return [float(v) for v in values if v is not None and not math.isnan(v)]


def t95_half_width(values) -> float | None:
    """Half-width of the 95% t-interval of the mean; None for fewer than 3 values (2 values
    give a t quantile of 12.7: no interval worth showing)."""
    values = finite(values)
    if len(values) < 3:
        return None
    return t_quantile(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))


def seed_cell(values, decimals: int = 2) -> str:
    """One table cell: the value (1 seed), both values (2), or mean [low, high] (3 or more)."""
    values = finite(values)
    if not values:
        return ""
    if len(values) <= 2:
        return ", ".join(f"{v:.{decimals}f}" for v in values)
    mean, half = statistics.mean(values), t95_half_width(values)
    return f"{mean:.{decimals}f} [{mean - half:.{decimals}f}, {mean + half:.{decimals}f}]"


def interval_kind(seeds: int) -> str:
    """What a cell over `seeds` seeds shows (`seed_cell`)."""
    if seeds <= 1:
        return "one seed"
    if seeds == 2:
        return "both seeds shown"
    return f"mean [95% t-interval] over {seeds} seeds"
