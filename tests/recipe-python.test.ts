/**
 * The recipe's data pipeline (recipe_data.py) against the studio's (src/data/tokenize.ts, splitValidation): a recipe
 * is written for a sample dataset of each record shape, recipe_data.py runs on its data file with a tokenizer shim
 * that answers from encodings and chat renderings the studio's tokenizer made, and its token ids, labels, dropped
 * records, validation split and step count must equal the studio's exactly. The shim fails on any text it was not
 * given, so the set of strings the Python side encodes is checked too.
 *
 * recipe_data.py needs no torch; the test runs where the repository's Python peer does (python3 with torch,
 * bench/torch-peer.ts) and is skipped, saying why, elsewhere.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { torchPeerAvailable } from '../bench/torch-peer';
import { parseDataset, splitValidation, tokenizeRecords, type RecordShape } from '../src/data';
import { loadTokenizer, type ChatMessage, type TextTokenizer } from '../src/model-io/tokenizer';
import { parseModelConfig } from '../src/model/config';
import { RUN_DEFAULTS } from '../src/options/run-fields';
import { buildRecipe } from '../src/recipe/build-recipe';
import { DEFAULT_TRAINING } from '../src/trainer/trainer';
import { makeTinyModel, makeTinyTokenizer, type TinyModelKind } from './fixtures/tiny-models';

const python = await torchPeerAvailable();
const run = promisify(execFile);

/** Runs recipe_data.py on the recipe's data with a tokenizer that answers only from the given table. */
const SCRIPT = String.raw`
import json, sys
recipe_dir, table_file = sys.argv[1], sys.argv[2]
sys.path.insert(0, recipe_dir)
import recipe_data

recipe = json.load(open(recipe_dir + "/recipe.json", encoding="utf-8"))
table = json.load(open(table_file, encoding="utf-8"))
key = lambda messages: json.dumps(messages, ensure_ascii=False, sort_keys=True)
encodings = {(e["text"], e["add_special_tokens"]): e["ids"] for e in table["encodings"]}
renderings = {(key(r["messages"]), r["add_generation_prompt"]): r["text"] for r in table["renderings"]}
misses = []

class Shim:
    eos_token_id = table["eos_token_id"]
    def encode(self, text, add_special_tokens):
        k = (text, add_special_tokens)
        if k not in encodings:
            misses.append(["encode", text, add_special_tokens])
            raise KeyError("no encoding for this text")
        return list(encodings[k])
    def render_chat(self, messages, add_generation_prompt):
        k = (key(messages), add_generation_prompt)
        if k not in renderings:
            misses.append(["render_chat", messages, add_generation_prompt])
            raise KeyError("no rendering for these messages")
        return renderings[k]

t = recipe["training"]
records = recipe_data.read_jsonl(recipe_dir + "/" + recipe["data"]["records_file"])
try:
    examples, problems = recipe_data.tokenize_records(records, Shim(), t["max_length"])
except KeyError:
    print(json.dumps({"misses": misses}))
    sys.exit(0)
train, validation = recipe_data.split_validation(examples, t["val_split"], t["seed"])
steps = recipe_data.total_steps(len(train), t["max_steps"], t["num_train_epochs"], t["per_device_train_batch_size"], t["gradient_accumulation_steps"])
print(json.dumps({"misses": misses, "examples": examples, "problems": len(problems),
                  "validation": [e["index"] for e in validation], "steps": steps}))
`;

interface PythonResult {
  misses: unknown[];
  examples?: { input_ids: number[]; labels: number[]; index: number }[];
  problems?: number;
  validation?: number[];
  steps?: number;
}

function tinyTokenizer(kind: TinyModelKind): TextTokenizer {
  const t = makeTinyTokenizer(kind);
  return loadTokenizer(t.tokenizerJson, t.tokenizerConfig);
}

/** Every encoding and rendering recipe_data.py asks for on these records, made by the studio's tokenizer. */
function shimTable(lines: Record<string, any>[], tok: TextTokenizer) {
  const encodings: { text: string; add_special_tokens: boolean; ids: number[] }[] = [];
  const renderings: { messages: ChatMessage[]; add_generation_prompt: boolean; text: string }[] = [];
  const encode = (text: string, add: boolean) => encodings.push({ text, add_special_tokens: add, ids: tok.encode(text, { addSpecialTokens: add }) });
  const render = (messages: ChatMessage[], add: boolean): string => {
    const text = tok.applyChatTemplate!(messages, { addGenerationPrompt: add })!;
    renderings.push({ messages, add_generation_prompt: add, text });
    return text;
  };
  for (const r of lines) {
    if ('text' in r) encode(r.text, true);
    else if ('prompt' in r) {
      encode(r.prompt, true);
      encode(r.completion, false);
    } else {
      const messages = r.messages as ChatMessage[];
      encode(render(messages, false), false);
      messages.forEach((m, i) => {
        if (m.role !== 'assistant') return;
        encode(render(messages.slice(0, i), true), false);
        encode(render(messages.slice(0, i + 1), false).trimEnd(), false);
      });
    }
  }
  return { eos_token_id: tok.eosTokenId, encodings, renderings };
}

