/**
 * The Compare panel's state: a prompt, sampling settings and a seed, and the continuations of it by the base model,
 * the adapted model, and the adapted model deployed (merged, exported as ONNX and run by onnxruntime-web), generated
 * one after the other with exactly the same prompt, settings and seed. Batch mode runs a list of validation prompts
 * (by default taken from the chosen dataset) through the base and adapted models.
 */
import { create } from 'zustand';
import { parseDataset, parsePastedText, type DataRecord } from '../../data/index';
import { sampleDataset } from '../../model-io/embedded';
import { validateSamplingOptions, type GenerationDefaults, type SamplingOptions } from '../../model/sampling';
import type { GenerateResponse, GenerateSide, TrainDataSpec } from '../../worker/protocol';
import { tr } from '../i18n';
import { useAdapter } from './adapter';
import { useData } from './data';
import { useModel } from './model';
import { kernelWorker, toErrorInfo, type ErrorInfo } from './worker';

// ------------------------------------------------------------------------------------------ pure helpers

export interface CompareSettings {
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  maxNewTokens: number;
}

/** Used for every field the model's generation_config.json leaves out. */
export const FALLBACK_SETTINGS: Readonly<CompareSettings> = {
  doSample: true,
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  repetitionPenalty: 1.15,
  maxNewTokens: 48,
};

export const DEFAULT_SEED = 1;

/** The model's generation defaults, with FALLBACK_SETTINGS for the fields it does not set. */
export function settingsFromGeneration(generation: GenerationDefaults | null | undefined): CompareSettings {
  const g = generation ?? {};
  return {
    doSample: g.doSample ?? FALLBACK_SETTINGS.doSample,
    temperature: g.temperature ?? FALLBACK_SETTINGS.temperature,
    topK: g.topK ?? FALLBACK_SETTINGS.topK,
    topP: g.topP ?? FALLBACK_SETTINGS.topP,
    repetitionPenalty: g.repetitionPenalty ?? FALLBACK_SETTINGS.repetitionPenalty,
    maxNewTokens: g.maxNewTokens ?? FALLBACK_SETTINGS.maxNewTokens,
  };
}

/** The settings as the worker's `generate` takes them, or an error message naming the bad field. */
export function checkSettings(settings: CompareSettings, seed: number): string | null {
  const sampling: SamplingOptions = { ...settings };
  try {
    validateSamplingOptions(sampling);
  } catch (e) {
    return (e as Error).message;
  }
  if (!(Number.isInteger(settings.maxNewTokens) && settings.maxNewTokens >= 1)) return tr('compare').maxNewTokensInvalid(settings.maxNewTokens);
  if (!(Number.isInteger(seed) && seed >= 0)) return tr('compare').seedInvalid(seed);
  return null;
}

/**
 * The chat rendering of the embedded model's template: a system message is its content + "\n\n", a user turn
 * "User: {content}\n", an assistant turn "Assistant: {content}<|endoftext|>\n"; the generation prompt is "Assistant:".
 */
export const CHAT_EOS = '<|endoftext|>';
export const CHAT_GENERATION_PROMPT = 'Assistant:';

function renderTurn(m: { role: string; content: string }): string {
  if (m.role === 'system') return `${m.content}\n\n`;
  if (m.role === 'user') return `User: ${m.content}\n`;
  return `Assistant: ${m.content}${CHAT_EOS}\n`;
}

/** How many words of a text record a prompt keeps. */
export const TEXT_PROMPT_WORDS = 5;

/**
 * The prompt to compare generations on for one record: a prompt-completion record's prompt; the first 5 words of a
 * text record; a conversation up to its last assistant turn, with the generation prompt.
 */
