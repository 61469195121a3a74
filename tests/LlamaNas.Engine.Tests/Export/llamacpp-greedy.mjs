// Greedy decoding with llama.cpp (through node-llama-cpp) from BOS, for the export tests: llama.cpp is the judge
// of whether an exported GGUF runs and what it computes.
// Usage: node llamacpp-greedy.mjs <node-llama-cpp install folder> <model.gguf> <new tokens> <steps with probabilities> [text]
// Prints one JSON line: {"bos": id, "tokens": [ids after BOS], "text": detokenized tokens, "probabilities": [[p(token
// id) for every id] for each of the first steps], "encoded": [llama.cpp's token ids of text, no special tokens]};
// the probabilities are llama.cpp's softmax of the logits there.
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [installDir, modelPath, count, probabilitySteps, text = ""] = process.argv.slice(2);
const entry = createRequire(join(installDir, "package.json")).resolve("node-llama-cpp");
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);

// CPU only and never a source build: the test pins the prebuilt linux-x64 binary that ships with the package.
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
// An F32 KV cache (llama.cpp's default is F16), so that an F32 export is compared at full precision.
const context = await model.createContext({
    contextSize: 256, sequences: 1, threads: 1, flashAttention: false,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
});
const sequence = context.getSequence();
const bos = model.tokens.bos;
const eos = model.tokens.eos;
const tokens = [];
const probabilities = [];
for await (const step of sequence.evaluateWithMetadata([bos], { probabilities: true }, { temperature: 0 })) {
    const token = step.token;
    tokens.push(token);
    if (probabilities.length < Number(probabilitySteps)) {
        probabilities.push(Array.from({ length: step.probabilities.size }, (_, id) => step.probabilities.get(id) ?? 0));
    }

    if (tokens.length >= Number(count) || token === eos) {
        break;
    }
}

process.stdout.write(JSON.stringify({ bos, tokens, text: model.detokenize(tokens), probabilities, encoded: model.tokenize(text, false) }) + "\n");
await context.dispose();
await model.dispose();
await llama.dispose();
