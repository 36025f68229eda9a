"""sacreBLEU's side of Forja's metric tests: reads {"hyps": [...], "refs": [[...], ...]} from the
JSON file in argv[1] and prints corpus BLEU (score, signature, precisions, brevity penalty), each
sentence's BLEU, corpus chrF and each sentence's chrF, as JSON."""
import json
import sys

from sacrebleu.metrics import BLEU, CHRF

data = json.load(open(sys.argv[1], encoding="utf-8"))
hyps, refs = data["hyps"], data["refs"]
bleu = BLEU()
corpus = bleu.corpus_score(hyps, refs)
sent_bleu = BLEU(effective_order=True)
chrf = CHRF()
print(json.dumps({
    "bleu": corpus.score,
    "signature": str(bleu.get_signature()),
    "precisions": corpus.precisions,
    "bp": corpus.bp,
    "sentence_bleu": [sent_bleu.sentence_score(h, [r[i] for r in refs]).score for i, h in enumerate(hyps)],
    "chrf": chrf.corpus_score(hyps, refs).score,
    "sentence_chrf": [chrf.sentence_score(h, [r[i] for r in refs]).score for i, h in enumerate(hyps)],
}))
