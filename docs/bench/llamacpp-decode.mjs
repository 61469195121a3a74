// Times llama.cpp's decoding (through node-llama-cpp) at batch 1, to compare with `llamanas bench decode`.
// Usage: node llamacpp-decode.mjs <node-llama-cpp install folder> <model.gguf> [threads=2] [tokens=64] [repetitions=5]
// Each repetition starts a fresh context, evaluates BOS, then generates `tokens` greedy tokens; the time from the
// first generated token to the last is what llama-bench's tg<tokens> measures. One untimed repetition comes first.
// Prints one JSON line: tokens/s of each timed repetition and their median.
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [installDir, modelPath, threads = "2", count = "64", repetitions = "5"] = process.argv.slice(2);
const entry = createRequire(join(installDir, "package.json")).resolve("node-llama-cpp");
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const rates = [];
for (let r = 0; r <= Number(repetitions); r++) {
    const context = await model.createContext({ contextSize: 256, sequences: 1, threads: Number(threads) });
    let generated = 0;
    let start = 0;
    for await (const token of context.getSequence().evaluate([model.tokens.bos], { temperature: 0 })) {
        if (generated === 0) {
            start = performance.now(); // the first token closes the prompt's evaluation
        }

        if (++generated > Number(count)) {
            break;
        }
    }

    const rate = Number(count) / ((performance.now() - start) / 1000);
    if (r > 0) {
        rates.push(rate);
    }

    await context.dispose();
}

const sorted = [...rates].sort((a, b) => a - b);
const round = (x) => Math.round(x * 10) / 10;
process.stdout.write(JSON.stringify({ model: modelPath, threads: Number(threads), tokens: Number(count), tokensPerSecond: rates.map(round), median: round(sorted[Math.floor(sorted.length / 2)]) }) + "\n");
await model.dispose();
await llama.dispose();
