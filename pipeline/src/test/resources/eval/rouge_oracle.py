"""torchmetrics' and NLTK's side of Forja's ROUGE tests: reads {"hyps": [...], "refs": [[...], ...],
"words": [...]} from the JSON file in argv[1]; prints, for each hypothesis and each of its
references, torchmetrics' ROUGE-1, ROUGE-2 and ROUGE-L (precision, recall, F1) with and without the
Porter stemmer, and NLTK's Porter stem of each word, as JSON.

Each reference is scored on its own, and Forja's choice among them is checked by F1 value: with
several references, torchmetrics' accumulate="best" picks the reference by the first key's F1 and
reports every key from it, where rouge-score picks the best reference per key; and it compares
float32 F1s, so two references whose F1s differ only beyond float32 tie and it takes the first,
where rouge-score (and Forja) compare doubles. ROUGE-Lsum is left out: torchmetrics splits sentences
with NLTK's punkt model (data that cannot be downloaded here), where rouge-score splits at
newlines."""
import json
import sys

from nltk.stem.porter import PorterStemmer
from torchmetrics.functional.text.rouge import rouge_score

data = json.load(open(sys.argv[1], encoding="utf-8"))
hyps, refs = data["hyps"], data["refs"]
out = {"stemmed": [], "plain": []}
for stem, name in ((True, "stemmed"), (False, "plain")):
    for i, h in enumerate(hyps):
        per_ref = []
        for r in refs:
            row = {}
            s = rouge_score(h, r[i], use_stemmer=stem, rouge_keys=("rouge1", "rouge2", "rougeL"))
            for key in ("rouge1", "rouge2", "rougeL"):
                for part in ("precision", "recall", "fmeasure"):
                    row[key + "_" + part] = float(s[key + "_" + part])
            per_ref.append(row)
        out[name].append(per_ref)
stemmer = PorterStemmer()
out["stems"] = [stemmer.stem(w) for w in data["words"]]
print(json.dumps(out))