export function promptOfRecord(record: DataRecord): string {
  switch (record.kind) {
    case 'prompt-completion':
      return record.prompt;
    case 'text': {
      // A prefix of the text as written: its first words and the whitespace between them.
      const m = new RegExp(`^(?:\\S+\\s+){0,${TEXT_PROMPT_WORDS - 1}}\\S+`).exec(record.text.trimStart());
      return m ? m[0] : '';
    }
    case 'messages': {
      let last = -1;
      record.messages.forEach((m, i) => {
        if (m.role === 'assistant') last = i;
      });
      const before = last < 0 ? record.messages : record.messages.slice(0, last);
      return before.map(renderTurn).join('') + CHAT_GENERATION_PROMPT;
    }
  }
}

export const BATCH_PROMPT_COUNT = 5;

/** Prompts of up to `count` records from the end of the dataset, in file order. */
export function validationPrompts(records: readonly DataRecord[], count = BATCH_PROMPT_COUNT): string[] {
  if (count <= 0) return [];
  return records.slice(-count).map(promptOfRecord);
}

/** validationPrompts of a dataset's text (a file by its name's extension, or pasted text); [] when it does not parse. */
export function datasetValidationPrompts(spec: TrainDataSpec | null, count = BATCH_PROMPT_COUNT): string[] {
  if (!spec) return [];
  try {
    const parsed = spec.fileName ? parseDataset(spec.text, spec.fileName) : parsePastedText(spec.text);
    return validationPrompts(parsed.records, count);
  } catch {
    return [];
  }
}

/** One prompt per line, with "\n", "\t", "\r" and "\\" escaped. */
export function formatBatchPrompts(prompts: readonly string[]): string {
  return prompts
    .map((p) => p.replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t'))
    .join('\n');
}

/** The prompts of a one-per-line text (blank lines skipped), with the escapes of formatBatchPrompts undone. */
export function parseBatchPrompts(text: string): string[] {
  const ESC: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\' };
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => line.replace(/\\([ntr\\])/g, (_, c: string) => ESC[c]));
}

// ------------------------------------------------------------------------------------------------ store

export type SideStatus = 'idle' | 'running' | 'done' | 'error' | 'skipped';
export type StopReason = GenerateResponse['stopReason'];

export interface SideState {
  status: SideStatus;
  /** The continuation so far (streamed) or in full. */
  text: string;
  tokens: number;
  stopReason: StopReason | null;
  /** What the side is doing before its first token (building the ONNX export), what ran it, or why it failed. */
  note?: string;
}

export interface BatchRow {
  prompt: string;
  base: string;
  /** null: not generated (no adapter). */
  adapted: string | null;
}

export type CompareRunState = 'idle' | 'running' | 'done' | 'error';

export interface CompareState {
  prompt: string;
  /** The user edited the prompt: a change of dataset keeps it. */
  promptEdited: boolean;
  settings: CompareSettings;
  /** Fields the user changed: a model load keeps them. */
  editedSettings: Partial<Record<keyof CompareSettings, true>>;
  seed: number;
  status: CompareRunState;
  error: ErrorInfo | null;
  base: SideState;
  adapted: SideState;
  /** The adapted model merged, exported as ONNX and run by onnxruntime-web. */
  deployed: SideState;
  /** Whether Generate also runs the deployed model (when the adapter can be merged). */
  includeDeployed: boolean;
  /** What the shown outputs were generated from. */
  lastRun: { prompt: string; settings: CompareSettings; seed: number; adapterVersion: number | null } | null;

  batchText: string;
  batchEdited: boolean;
  batchRows: BatchRow[];
  /** Index of the prompt being generated, or null. */
  batchCurrent: number | null;

  setPrompt(prompt: string): void;
  resetPrompt(): void;
  setSetting<K extends keyof CompareSettings>(key: K, value: CompareSettings[K]): void;
  resetSettings(): void;
  setSeed(seed: number): void;
  setIncludeDeployed(on: boolean): void;
  setBatchText(text: string): void;
  resetBatchPrompts(): void;
  /** Generates the prompt's continuation with the base model, then with the adapter (when there is one). */
  run(): Promise<void>;
  /** Runs every batch prompt through the base model and the adapter. */
  runBatch(): Promise<void>;
}

const IDLE_TIMEOUT_MS = 120_000;

const IDLE_SIDE: SideState = { status: 'idle', text: '', tokens: 0, stopReason: null };

