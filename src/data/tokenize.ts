/**
 * Records to token ids and labels (Hugging Face convention: labels[t] is the token at position t, −100 is
 * ignored, the engine shifts). What the loss counts:
 *
 * - text: every token (labels = inputIds), then EOS.
 * - prompt-completion: only the completion and the EOS after it. The ids are encode(prompt) with the tokenizer's
 *   special tokens (e.g. BOS) followed by encode(completion) without them, so the boundary is exact.
 * - messages: the conversation rendered by the tokenizer's chat template and encoded as HF's apply_chat_template
 *   does (without adding special tokens: the template writes them). Only assistant turns count: their content and
 *   the template's end-of-turn text (e.g. `<|im_end|>`), not whitespace after it. No EOS is added: the model
 *   learns to stop at the template's end-of-turn token. An assistant turn starts where the conversation before it,
 *   rendered with the generation prompt, ends, and stops where the conversation up to it ends; both are found by
 *   encoding those renderings and matching them as token prefixes of the whole conversation.
 *
 * Examples longer than `maxLength` are cut to their first `maxLength` tokens and counted in `truncated`; an example
 * left with no counted label (beyond position 0, which the shift never predicts) is reported as a problem. A field
 * far longer than the window is cut before it is encoded (see token-budget.ts), which leaves those first
 * `maxLength` tokens as they are.
 */
import type { ChatMessage, TextTokenizer } from '../model-io/tokenizer';
import { DatasetError, type DataProblem, type DataRecord, type MessagesRecord } from './records';
import { encodeForWindow } from './token-budget';

export const IGNORE_INDEX = -100;

export interface TokenizedExample {
  inputIds: number[];
  labels: number[];
  /** The record's position in its file (see ParsedDataset.lineUnit). */
  line: number;
}

export interface TokenizeOptions {
  maxLength: number;
  /** Append EOS after text and completions (default true); messages rely on the template's end-of-turn token. */
  addEos?: boolean;
  /** Time one record may take to tokenize before the whole run stops (default RECORD_TOKENIZE_BUDGET_MS). */
  recordBudgetMs?: number;
}

/**
 * The time budget of one record. A record is encoded only as far as the window can use (token-budget.ts), and the
 * tokenizer's patterns were checked for catastrophic backtracking when it loaded, so a record takes milliseconds;
 * one that takes seconds means a pattern that backtracks on this text in a way the checks did not foresee. A
 * running regex cannot be interrupted, so the budget is checked after each record: the run stops after the first
 * slow record instead of freezing the page (the worker) or the CLI for every record after it.
 */
export const RECORD_TOKENIZE_BUDGET_MS = 5000;

export interface TokenizeResult {
  examples: TokenizedExample[];
  /** How many examples were longer than maxLength and were cut. */
  truncated: number;
  /** Records that gave no example (nothing left to learn from after truncation, or a template that failed). */
  problems: DataProblem[];
}

/** Number of labels the loss counts: positions t ≥ 1 with a label other than −100. */
export function countedLabels(labels: readonly number[]): number {
  let n = 0;
  for (let t = 1; t < labels.length; t++) if (labels[t] !== IGNORE_INDEX) n++;
  return n;
}

