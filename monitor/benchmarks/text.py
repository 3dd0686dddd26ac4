"""Benchmark: the text matcher against a plain rapidfuzz loop, on generated titles.

    python -m monitor.benchmarks.text [--titles 100000] [--trademarks 50] [--seed 7]

Generates titles (a fixed share refer to a protected right, plainly or in
disguise; the rest are distractors: other origins, cultivars, breeds, generic
and unrelated goods), and a watchlist of the three GIs plus invented trademark
entries. It then times, in the same run and on one core:

- the matcher as the match stage runs it: `Matcher.referred` for each title
  (normalization, one pass of the trigger automaton, then the work on the
  hits), once the matcher is built and its static data frozen;
- the plain baseline: `rapidfuzz.fuzz.partial_ratio(form, title)` for every
  protected form (every name, other name and pinyin form) of every right, a
  title matching a right when any of its forms scores ≥ 90; timed twice, with
  rapidfuzz's `default_process` given as the processor of every call, and with
  each title processed once before its loop (the same answers, less work).

and prints titles/second for each, the ratios, and recall and false matches of
each on the generated truth, so that speed is never bought with recall.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, utils

from monitor.text.matcher import Matcher, static_data_frozen
from monitor.text.variants import name_readings
from monitor.watchlist import Right, load_rights

_SYLLABLES = list("禾杞源塞上红贺峰泉川原滩田禧丰悦嘉和瑞麦谷安宏鑫润泰")
_TRADE_PRODUCTS = ["枸杞", "羊肉", "干红", "红枣", "小米", "蜂蜜", "牛肉", "大米"]
_NOISE = ["特级", "头茬", "包邮", "新货", "礼盒", "家庭装", "现杀", "冷链", "正品", "官方",
          "500g", "1kg", "750ml", "2斤", "*2", "送礼", "批发", "清真", "大颗粒", "免洗"]
_DISTRACTORS = [
    "青海枸杞 柴达木 头茬 500g", "宁杞7号 鲜枸杞 当季鲜果", "滩羊 带骨羊排 约4斤",
    "内蒙古羊肉 锡林郭勒羔羊", "烟台干红 蓬莱产区 赤霞珠", "新疆精河枸杞 特级",
    "枸杞子 特级 免洗 红枸杞", "赤霞珠干红葡萄酒 14度 整箱", "羔羊肉卷 火锅涮肉 冷冻",
    "蓝牙耳机 主动降噪", "手机壳 防摔 透明", "保温杯 316不锈钢 大容量", "儿童书包 护脊",
    "宁夏大米 珍珠米 新米", "灵武长枣 脆甜", "盐池甘草 野生甘草片", "贺兰石 砚台",
    "新鲜羊排 现杀 带骨", "法国波尔多进口红酒 AOC", "甘肃靖远枸杞 头茬特优级",
]
_DISGUISE_SWAPS = {  # homophone / similar-shape stand-ins used by sellers
    "宁": "柠凝宇", "夏": "复", "枸": "苟拘", "杞": "起记",
    "盐": "延监言", "池": "驰地迟", "滩": "谈摊", "羊": "洋",
    "贺": "鹤货赫", "兰": "蓝岚", "山": "出", "东": "冬", "麓": "路鹿", "酒": "洒",
}
_TRADITIONAL = str.maketrans("宁枸盐滩贺兰东葡萄杞", "寧枸鹽灘賀蘭東葡萄杞")


@dataclass(frozen=True)
class Case:
    title: str
    right_id: str | None  # the right the title refers to, None for a distractor


def invented_trademarks(count: int, rng: random.Random) -> list[Right]:
    """Trademark entries with invented names (and their pinyin as the other name)."""
    out: list[Right] = []
    seen: set[str] = set()
    while len(out) < count:
        name = "".join(rng.sample(_SYLLABLES, rng.choice((3, 4))))
        if any(name in other or other in name for other in seen):
            continue  # a brand inside another brand would refer to both
        seen.add(name)
        pinyin = " ".join(name_readings(name))
        out.append(Right(id=f"tm-{len(out):03d}", kind="trademark", name=name,
                         other_names=(pinyin,), product_terms=tuple(_TRADE_PRODUCTS)))
    return out


def _disguise(name: str, rng: random.Random) -> str:
    style = rng.randrange(5)
    if style == 0:
        return name.translate(_TRADITIONAL)
    if style == 1:
        sep = rng.choice(["-", "·", ".", "🌟", "\u200b", "✨"])
        return sep.join(name)
    if style in (2, 3) and len(name) >= 4:  # rule 1.2: no changed character under four
        spots = [i for i, ch in enumerate(name) if ch in _DISGUISE_SWAPS]
        if spots:
            i = rng.choice(spots)
            return name[:i] + rng.choice(_DISGUISE_SWAPS[name[i]]) + name[i + 1 :]
    return name


def generate(rights: list[Right], count: int, share_referring: float, seed: int) -> list[Case]:
    """Generated titles with the right each refers to (or None)."""
    rng = random.Random(seed)
    cases: list[Case] = []
    for _ in range(count):
        noise = rng.sample(_NOISE, 3)
        if rng.random() < share_referring:
            right = rng.choice(rights)
            kind = rng.randrange(4)
            if kind == 0:
                form = right.name
            elif kind == 1:
                form = _disguise(right.name, rng)
            elif kind == 2 and right.other_names:
                form = rng.choice(right.other_names)
            else:
                form = right.name + rng.choice(["同款", "风味", ""]) if right.place else right.name
            title = f"{noise[0]} {form} {noise[1]} {noise[2]}"
            cases.append(Case(title, right.id))
        else:
            cases.append(Case(f"{rng.choice(_DISTRACTORS)} {noise[0]} {noise[1]}", None))
    return cases


def protected_forms(rights: list[Right]) -> list[tuple[str, str]]:
    """(right id, form) for every name, other name and pinyin of every right."""
    forms: list[tuple[str, str]] = []
    for right in rights:
        names = {right.name, *right.other_names, " ".join(name_readings(right.name))}
        forms.extend((right.id, utils.default_process(n)) for n in names if n)
    return forms


def baseline(titles: list[str], forms: list[tuple[str, str]]) -> list[set[str]]:
    """The plain loop: partial_ratio of every protected form against every title."""
    out = []
    for title in titles:
        found = set()
        for rid, form in forms:
            if fuzz.partial_ratio(form, title, processor=utils.default_process) >= 90:
                found.add(rid)
        out.append(found)
    return out


def baseline_processed_once(titles: list[str], forms: list[tuple[str, str]]) -> list[set[str]]:
    """The same loop with each title processed once, not once per form."""
    out = []
    for title in titles:
        processed = utils.default_process(title)
        out.append({rid for rid, form in forms if fuzz.partial_ratio(form, processed) >= 90})
    return out


def _score(cases: list[Case], found: list[set[str]]) -> tuple[float, int]:
    positives = [(c, f) for c, f in zip(cases, found, strict=True) if c.right_id]
    recall = sum(1 for c, f in positives if c.right_id in f) / max(1, len(positives))
    false = sum(len(f - {c.right_id}) for c, f in zip(cases, found, strict=True))
    return recall, false


class _Clock:
    """Seconds spent by one contender, and what it found, summed over the rounds."""

    def __init__(self, run: Callable[[list[str]], list[set[str]]]):
        self.run = run
        self.seconds = 0.0
        self.found: list[set[str]] = []

    def time(self, titles: list[str]) -> None:
        gc.collect()
        start = time.perf_counter()
        found = self.run(titles)
        self.seconds += time.perf_counter() - start
        self.found += found

    @property
    def rate(self) -> float:
        return len(self.found) / self.seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.benchmarks.text",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--titles", type=int, default=100_000)
    parser.add_argument("--trademarks", type=int, default=50)
    parser.add_argument("--share", type=float, default=0.3, help="share of referring titles")
    parser.add_argument("--baseline-sample", type=int, default=10_000,
                        help="titles timed through the plain loop (it is slow)")
    parser.add_argument("--rounds", type=int, default=10,
                        help="interleaved timing rounds (each contender a slice per round)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--watchlists", default="watchlists")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    gis = [r for r in load_rights(Path(args.watchlists))]
    rights = gis + invented_trademarks(args.trademarks, rng)
    cases = generate(rights, args.titles, args.share, args.seed)
    titles = [c.title for c in cases]
    forms = protected_forms(rights)
    print(f"{len(titles)} generated titles ({args.share:.0%} referring), {len(rights)} rights "
          f"({len(gis)} GIs + {args.trademarks} trademarks), {len(forms)} protected forms")

    build = time.perf_counter()
    matcher = Matcher(rights)
    build = time.perf_counter() - build
    sample = cases[: args.baseline_sample]
    contenders = {
        "matcher": _Clock(lambda ts: [set(matcher.referred(t)) for t in ts]),
        "baseline": _Clock(lambda ts: baseline(ts, forms)),
        "once": _Clock(lambda ts: baseline_processed_once(ts, forms)),
    }
    # In rounds, each contender a slice in turn, so that a slow spell of the
    # machine falls on all of them alike and the ratios stay put.
    with static_data_frozen():  # as the match stage does
        for i in range(args.rounds):
            for name, items in (("matcher", cases), ("baseline", sample), ("once", sample)):
                part = items[i * len(items) // args.rounds : (i + 1) * len(items) // args.rounds]
                contenders[name].time([c.title for c in part])
    matched, base, once = (contenders[n] for n in ("matcher", "baseline", "once"))
    assert once.found == base.found, "the two baselines disagree"
    recall, false = _score(cases, matched.found)
    print(f"matcher:                        {matched.rate:>8,.0f} titles/s  (automaton built in "
          f"{build * 1000:.0f} ms)  recall {recall:.3f}  matches to another right {false}")
    base_recall, base_false = _score(sample, base.found)
    m_recall, m_false = _score(sample, matched.found[: len(sample)])
    print(f"baseline, processor per call:   {base.rate:>8,.0f} titles/s  ({len(sample)} titles)"
          f"  recall {base_recall:.3f}  matches to another right {base_false}")
    print(f"baseline, title processed once: {once.rate:>8,.0f} titles/s  (same answers)")
    print(f"speed-up: {matched.rate / base.rate:.1f}x the plain partial_ratio loop, "
          f"{matched.rate / once.rate:.1f}x the loop with each title processed once "
          f"(timed in {args.rounds} interleaved rounds)")
    print(f"on the same {len(sample)} titles the matcher's recall is {m_recall:.3f} "
          f"(baseline {base_recall:.3f}), other-right matches {m_false} "
          f"(baseline {base_false})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