function modelGeneration(): GenerationDefaults | null {
  const s = useModel.getState().status;
  return s.state === 'ready' ? s.info.generation : null;
}

/** The prompt a dataset choice suggests: a sample's own compare prompt, else one of the dataset's validation prompts. */
function suggestedPrompt(): string | null {
  const data = useData.getState();
  if (data.sourceKind === 'sample') return sampleDataset(data.sampleName)?.comparePrompt ?? null;
  return datasetValidationPrompts(data.spec, 1)[0] ?? null;
}

export function generateOne(
  prompt: string,
  side: GenerateSide,
  settings: CompareSettings,
  seed: number,
  onText: (text: string, tokens: number) => void,
  onNote?: (note: string) => void,
): Promise<GenerateResponse> {
  const { maxNewTokens, ...sampling } = settings;
  return kernelWorker().stream(
    { kind: 'generate', prompt, side, maxNewTokens, sampling, seed },
    (m) => (m.kind === 'generate-token' ? onText(m.text, m.tokens) : onNote?.(m.message)),
    { idleTimeoutMs: IDLE_TIMEOUT_MS },
  );
}

export const useCompare = create<CompareState>()((set, get) => ({
  prompt: suggestedPrompt() ?? '',
  promptEdited: false,
  settings: settingsFromGeneration(modelGeneration()),
  editedSettings: {},
  seed: DEFAULT_SEED,
  status: 'idle',
  error: null,
  base: IDLE_SIDE,
  adapted: IDLE_SIDE,
  deployed: IDLE_SIDE,
  includeDeployed: true,
  lastRun: null,
  batchText: formatBatchPrompts(datasetValidationPrompts(useData.getState().spec)),
  batchEdited: false,
  batchRows: [],
  batchCurrent: null,

  setPrompt(prompt) {
    set({ prompt, promptEdited: true });
  },
  resetPrompt() {
    set({ prompt: suggestedPrompt() ?? get().prompt, promptEdited: false });
  },
  setSetting(key, value) {
    set({ settings: { ...get().settings, [key]: value }, editedSettings: { ...get().editedSettings, [key]: true } });
  },
  resetSettings() {
    set({ settings: settingsFromGeneration(modelGeneration()), editedSettings: {} });
  },
  setSeed(seed) {
    set({ seed });
  },
  setIncludeDeployed(includeDeployed) {
    set({ includeDeployed });
  },
  setBatchText(batchText) {
    set({ batchText, batchEdited: true });
  },
  resetBatchPrompts() {
    set({ batchText: formatBatchPrompts(datasetValidationPrompts(useData.getState().spec)), batchEdited: false });
  },

  async run() {
    const { prompt, settings, seed, status } = get();
    if (status === 'running') return;
    const bad = checkSettings(settings, seed);
    if (bad) {
      set({ status: 'error', error: { name: 'RangeError', message: bad } });
      return;
    }
    const { adapter, version } = useAdapter.getState();
    const deploy = adapter !== null && adapter.mergeRefusal === null && get().includeDeployed;
    const skippedDeployed: SideState = { ...IDLE_SIDE, status: 'skipped', note: deployedSkipReason(adapter, get().includeDeployed) };
    set({
      status: 'running',
      error: null,
      base: { ...IDLE_SIDE, status: 'running' },
      adapted: { ...IDLE_SIDE, status: adapter ? 'idle' : 'skipped' },
      deployed: deploy ? IDLE_SIDE : skippedDeployed,
      lastRun: { prompt, settings, seed, adapterVersion: adapter ? version : null },
    });
    const sides: GenerateSide[] = adapter ? ['base', 'adapted', ...(deploy ? (['deployed'] as const) : [])] : ['base'];
    const setSide = (side: GenerateSide, state: SideState) => set({ [side]: state });
    for (const side of sides) {
      setSide(side, { ...IDLE_SIDE, status: 'running' });
      try {
        const result = await generateOne(
          prompt,
          side,
          settings,
          seed,
          (text, tokens) => setSide(side, { status: 'running', text, tokens, stopReason: null, note: get()[side].note }),
          (note) => setSide(side, { ...get()[side], note }),
        );
        setSide(side, { status: 'done', text: result.text, tokens: result.tokens.length, stopReason: result.stopReason, note: result.runtime });
      } catch (error) {
        const info = toErrorInfo(error);
        if (side === 'deployed') {
          // The deployed side fails alone: the other two columns stand.
          setSide(side, { ...get()[side], status: 'error', note: info.message });
          continue;
        }
        setSide(side, { ...get()[side], status: 'error' });
        if (side === 'base' && adapter) setSide('adapted', { ...IDLE_SIDE, status: 'skipped' });
        if (deploy) setSide('deployed', skippedDeployed);
        set({ status: 'error', error: info });
        return;
      }
    }
    set({ status: 'done' });
  },

  async runBatch() {
    const { batchText, settings, seed, status } = get();
    if (status === 'running') return;
    const prompts = parseBatchPrompts(batchText);
    if (prompts.length === 0) {
      set({ status: 'error', error: { name: 'Error', message: tr('compare').batchEmpty } });
      return;
    }
    const bad = checkSettings(settings, seed);
    if (bad) {
      set({ status: 'error', error: { name: 'RangeError', message: bad } });
      return;
    }
    const hasAdapter = useAdapter.getState().adapter !== null;
    const rows: BatchRow[] = prompts.map((prompt) => ({ prompt, base: '', adapted: hasAdapter ? '' : null }));
    set({ status: 'running', error: null, batchRows: rows.slice(), batchCurrent: 0 });
    const update = (i: number, patch: Partial<BatchRow>) => {
      rows[i] = { ...rows[i], ...patch };
      set({ batchRows: rows.slice() });
    };
    try {
      for (let i = 0; i < prompts.length; i++) {
        set({ batchCurrent: i });
        const base = await generateOne(prompts[i], 'base', settings, seed, (text) => update(i, { base: text }));
        update(i, { base: base.text });
        if (hasAdapter) {
          const adapted = await generateOne(prompts[i], 'adapted', settings, seed, (text) => update(i, { adapted: text }));
          update(i, { adapted: adapted.text });
        }
      }
      set({ status: 'done', batchCurrent: null });
    } catch (error) {
      set({ status: 'error', error: toErrorInfo(error), batchCurrent: null });
    }
  },
}));

