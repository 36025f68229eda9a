"""transformers' side of Forja's Hugging Face interoperability tests.

make ROOT KIND...  for each KIND, build in ROOT/KIND a tiny random model of KIND (gpt2-tied, gpt2-untied, llama, mistral, qwen2,
                   qwen3) with a byte-level BPE tokenizer, save_pretrained it to DIR, and write
                   DIR/reference.json: ids, logits, greedy ids, loss and gradients
logits DIR IDS     load DIR with AutoModelForCausalLM and AutoTokenizer; print the logits of IDS
                   (comma-separated) and the tokenizer's ids of TEXTS as JSON
lora BASE OUT TARGETS SAVED RSLORA
                   put PEFT LoRA adapters (r 4, alpha 8; TARGETS and SAVED comma-separated, "-"
                   for none; RSLORA 0 or 1) with random non-zero B on the model in BASE, save the
                   adapter to OUT/adapter and write OUT/reference.json: the adapted model's
                   logits, merge_and_unload's logits, one step's loss and trainable gradients
peft-train BASE PLAN OUT
                   fine-tune the model in BASE with PEFT LoRA (PLAN: r, alpha, seed, targets)
                   and torch.optim.AdamW on PLAN's batches at PLAN's learning rates, clipping the
                   gradient norm: save the adapter before the first step to OUT/initial, write
                   OUT/train.json (every step's loss) and save the trained adapter to OUT/final
peft-logits BASE ADAPTER IDS
                   PeftModel.from_pretrained(BASE model, ADAPTER): the logits of IDS as JSON
perplexity DIR IN WINDOW STRIDE
                   transformers' sliding-window perplexity of the model in DIR on the texts of
                   the JSON list in IN: each text's tokens after the BOS token, windows of WINDOW
                   tokens moving by STRIDE, each scoring the tokens no earlier window scored, with
                   exact sums; prints each text's summed NLL and scored tokens, and the perplexity
encode FILE TEXTS  the ids Hugging Face tokenizers gives each text of the JSON list in TEXTS with
                   the tokenizer.json FILE, no special tokens added, as JSON
"""
import json
import os
import sys

import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel
from transformers import LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config
from transformers import PreTrainedTokenizerFast

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Forja trains language models on Apache Spark, without leaving the JVM.",
    "El zorro marrón salta sobre el perro perezoso; a raposa marrom pula.",
    "naïve café, 東京, emoji 😀 and  double  spaces\n\nnew lines",
    "def f(x):\n    return x * 2  # code",
]


def config_of(kind, vocab, eos):
    common = dict(vocab_size=vocab, bos_token_id=eos, eos_token_id=eos)
    small = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                 num_attention_heads=4, max_position_embeddings=48, **common)
    if kind.startswith("gpt2"):
        return GPT2Config(n_positions=48, n_embd=32, n_layer=2, n_head=4,
                          tie_word_embeddings=kind == "gpt2-tied", resid_pdrop=0.0,
                          embd_pdrop=0.0, attn_pdrop=0.0, **common)
    if kind == "llama":  # grouped-query attention, llama3 RoPE scaling, untied head
        return LlamaConfig(num_key_value_heads=2, tie_word_embeddings=False,
                           rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                         "original_max_position_embeddings": 16},
                           rope_theta=500000.0, **small)
    if kind == "mistral":
        return MistralConfig(num_key_value_heads=2, tie_word_embeddings=False, **small)
    if kind == "qwen2":  # q/k/v biases, linear RoPE scaling, tied head
        return Qwen2Config(num_key_value_heads=1, tie_word_embeddings=True,
                           rope_scaling={"rope_type": "linear", "factor": 2.0}, **small)
    if kind == "qwen3":  # q/k RMSNorm, head_dim wider than hidden / heads
        return Qwen3Config(num_key_value_heads=2, head_dim=16, tie_word_embeddings=True, **small)
    raise ValueError(kind)


def make(d, kind):
    os.makedirs(d, exist_ok=True)
    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(TEXTS * 20, vocab_size=300, min_frequency=1,
                            special_tokens=["<|endoftext|>"])
    tok.save(os.path.join(d, "tokenizer.json"))
    fast = PreTrainedTokenizerFast(tokenizer_file=os.path.join(d, "tokenizer.json"),
                                   eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    fast.save_pretrained(d)
    eos = fast.eos_token_id
    torch.manual_seed(7)
    config = config_of(kind, len(fast), eos)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    with torch.no_grad():  # every parameter random, biases and norms included
        for p in model.parameters():
            p.uniform_(-0.3, 0.3)
    model.save_pretrained(d)
    model.eval()
    ids = fast(TEXTS[0] + " " + TEXTS[1])["input_ids"][:24]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
        greedy = model.generate(torch.tensor([ids[:5]]), max_new_tokens=32, do_sample=False,
                                eos_token_id=None, pad_token_id=eos)[0, 5:]
    # one training step's loss and gradients: two sequences, next-token targets, mean over tokens
    batch = torch.tensor([ids[:12], ids[12:24]])
    targets = torch.tensor([ids[1:13], ids[13:24] + [eos]])
    model.zero_grad()
    out = model(batch).logits
    loss = torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), targets.reshape(-1))
    loss.backward()
    grads = {n: p.grad.reshape(-1).tolist() for n, p in model.named_parameters()}
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"ids": ids, "logits": logits.tolist(), "greedy": greedy.tolist(),
                   "batch": batch.tolist(), "targets": targets.tolist(), "loss": loss.item(),
                   "grads": grads, "texts": TEXTS}, f)


def logits(d, ids):
    tok = AutoTokenizer.from_pretrained(d)
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        out = model(torch.tensor([ids])).logits[0]
    print(json.dumps({"logits": out.tolist(),
                      "texts": [tok(t)["input_ids"] for t in TEXTS],
                      "dtype": str(model.config.dtype)}))


