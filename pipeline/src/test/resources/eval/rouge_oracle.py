"""torchmetrics' and NLTK's side of Forja's ROUGE tests: reads {"hyps": [...], "refs": [[...], ...],
"words": [...]} from the JSON file in argv[1]; prints, for each hypothesis, torchmetrics' ROUGE-1,
ROUGE-2 and ROUGE-L (precision, recall, F1) against its references with and without the Porter
stemmer, and NLTK's Porter stem of each word, as JSON.

Each ROUGE key is asked for on its own: with several references, torchmetrics' accumulate="best"
picks the reference by the first key's F1 and reports every key from it, while rouge-score picks the
best reference per key. ROUGE-Lsum is left out: torchmetrics splits sentences with NLTK's punkt
model (data that cannot be downloaded here), where rouge-score splits at newlines."""
import json
import sys

from nltk.stem.porter import PorterStemmer
from torchmetrics.functional.text.rouge import rouge_score

data = json.load(open(sys.argv[1], encoding="utf-8"))
hyps, refs = data["hyps"], data["refs"]
out = {"stemmed": [], "plain": []}
for stem, name in ((True, "stemmed"), (False, "plain")):
    for i, h in enumerate(hyps):
        row = {}
        for key in ("rouge1", "rouge2", "rougeL"):
            s = rouge_score(h, [[r[i] for r in refs]], use_stemmer=stem, rouge_keys=key, accumulate="best")
            for part in ("precision", "recall", "fmeasure"):
                row[key + "_" + part] = float(s[key + "_" + part])
        out[name].append(row)
stemmer = PorterStemmer()
out["stems"] = [stemmer.stem(w) for w in data["words"]]
print(json.dumps(out))