/** Why the deployed column is not generated. */
function deployedSkipReason(adapter: ReturnType<typeof useAdapter.getState>['adapter'], included: boolean): string {
  const t = tr('compare');
  if (!adapter) return t.notGeneratedNoAdapter;
  if (adapter.mergeRefusal) return t.notDeployable(adapter.mergeRefusal);
  return included ? '' : t.deployedSwitchedOff;
}

// A newly loaded model brings its generation defaults (the fields the user has not changed).
useModel.subscribe((state, prev) => {
  if (state.status.state !== 'ready' || state.status === prev.status) return;
  const defaults = settingsFromGeneration(state.status.info.generation);
  const { settings, editedSettings } = useCompare.getState();
  const next = { ...settings };
  for (const key of Object.keys(defaults) as (keyof CompareSettings)[]) {
    if (!editedSettings[key]) (next as Record<keyof CompareSettings, unknown>)[key] = defaults[key];
  }
  useCompare.setState({ settings: next });
});

// Another dataset brings its prompt and validation prompts, unless the user wrote their own.
useData.subscribe((state, prev) => {
  if (state.sampleName === prev.sampleName && state.sourceKind === prev.sourceKind && state.spec === prev.spec) return;
  const compare = useCompare.getState();
  if (!compare.promptEdited) {
    const prompt = suggestedPrompt();
    if (prompt !== null && prompt !== compare.prompt) useCompare.setState({ prompt });
  }
  if (!compare.batchEdited && state.spec && state.spec !== prev.spec) {
    useCompare.setState({ batchText: formatBatchPrompts(datasetValidationPrompts(state.spec)) });
  }
});