export function tokenizeRecords(records: readonly DataRecord[], tokenizer: TextTokenizer, opts: TokenizeOptions): TokenizeResult {
  const { maxLength } = opts;
  const addEos = opts.addEos ?? true;
  if (!Number.isInteger(maxLength) || maxLength < 2) throw new DatasetError(`tokenizeRecords: maxLength must be an integer ≥ 2, got ${maxLength}`);
  const eos = tokenizer.eosTokenId;
  if (addEos && eos === null && records.some((r) => r.kind !== 'messages')) {
    throw new DatasetError('the tokenizer has no EOS token, so none can be appended; tokenize with addEos: false');
  }
  if (records.some((r) => r.kind === 'messages')) {
    const probe = tokenizer.applyChatTemplate?.([{ role: 'user', content: 'x' }]) ?? null;
    if (probe === null) {
      throw new DatasetError(
        'the dataset has chat messages, but the tokenizer has no chat template (tokenizer_config.json "chat_template"); ' +
          'use a chat model, or convert the records to {"prompt", "completion"}',
      );
    }
  }
  const withEos = (ids: number[]): number[] => (addEos && eos !== null && ids[ids.length - 1] !== eos ? [...ids, eos] : ids);

  const examples: TokenizedExample[] = [];
  const problems: DataProblem[] = [];
  let truncated = 0;
  // Each field is encoded only as far as the window can use; `cut` records that a field lost its tail, so the
  // example's full length is known only to be at least what was encoded.
  let cut = false;
  const encode = (text: string, addSpecialTokens?: boolean): number[] => {
    const out = encodeForWindow(tokenizer, text, maxLength, addSpecialTokens === undefined ? undefined : { addSpecialTokens });
    if (out.chars < text.length) cut = true;
    return out.ids;
  };
  const budgetMs = opts.recordBudgetMs ?? RECORD_TOKENIZE_BUDGET_MS;
  // The record being tokenized and when it started: checked when the next one starts, and after the last.
  let timing: { index: number; t0: number } | null = null;
  const checkBudget = () => {
    if (timing === null) return;
    const ms = performance.now() - timing.t0;
    if (ms > budgetMs) {
      throw new DatasetError(
        `tokenizing stopped: record ${timing.index + 1} of ${records.length} took ${(ms / 1000).toFixed(1)} s, over the budget ` +
          `of ${budgetMs / 1000} s a record; the tokenizer's patterns (tokenizer.json) backtrack on its text. Remove or shorten the record, or use another tokenizer`,
      );
    }
  };
  for (const [index, r] of records.entries()) {
    checkBudget();
    timing = { index, t0: performance.now() };
    let inputIds: number[];
    let labels: number[];
    cut = false;
    if (r.kind === 'text') {
      inputIds = withEos(encode(r.text));
      labels = inputIds.slice();
    } else if (r.kind === 'prompt-completion') {
      const promptIds = encode(r.prompt);
      const completionIds = withEos(encode(r.completion, false));
      inputIds = [...promptIds, ...completionIds];
      labels = [...promptIds.map(() => IGNORE_INDEX), ...completionIds];
    } else {
      const out = tokenizeConversation(r, tokenizer, maxLength);
      if ('error' in out) {
        problems.push({ line: r.line, message: out.error });
        continue;
      }
      ({ inputIds, labels } = out);
      cut = out.cut;
    }
    const fullLength = inputIds.length;
    if (fullLength > maxLength) {
      truncated++;
      inputIds = inputIds.slice(0, maxLength);
      labels = labels.slice(0, maxLength);
    }
    if (countedLabels(labels) === 0) {
      const what = r.kind === 'messages' ? 'assistant' : r.kind === 'prompt-completion' ? 'completion' : 'text';
      problems.push({
        line: r.line,
        message:
          fullLength > maxLength
            ? `no ${what} token is left to train on after truncation to ${maxLength} tokens (the example has ${cut ? 'at least ' : ''}${fullLength}); raise the maximum length or shorten the record`
            : `no ${what} token to train on`,
      });
      continue;
    }
    examples.push({ inputIds, labels, line: r.line });
  }
  checkBudget();
  return { examples, truncated, problems };
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function tokenizeConversation(
  r: MessagesRecord,
  tok: TextTokenizer,
  maxLength: number,
): { inputIds: number[]; labels: number[]; cut: boolean } | { error: string } {
  const render = (messages: ChatMessage[], addGenerationPrompt: boolean): string => {
    const s = tok.applyChatTemplate!(messages, { addGenerationPrompt });
    if (s === null) throw new DatasetError('the tokenizer has no chat template');
    return s;
  };
  const encode = (s: string): number[] => tok.encode(s, { addSpecialTokens: false });
  let full: string;
  const spans: [number, number][] = [];
  let inputIds: number[];
  let chars: number;
  try {
    full = render(r.messages, false);
    // The rendered conversation is cut as one text (the template may rewrite a message's content, so its messages
    // are not cut one by one). A beginning of the conversation longer than the cut is, cut, the same text as the
    // whole cut, so it has the same ids; where such a turn starts or ends, the window has ended already.
    ({ ids: inputIds, chars } = encodeForWindow(tok, full, maxLength, { addSpecialTokens: false }));
    const encodeBeginning = (s: string): number[] => (s.length > chars ? inputIds : encode(s));
    for (let i = 0; i < r.messages.length; i++) {
      if (r.messages[i].role !== 'assistant') continue;
      const before = render(r.messages.slice(0, i), true);
      // trimEnd strips what /\s+$/ does, in linear time (that regex is quadratic on a long run of spaces).
      const through = render(r.messages.slice(0, i + 1), false).trimEnd();
      if (!full.startsWith(before) || !full.startsWith(through) || through.length <= before.length) {
        return {
          error: `the chat template renders this conversation differently from its beginnings (message ${i}), so the assistant turns cannot be located`,
        };
      }
      const beforeIds = encodeBeginning(before);
      const throughIds = encodeBeginning(through);
      // Where the renderings are not token prefixes of the whole (a merge across a boundary), the token that
      // straddles the boundary belongs to the assistant turn.
      const start = commonPrefix(inputIds, beforeIds);
      const q = commonPrefix(inputIds, throughIds);
      const end = q === throughIds.length ? q : Math.min(q + 1, inputIds.length);
      if (end > start) spans.push([start, end]);
    }
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    return { error: `the chat template failed on this conversation: ${(e as Error).message}` };
  }
  const labels = inputIds.map(() => IGNORE_INDEX);
  for (const [s, e] of spans) for (let t = s; t < e; t++) labels[t] = inputIds[t];
  return { inputIds, labels, cut: chars < full.length };
}
