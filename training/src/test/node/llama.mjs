// llama.cpp's side of Forja's GGUF tests: reads a JSON request on stdin
//   {"model": FILE, "texts": [...], "prompt": [ids], "tokens": N, "top": K, "context": C,
//    "lora": ADAPTER_FILE (optional, applied at scale 1)}
// loads FILE with llama.cpp (node-llama-cpp's prebuilt CPU binary, never built here), and prints
//   {"texts": [[ids] for each text, no special tokens added],
//    "greedy": [N ids continuing the prompt at temperature 0],
//    "top": [[id, probability] x K for the token after the prompt],
//    "logprobs": [log p(score[i + 1] | score[..i]) for the tokens of "score", if given]}
import {getLlama} from "node-llama-cpp";

const input = JSON.parse(await new Promise((resolve) => {
  let s = "";
  process.stdin.on("data", (d) => (s += d));
  process.stdin.on("end", () => resolve(s));
}));
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath: input.model});
const texts = (input.texts || []).map((t) => Array.from(model.tokenize(t, false)));
const context = await model.createContext({
  contextSize: input.context,
  batchSize: input.context,
  ...(input.lora ? {lora: {adapters: [{filePath: input.lora, scale: 1}]}} : {}),
});
const sequence = context.getSequence();
const greedy = [];
let top = [];
for await (const out of sequence.evaluateWithMetadata(input.prompt, {probabilities: true}, {temperature: 0})) {
  if (greedy.length === 0) {
    top = Array.from(out.probabilities.entries()).slice(0, input.top);
  }
  greedy.push(out.token);
  if (greedy.length >= input.tokens) {
    break;
  }
}
let logprobs = [];
if (input.score) {
  await sequence.clearHistory();
  const items = input.score.map((t, i) =>
    i + 1 < input.score.length ? [t, {generateNext: {probabilities: true}}] : t);
  const scored = await sequence.controlledEvaluate(items);
  for (let i = 0; i + 1 < input.score.length; i++) {
    const p = scored[i].next.probabilities.get(input.score[i + 1]) ?? 0;
    logprobs.push(Math.log(p));
  }
}
console.log(JSON.stringify({texts, greedy, top, logprobs}));
await context.dispose();
await model.dispose();
await llama.dispose();
