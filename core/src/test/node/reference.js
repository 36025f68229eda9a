// Reads a JSON array of strings on stdin; prints a JSON array of tiktoken id arrays.
// Usage: node reference.js gpt2|cl100k_base < texts.json
const { get_encoding } = require("tiktoken");
const enc = get_encoding(process.argv[2] || "gpt2");
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const texts = JSON.parse(input);
  const out = texts.map((t) => Array.from(enc.encode(t, [], [])));
  process.stdout.write(JSON.stringify(out));
  enc.free();
});
