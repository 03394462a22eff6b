"""What one scenario run records: latency per route and per flow, counts, errors.

A `Recorder` lives in each client process; the parent merges them (histograms add up), so a
run with several client processes reports as one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.histogram import Histogram


@dataclass
class Recorder:
    routes: dict[str, Histogram] = field(default_factory=dict)
    route_errors: Counter[str] = field(default_factory=Counter)
    flows: Histogram = field(default_factory=Histogram)
    flow_errors: Counter[str] = field(default_factory=Counter)
    client_cpu_s: float = 0.0
    # answers with a 5xx status (whether or not the flow expected them: none should)
    http_5xx: int = 0
    # open loop only: arrivals due inside the window, and those still waiting for a free
    # virtual user when it ended
    offered: int = 0
    backlog: int = 0
    active: bool = True  # False during warm-up: requests run, nothing is kept

    def route(self, name: str, seconds: float) -> None:
        if self.active:
            hist = self.routes.get(name)
            if hist is None:
                hist = self.routes[name] = Histogram()
            hist.record(seconds)

    def route_error(self, name: str, what: str) -> None:
        if self.active:
            self.route_errors[f"{name} → {what}"] += 1

    def server_error(self) -> None:
        if self.active:
            self.http_5xx += 1

    def flow(self, seconds: float) -> None:
        if self.active:
            self.flows.record(seconds)

    def flow_error(self, what: str) -> None:
        if self.active:
            self.flow_errors[what] += 1

    def merge(self, other: Recorder) -> None:
        for name, hist in other.routes.items():
            self.routes.setdefault(name, Histogram()).merge(hist)
        self.route_errors.update(other.route_errors)
        self.flows.merge(other.flows)
        self.flow_errors.update(other.flow_errors)
        self.client_cpu_s += other.client_cpu_s
        self.http_5xx += other.http_5xx
        self.offered += other.offered
        self.backlog += other.backlog

    def to_json(self) -> dict[str, Any]:
        return {
            "routes": {k: v.to_json() for k, v in self.routes.items()},
            "route_errors": dict(self.route_errors),
            "flows": self.flows.to_json(),
            "flow_errors": dict(self.flow_errors),
            "client_cpu_s": self.client_cpu_s,
            "http_5xx": self.http_5xx,
            "offered": self.offered,
            "backlog": self.backlog,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Recorder:
        r = cls()
        r.routes = {k: Histogram.from_json(v) for k, v in data["routes"].items()}
        r.route_errors = Counter(data["route_errors"])
        r.flows = Histogram.from_json(data["flows"])
        r.flow_errors = Counter(data["flow_errors"])
        r.client_cpu_s = float(data["client_cpu_s"])
        r.http_5xx = int(data.get("http_5xx", 0))
        r.offered = int(data.get("offered", 0))
        r.backlog = int(data.get("backlog", 0))
        return r