def forja_name(peft_name):
    n = peft_name[len("base_model.model."):]
    return n.replace(".default", "").replace("modules_to_save.", "")


def lora(base, out, targets, saved, rslora):
    from peft import LoraConfig, get_peft_model
    ref = json.load(open(os.path.join(base, "reference.json")))
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    gpt2 = model.config.model_type == "gpt2"
    if targets == ["all-linear"]:
        targets = "all-linear"  # PEFT's keyword, a string
    config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=targets,
                        modules_to_save=saved or None, use_rslora=rslora, fan_in_fan_out=gpt2,
                        task_type="CAUSAL_LM")
    peft = get_peft_model(model, config)
    torch.manual_seed(11)
    with torch.no_grad():
        for n, p in peft.named_parameters():
            if p.requires_grad:
                p.uniform_(-0.3, 0.3)
    peft.save_pretrained(os.path.join(out, "adapter"))
    peft.eval()
    ids = torch.tensor([ref["ids"]])
    with torch.no_grad():
        logits = peft(ids).logits[0]
    batch = torch.tensor(ref["batch"])
    targets_t = torch.tensor(ref["targets"])
    peft.zero_grad()
    o = peft(batch).logits
    loss = torch.nn.functional.cross_entropy(o.reshape(-1, o.shape[-1]), targets_t.reshape(-1))
    loss.backward()
    grads = {forja_name(n): p.grad.reshape(-1).tolist()
             for n, p in peft.named_parameters() if p.requires_grad}
    with torch.no_grad():
        merged = peft.merge_and_unload()(ids).logits[0]
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"logits": logits.tolist(), "merged": merged.tolist(), "loss": loss.item(),
                   "grads": grads}, f)


def peft_train(base, plan_file, out):
    from peft import LoraConfig, get_peft_model
    plan = json.load(open(plan_file))
    torch.set_num_threads(int(plan.get("threads", 2)))
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    gpt2 = model.config.model_type == "gpt2"
    config = LoraConfig(r=plan["r"], lora_alpha=plan["alpha"], lora_dropout=0.0,
                        target_modules=plan["target_modules"], fan_in_fan_out=gpt2, task_type="CAUSAL_LM")
    torch.manual_seed(plan["seed"])
    peft = get_peft_model(model, config)  # PEFT's initialisation: A Kaiming-uniform, B zero
    peft.save_pretrained(os.path.join(out, "initial"))
    params = [p for p in peft.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=plan["lrs"][0], betas=(plan["beta1"], plan["beta2"]),
                            eps=plan["epsilon"], weight_decay=plan["weight_decay"])
    peft.train()
    losses = []
    for step, (x, y) in enumerate(zip(plan["ids"], plan["targets"])):
        for group in opt.param_groups:
            group["lr"] = plan["lrs"][step]
        opt.zero_grad()
        logits = peft(torch.tensor(x)).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 torch.tensor(y).reshape(-1))
        loss.backward()
        if plan["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(params, plan["grad_clip"])
        opt.step()
        losses.append(loss.item())
    peft.save_pretrained(os.path.join(out, "final"))
    with open(os.path.join(out, "train.json"), "w") as f:
        json.dump({"losses": losses}, f)


def peft_logits(base, adapter, ids):
    from peft import PeftModel
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    peft = PeftModel.from_pretrained(model, adapter)
    peft.eval()
    with torch.no_grad():
        out = peft(torch.tensor([ids])).logits[0]
    print(json.dumps({"logits": out.tolist()}))


def perplexity(d, texts_file, window, stride):
    tok = AutoTokenizer.from_pretrained(d)
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
    model.eval()
    nlls, counts = [], []
    for text in json.load(open(texts_file, encoding="utf-8")):
        ids = [tok.bos_token_id] + tok(text, add_special_tokens=False)["input_ids"]
        total, scored, prev_end = 0.0, 0, 0
        for begin in range(0, len(ids), stride):
            end = min(begin + window, len(ids))
            first = max(prev_end, begin + 1)  # the first position this window scores
            if first < end:
                with torch.no_grad():
                    logits = model(torch.tensor([ids[begin:end]])).logits[0].double()
                logp = torch.log_softmax(logits, dim=-1)
                for j in range(first, end):
                    total -= logp[j - begin - 1, ids[j]].item()
                scored += end - first
            prev_end = end
            if end == len(ids):
                break
        nlls.append(total)
        counts.append(scored)
    print(json.dumps({"nll": nlls, "tokens": counts,
                      "perplexity": float(torch.exp(torch.tensor(sum(nlls) / sum(counts))))}))


def encode(tokenizer_json, texts_json):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tokenizer_json)
    with open(texts_json, encoding="utf-8") as f:
        texts = json.load(f)
    print(json.dumps([tok.encode(t, add_special_tokens=False).ids for t in texts]))


if __name__ == "__main__":
    if sys.argv[1] == "encode":
        encode(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "perplexity":
        perplexity(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif sys.argv[1] == "lora":
        split = lambda a: [] if a == "-" else a.split(",")
        lora(sys.argv[2], sys.argv[3], split(sys.argv[4]), split(sys.argv[5]), sys.argv[6] == "1")
    elif sys.argv[1] == "peft-train":
        peft_train(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "peft-logits":
        peft_logits(sys.argv[2], sys.argv[3], [int(x) for x in sys.argv[4].split(",")])
    elif sys.argv[1] == "make":
        for kind in sys.argv[3:]:
            make(os.path.join(sys.argv[2], kind), kind)
    else:
        logits(sys.argv[2], [int(x) for x in sys.argv[3].split(",")])
