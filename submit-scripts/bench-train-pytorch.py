#!/usr/bin/env python3
"""The PyTorch side of `submit-scripts/bench-train-vs-pytorch`.

A small pre-LayerNorm GPT written for this comparison (the same shape as Forja's GptModel: learned
positions, tied embeddings, tanh GELU, biases), or with --kv-heads and --mlp-hidden transformers'
LlamaForCausalLM (SDPA attention), trained with torch.optim.AdamW on the token stream that `forja
bench train` wrote (tokens.bin, little-endian uint16), consecutive windows of context+1 tokens.
Prints the median step time and tokens/s on one line of JSON.
"""
import argparse
import json
import math
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)

    def forward(self, x, mask):
        b, t, d = x.shape
        hs = d // self.heads
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q = q.view(b, t, self.heads, hs).transpose(1, 2)
        k = k.view(b, t, self.heads, hs).transpose(1, 2)
        v = v.view(b, t, self.heads, hs).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(hs) + mask
        att = F.softmax(scores, dim=-1) @ v
        x = x + self.c_proj(att.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, vocab, context, layers, d, heads):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(context, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
        mask = torch.full((context, context), float("-inf")).triu(1)
        self.register_buffer("mask", mask)

    def forward(self, ids, targets):
        t = ids.shape[1]
        x = self.wte(ids) + self.wpe.weight[:t]
        for blk in self.blocks:
            x = blk(x, self.mask[:t, :t])
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--tokens", required=True)
    a.add_argument("--vocab", type=int, required=True)
    a.add_argument("--context", type=int, required=True)
    a.add_argument("--layers", type=int, required=True)
    a.add_argument("--d-model", type=int, required=True)
    a.add_argument("--heads", type=int, required=True)
    a.add_argument("--batch", type=int, required=True)
    a.add_argument("--steps", type=int, default=10)
    a.add_argument("--warmup", type=int, default=2)
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--kv-heads", type=int, default=0, help="> 0: transformers' LlamaForCausalLM")
    a.add_argument("--mlp-hidden", type=int, default=0)
    a.add_argument("--lora-r", type=int, default=0,
                   help="> 0: PEFT LoRA of this rank (alpha 2r) on every linear layer of the"
                        " Llama model, the base frozen")
    args = a.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1234)
    data = torch.from_numpy(np.fromfile(args.tokens, dtype="<u2").astype(np.int64))
    if args.kv_heads > 0:
        from transformers import LlamaConfig, LlamaForCausalLM
        llama = LlamaForCausalLM(LlamaConfig(
            vocab_size=args.vocab, hidden_size=args.d_model, intermediate_size=args.mlp_hidden,
            num_hidden_layers=args.layers, num_attention_heads=args.heads,
            num_key_value_heads=args.kv_heads, max_position_embeddings=args.context,
            tie_word_embeddings=True, attn_implementation="sdpa"))

        class Wrapped(nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, ids, targets):
                logits = self.m(input_ids=ids).logits
                return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

        if args.lora_r > 0:
            from peft import LoraConfig, get_peft_model
            llama = get_peft_model(llama, LoraConfig(
                r=args.lora_r, lora_alpha=2 * args.lora_r, lora_dropout=0.0,
                target_modules="all-linear", task_type="CAUSAL_LM"))
        model = Wrapped(llama)
    else:
        if args.lora_r > 0:
            raise SystemExit("--lora-r needs the Llama-shaped model (--kv-heads > 0)")
        model = Gpt(args.vocab, args.context, args.layers, args.d_model, args.heads)
    embeddings = ("wte", "wpe", "embed_tokens")
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in trainable if p.dim() == 2 and not any(e in n for e in embeddings)]
    other = [p for n, p in trainable
             if not (p.dim() == 2 and not any(e in n for e in embeddings))]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
        lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    window = args.context + 1
    times = []
    for step in range(args.warmup + args.steps):
        start = step * args.batch * window
        chunk = data[start:start + args.batch * window].view(args.batch, window)
        t0 = time.perf_counter()
        loss = model(chunk[:, :-1], chunk[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in trainable], 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        if step >= args.warmup:
            times.append(dt)
    median = statistics.median(times)
    print(json.dumps({"median_step_s": median,
                      "tokens_per_s": args.batch * args.context / median,
                      "final_loss": loss.item(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
