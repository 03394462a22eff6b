"""Instructions per request and route from the callgrind dumps of `bench.asgi_routes`.

python -m bench.asgi_routes_sum /tmp/cg.<pid>
"""

from __future__ import annotations

import glob
import re
import sys
from collections import defaultdict


def main() -> None:
    prefix = sys.argv[1]
    counts: dict[str, list[int]] = defaultdict(list)
    for path in glob.glob(prefix + ".*"):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(1 << 16)
        trigger = re.search(r"^desc: Trigger: .*dump (\S+)", text, re.M)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if trigger is None or total is None or total.group(1) == "0":
            continue
        name = trigger.group(1).replace("_", " ")
        counts[name].append(int(total.group(1)))
    for name, values in sorted(counts.items()):
        values.sort()
        print(f"{name:24s} n={len(values):3d} median {values[len(values) // 2] / 1e6:7.3f} M instr")


if __name__ == "__main__":
    main()
