# transformers' apply_chat_template on each template x conversation x add_generation_prompt
import json, sys
from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast

spec = json.load(open(sys.argv[1], encoding="utf-8"))
tok = PreTrainedTokenizerFast(
    tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")),
    **spec["tokens"])
out = {}
for name, template in spec["templates"].items():
    for i, conv in enumerate(spec["conversations"]):
        for agp in (False, True):
            key = "%s/%d/%s" % (name, i, "true" if agp else "false")
            try:
                out[key] = tok.apply_chat_template(
                    conv, chat_template=template, tokenize=False, add_generation_prompt=agp)
            except Exception as e:
                out[key] = "ERROR: " + str(e)
print(json.dumps(out, ensure_ascii=False))
