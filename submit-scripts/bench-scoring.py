"""The Python peers of forja bench scoring: sacreBLEU 2.6.0 (corpus BLEU and chrF) and torchmetrics
1.9.0 (ROUGE-1, -2 and -L F1, the mean of the three, as Forja's figure) on the pairs Forja wrote.
Prints each peer's score and seconds beside Forja's, and how many times faster Forja is.

usage: bench-scoring.py PAIRS.jsonl FORJA.json [ROUNDS]"""
import json
import statistics
import sys
import time

from sacrebleu.metrics import BLEU, CHRF
from torchmetrics.functional.text.rouge import rouge_score

pairs = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
forja = json.load(open(sys.argv[2], encoding="utf-8"))
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 1
hyps = [p["hyp"] for p in pairs]
refs = [p["ref"] for p in pairs]


def timed(fn):
    values, seconds = None, []
    for _ in range(rounds):
        t0 = time.perf_counter()
        values = fn()
        seconds.append(time.perf_counter() - t0)
    return values, statistics.median(seconds)


def rouge():
    s = rouge_score(hyps, refs, rouge_keys=("rouge1", "rouge2", "rougeL"))
    return float((s["rouge1_fmeasure"] + s["rouge2_fmeasure"] + s["rougeL_fmeasure"]) / 3)


peers = {
    "bleu": ("sacreBLEU 2.6.0", lambda: BLEU().corpus_score(hyps, [refs]).score),
    "chrf": ("sacreBLEU 2.6.0", lambda: CHRF().corpus_score(hyps, [refs]).score),
    "rouge": ("torchmetrics 1.9.0", rouge),
}
print(f"{len(pairs):,} pairs; peer times: median of {rounds} round(s)")
print(f"{'metric':<7}{'forja':>12}{'peer':>12}{'forja s':>10}{'peer s':>10}{'speed-up':>10}  peer")
for name, (peer, fn) in peers.items():
    value, seconds = timed(fn)
    mine, mine_s = forja[name], forja[name + "_seconds"]
    print(f"{name:<7}{mine:>12.4f}{value:>12.4f}{mine_s:>10.2f}{seconds:>10.2f}"
          f"{seconds / mine_s:>9.1f}x  {peer}")