const CASES: [RecordShape, string, TinyModelKind][] = [
  ['text', 'pirate.jsonl', 'llama'],
  ['alpaca', 'invitations.jsonl', 'llama'],
  ['prompt-completion', 'invitations.jsonl', 'gpt2'],
  ['messages', 'butler.jsonl', 'qwen2'],
];

describe('recipe_data.py against the studio\'s tokenizer pipeline', () => {
  const title = (what: string) => (python.ok ? what : `${what} (skipped: ${python.reason})`);

  describe.each(CASES)('%s records (%s, tiny %s)', (shape, file, kind) => {
    // A long window, and one short enough to cut every example and leave some with nothing to learn from.
    it.skipIf(!python.ok).each([256, 24])(title('max_length %i: the same ids, labels, dropped records, split and steps'), async (maxLength) => {
      if (!python.ok) return;
      let body = await readFile(new URL(`../public/datasets/${file}`, import.meta.url), 'utf8');
      if (shape === 'prompt-completion') {
        // The Alpaca sample written as plain prompt/completion records: prompts without the studio's template.
        body = body.trim().split('\n').map((l) => {
          const r = JSON.parse(l) as Record<string, string>;
          return JSON.stringify({ prompt: `${r.instruction} ${r.input}\n`, completion: r.output });
        }).join('\n');
      }
      const parsed = parseDataset(body, file);
      expect(parsed.shape).toBe(shape);
      const tok = tinyTokenizer(kind);
      const model = parseModelConfig(JSON.parse(new TextDecoder().decode(makeTinyModel(kind).get('config.json'))));
      const training = { ...DEFAULT_TRAINING, seed: 7, batchSize: 3, gradAccum: 2, epochs: 2 };
      const runOptions = { ...RUN_DEFAULTS, maxLength, valSplit: 0.25 };
      const files = buildRecipe({
        base: { nameOrPath: `tiny-${kind}`, revision: null },
        model,
        method: 'lora',
        options: {},
        training,
        run: runOptions,
        weightFormat: 'f32',
        data: { records: parsed.records, shape, source: file },
      });

      const dir = await mkdtemp(join(tmpdir(), 'recipe-python-'));
      try {
        for (const [path, bytes] of files) {
          await mkdir(dirname(join(dir, path)), { recursive: true });
          await writeFile(join(dir, path), bytes);
        }
        const records = new TextDecoder().decode(files.get('data/records.jsonl')).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
        const tableFile = join(dir, 'shim.json');
        await writeFile(tableFile, JSON.stringify(shimTable(records, tok)));
        const { stdout } = await run(python.python, ['-c', SCRIPT, dir, tableFile], { timeout: 60_000, maxBuffer: 64 << 20 });
        const got = JSON.parse(stdout) as PythonResult;
        expect(got.misses, 'recipe_data.py asked for text the studio never encodes').toEqual([]);

        const studio = tokenizeRecords(parsed.records, tok, { maxLength });
        const indexOfLine = new Map(parsed.records.map((r, i) => [r.line, i]));
        expect(got.problems).toBe(studio.problems.length);
        expect(got.examples!.map((e) => [e.index, e.input_ids, e.labels])).toEqual(
          studio.examples.map((e) => [indexOfLine.get(e.line), e.inputIds, e.labels]),
        );
        if (maxLength === 24 && shape !== 'text') expect(studio.examples.length + studio.problems.length).toBe(parsed.records.length);

        const { train, validation } = splitValidation(studio.examples, runOptions.valSplit, training.seed);
        expect(got.validation).toEqual(validation.map((e) => indexOfLine.get(e.line)));
        // The studio's Trainer: ceil(epochs · ceil(train / batch) / accumulation) optimizer steps.
        expect(got.steps).toBe(Math.ceil((training.epochs * Math.ceil(train.length / training.batchSize)) / training.gradAccum));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
