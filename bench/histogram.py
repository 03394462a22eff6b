"""A small HDR-style latency histogram: bounded memory, about 1% precision, mergeable.

Values are recorded in microseconds. Each power of two is split into 128 linear sub-buckets,
so a recorded value is off by at most 1/128 of itself (under 0.8%), whatever the range, and
the memory used is a few hundred buckets however many requests a run makes. Histograms from
several client processes merge by adding counts, which sorted samples would make costly.
"""

from __future__ import annotations

from typing import Any

EXACT_BELOW = 256  # values under 256 µs get a bucket each


def _value_of(key: int) -> float:
    """The midpoint of a bucket, in microseconds."""
    if key < EXACT_BELOW:
        return float(key)
    shift, top = key >> 8, key & 0xFF
    return (top << shift) + ((1 << shift) - 1) / 2


class Histogram:
    __slots__ = ("counts", "max_us", "min_us", "n", "total_us")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.n = 0
        self.total_us = 0
        self.max_us = 0
        self.min_us = 0

    def record(self, seconds: float) -> None:
        # Twice a flow in the driver's process, so no helper calls and no max(), which took
        # a third of this method's time. The bucket key: exact below 256 µs; above, the shift
        # above the low 8 bits and the value's top 8 bits (128–255) in them, so keys sort in
        # value order (128 buckets per power of two).
        us = round(seconds * 1_000_000)
        if us < EXACT_BELOW:
            if us < 0:
                us = 0
            key = us
        else:
            shift = us.bit_length() - 8
            key = (shift << 8) | (us >> shift)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        if self.n == 0 or us < self.min_us:
            self.min_us = us
        self.n += 1
        self.total_us += us
        if us > self.max_us:
            self.max_us = us

    def merge(self, other: Histogram) -> None:
        for key, count in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + count
        if other.n and (self.n == 0 or other.min_us < self.min_us):
            self.min_us = other.min_us
        self.n += other.n
        self.total_us += other.total_us
        self.max_us = max(self.max_us, other.max_us)

    def percentile(self, p: float) -> float:
        """The value at percentile `p` (0–100), in milliseconds; 0 when empty."""
        if self.n == 0:
            return 0.0
        rank = max(1, round(p / 100 * self.n))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return min(_value_of(key), float(self.max_us)) / 1000
        return self.max_us / 1000

    def summary(self) -> dict[str, float]:
        """p50/p95/p99/max/mean in milliseconds, rounded for reading."""
        mean = self.total_us / self.n / 1000 if self.n else 0.0
        return {
            "p50": round(self.percentile(50), 3),
            "p95": round(self.percentile(95), 3),
            "p99": round(self.percentile(99), 3),
            "max": round(self.max_us / 1000, 3),
            "mean": round(mean, 3),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "total_us": self.total_us,
            "max_us": self.max_us,
            "min_us": self.min_us,
            "counts": [[k, c] for k, c in sorted(self.counts.items())],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Histogram:
        h = cls()
        h.n = int(data["n"])
        h.total_us = int(data["total_us"])
        h.max_us = int(data["max_us"])
        h.min_us = int(data["min_us"])
        h.counts = {int(k): int(c) for k, c in data["counts"]}
        return h
