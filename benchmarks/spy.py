"""Where a py-spy profile's time goes: self time by module, and the heaviest frames.

`py-spy record -p PID -f raw -r 200 -d 8 -o prof.txt` while wrk loads the gateway,
then `python benchmarks/spy.py prof.txt`. Samples without a Python frame
(Granian's Rust threads, idle) are left out, so shares are of the Python time.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

_FILE = re.compile(r"\(([^:)]+):\d+\)$")


def group(frame: str) -> str:
    """The package for a library frame, the module for one of ours."""
    found = _FILE.search(frame)
    path = found.group(1) if found else "?"
    if "gpt2giga/" in path:
        return "gpt2giga/" + path.split("gpt2giga/", 1)[1]
    for name in ("httpx", "asyncio", "selectors", "granian", "msgspec"):
        if f"{name}/" in path or path.endswith(f"{name}.py"):
            return "asyncio" if name == "selectors" else name
    return path.rsplit("/", 1)[-1]


def main(path: str, rows: int = 25) -> None:
    by_module: Counter[str] = Counter()
    by_frame: Counter[str] = Counter()
    total = 0
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            leaf = stack.rsplit(";", 1)[-1]
            n = int(count)
            total += n
            by_module[group(leaf)] += n
            by_frame[leaf] += n
    print(f"{total} Python samples")
    for title, counter in (("self time by module", by_module), ("heaviest frames", by_frame)):
        print(f"\n{title}:")
        for name, n in counter.most_common(rows):
            print(f"{100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main(sys.argv[1])
