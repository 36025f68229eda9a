// llama.cpp's prefill and decode speed on a GGUF file (node-llama-cpp's prebuilt CPU binary):
//   node bench.mjs MODEL.gguf THREADS PROMPT_TOKENS DECODE_TOKENS
// prints JSON: prefill tokens/s (the prompt evaluated in one batch), decode tokens/s (greedy, one
// token at a time after the prompt), and the first generated ids.
import {getLlama} from "node-llama-cpp";

const [modelPath, threads, promptTokens, decodeTokens] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error", maxThreads: Number(threads)});
const model = await llama.loadModel({modelPath});
const n = Number(promptTokens);
const context = await model.createContext({
  contextSize: n + Number(decodeTokens) + 8,
  batchSize: n,
  threads: {ideal: Number(threads), min: Number(threads)},
});
const prompt = Array.from({length: n}, (_, i) => 5 + (i % 200));
const seq = context.getSequence();
let t0 = performance.now();
await seq.evaluateWithoutGeneratingNewTokens(prompt);
const prefill = n / ((performance.now() - t0) / 1000);
await seq.clearHistory();
await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, n - 1));
const out = [];
t0 = performance.now();
for await (const token of seq.evaluate([prompt[n - 1]], {temperature: 0})) {
  out.push(token);
  if (out.length >= Number(decodeTokens)) {
    break;
  }
}
const decode = out.length / ((performance.now() - t0) / 1000);
console.log(JSON.stringify({prefill_tokens_per_s: prefill, decode_tokens_per_s: decode, first_ids: out.slice(0, 8)}));
await context.dispose();
await model.dispose();
await llama.dispose();
