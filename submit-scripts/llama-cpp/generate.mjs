// Greedy continuation of a prompt by llama.cpp (node-llama-cpp's prebuilt CPU binary):
//   node generate.mjs MODEL.gguf PROMPT [MAX_TOKENS]
// prints the prompt and its continuation, stopping at an end-of-generation token, as
// `forja generate --temperature 0` does.
import {getLlama} from "node-llama-cpp";

const [modelPath, prompt, max = "32"] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: Math.min(model.trainContextSize, 4096)});
const sequence = context.getSequence();
const out = [];
for await (const token of sequence.evaluate(model.tokenize(prompt, false), {temperature: 0})) {
  if (model.isEogToken(token) || out.length >= Number(max)) {
    break;
  }
  out.push(token);
}
console.log(prompt + model.detokenize(out));
await context.dispose();
await model.dispose();
await llama.dispose();
