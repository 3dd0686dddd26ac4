"""Benchmark and accuracy report for image matching.

    python -m monitor.benchmarks.images [--seeds 5] [--listings 100000] [--references 1000]

1. Match rates per transform: each stand-in mark, put through each transform a
   seller might apply (with several random seeds), must be found as that
   right's mark and no other; each authorized photo, put through each copy
   transform, must be found as a copy. Unrelated photos (goji on a plate, other
   wine bottles, random product photos) give the false-match rate.
2. Nearest-hash search: `listings` random 64-bit hashes against `references`,
   vectorized (NumPy XOR + popcount) against a plain Python loop on a sample of
   the same queries, with the ratio.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import numpy as np

from monitor.image.hashing import compute
from monitor.image.index import HashIndex
from monitor.image.marks import MARKED_RIGHTS, draw_mark
from monitor.image.matching import ImageMatcher, Reference
from monitor.image.synthetic import (
    COPY_TRANSFORMS,
    TRANSFORMS,
    goji_on_a_plate,
    mark_references,
    other_wine_bottle,
    product_photo,
)

RIGHTS = MARKED_RIGHTS


def accuracy(seeds: int) -> None:
    marks = mark_references()
    photos = [Reference("ningxia-goji", f"auth-{i}", compute(product_photo(500 + i)),
                        owner="m|authorized") for i in range(seeds)]
    matcher = ImageMatcher(marks, photos)

    def found(image) -> set[tuple[str, str]]:
        return {(h.right_id, h.kind) for h in matcher.match([("u", compute(image))], "m|other")}

    print("special mark, per transform (found as its own right / wrong right):")
    for name, transform in TRANSFORMS.items():
        hit = wrong = total = 0
        for seed in range(seeds):
            for right in RIGHTS:
                image = transform(draw_mark(right), seed)
                got = {r for r, k in found(image) if k == "special_mark"}
                total += 1
                hit += right in got
                wrong += bool(got - {right})
        print(f"  {name:<22} {hit}/{total} = {hit / total:.2f}   wrong right {wrong}")
    print("copied authorized photo, per transform:")
    for name, transform in COPY_TRANSFORMS.items():
        hit = sum(("ningxia-goji", "copied_photo") in found(transform(product_photo(500 + i), i))
                  for i in range(seeds))
        print(f"  {name:<22} {hit}/{seeds} = {hit / seeds:.2f}")
    unrelated = ([goji_on_a_plate(s) for s in range(seeds * 4)]
                 + [other_wine_bottle(s) for s in range(seeds * 4)]
                 + [product_photo(2000 + s) for s in range(seeds * 8)])
    false = sum(bool(found(image)) for image in unrelated)
    print(f"false matches on unrelated photos: {false}/{len(unrelated)} "
          f"= {false / len(unrelated):.3f}")


def search_speed(listings: int, references: int, sample: int) -> None:
    rng = np.random.default_rng(7)
    refs = rng.integers(0, 2**63, size=references, dtype=np.uint64) * np.uint64(2)
    queries = rng.integers(0, 2**63, size=listings, dtype=np.uint64)
    index = HashIndex(refs.tolist(), list(range(references)))
    start = time.perf_counter()
    best, dist = index.nearest_many(queries.tolist())
    vec = time.perf_counter() - start
    ref_list = [int(r) for r in refs]
    subset = [int(q) for q in queries[:sample]]
    start = time.perf_counter()
    plain = [min(range(references), key=lambda j, q=q: (q ^ ref_list[j]).bit_count())
             for q in subset]
    loop = time.perf_counter() - start
    agree = all(
        (subset[i] ^ ref_list[plain[i]]).bit_count() == int(dist[i]) for i in range(sample)
    )
    vec_rate, loop_rate = listings / vec, sample / loop
    print(f"nearest-hash search, {listings:,} listing hashes × {references:,} references:")
    print(f"  vectorized (numpy bitwise_count): {vec:.2f} s = {vec_rate:,.0f} queries/s")
    print(f"  plain Python loop ({sample:,} queries): {loop:.2f} s = {loop_rate:,.0f} queries/s")
    print(f"  speed-up {vec_rate / loop_rate:.0f}x; same nearest distances: {agree}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.benchmarks.images",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--references", type=int, default=1_000)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args(argv)
    random.seed(7)
    if not args.skip_accuracy:
        accuracy(args.seeds)
    search_speed(args.listings, args.references, args.sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
