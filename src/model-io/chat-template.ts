/**
 * The chat template of tokenizer_config.json ("chat_template": a Jinja string, or a list of {name, template}),
 * parsed when the tokenizer loads and rendered with limits.
 *
 * @xenova/transformers would parse it at the first render and run it unbounded: a syntax error surfaced while a
 * dataset was tokenized as "Unexpected end of input", and `{% for i in range(100000000) %}` froze the page. Here a
 * parse error is refused at load, and rendering uses @huggingface/jinja's Interpreter directly (the same lexer
 * options and globals as its Template.render, so output is identical) with:
 * - a `range` that refuses more than MAX_RANGE numbers or a zero step (the library's loops forever on step 0);
 * - a count of loop iterations: a marker statement put at the head of every for-loop body counts each iteration;
 * - a count of evaluated nodes, a cap on every string and array value, and a budget for all strings produced, so
 *   no expression can grow output (e.g. `{% set s = s + s %}` in a loop) past a few MB.
 */
import { Interpreter, Environment, parse, tokenize } from '@huggingface/jinja';
import { TokenizerError } from './tokenizer-error';

export const TEMPLATE_LIMITS = {
  // The interpreter spends tens of µs on a loop iteration (it allocates a dozen Maps for `loop` and the values), so
  // these keep a render well under a second; real templates loop over a conversation's messages.
  /** for-loop iterations in one render, over all loops. */
  loopIterations: 10_000,
  /** Numbers one range() call may produce. */
  range: 10_000,
  /** Template nodes evaluated in one render. */
  steps: 200_000,
  /** Characters of any string value, the rendered output included. */
  outputChars: 4_000_000,
  /** Characters of all string values produced in one render (intermediate concatenations included). */
  producedChars: 64_000_000,
  /** Elements of any array value. */
  arrayItems: 100_000,
};

type Program = ReturnType<typeof parse>;
type Node = Parameters<Interpreter['evaluate']>[0];
type Value = ReturnType<Interpreter['evaluate']>;

const FIELD = 'tokenizer_config.json: chat_template';
const LOOP_TICK = 'PeftStudioLoopTick';

/** Raised by the template's own raise_exception(...). */
class TemplateRaised extends Error {}
/** A render that ran past TEMPLATE_LIMITS. */
class TemplateLimit extends Error {}

export interface ChatTemplate {
  /** Renders with `context` (messages, add_generation_prompt, special tokens). Throws TokenizerError. */
  render(context: Record<string, unknown>): string;
}

/**
 * Parses tokenizer_config.json's chat_template; null where there is none. A list of named templates must have one
 * named "default" (the one rendered, as transformers does); every template in it is parsed.
 */
export function parseChatTemplate(value: unknown): ChatTemplate | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return compile(value, FIELD);
  if (!Array.isArray(value)) {
    throw new TokenizerError(`${FIELD}: expected a template string or a list of {"name", "template"}, got ${typeof value}`);
  }
  let chosen: ChatTemplate | null = null;
  value.forEach((entry: unknown, i: number) => {
    const e = entry as { name?: unknown; template?: unknown } | null;
    if (typeof e !== 'object' || e === null || typeof e.name !== 'string' || typeof e.template !== 'string') {
      throw new TokenizerError(`${FIELD}[${i}]: expected an object with "name" and "template" strings`);
    }
    const t = compile(e.template, `${FIELD}[${i}] ("${e.name}")`);
    if (e.name === 'default') chosen = t;
  });
  if (chosen === null) {
    const names = value.map((e) => JSON.stringify((e as { name: string }).name)).join(', ');
    throw new TokenizerError(`${FIELD}: a list of templates (${names}) without one named "default", so none can be chosen`);
  }
  return chosen;
}

function compile(source: string, where: string): ChatTemplate {
  let program: Program;
  try {
    // Template's constructor in @huggingface/jinja lexes with these options; rendering must match it.
    program = parse(tokenize(source, { lstrip_blocks: true, trim_blocks: true }));
  } catch (e) {
    // The parser runs off the end of its token list with a TypeError where a block or call is left open.
    const message = e instanceof TypeError ? 'unexpected end of the template (a {% for %} or {% if %} block without its end tag, or an unclosed call?)' : (e as Error).message;
    throw new TokenizerError(`${where}: the template does not parse: ${message}`);
  }
  addLoopTicks(program.body as Node[]);
  return { render: (context) => render(program, context, where) };
}

/** Puts a LOOP_TICK marker at the head of every for-loop body (statements nest only in If and For bodies). */
function addLoopTicks(statements: Node[]): void {
  for (const s of statements) {
    const node = s as { type: string; body?: Node[]; alternate?: Node[] };
    if (node.type === 'For' && node.body) {
      addLoopTicks(node.body);
      node.body.unshift({ type: LOOP_TICK } as Node);
    } else if (node.type === 'If') {
      addLoopTicks(node.body ?? []);
      addLoopTicks(node.alternate ?? []);
    }
  }
}

class LimitedInterpreter extends Interpreter {
  private loops = 0;
  private steps = 0;
  private produced = 0;

  override evaluate(statement: Node, environment: Environment): Value {
    if (statement?.type === LOOP_TICK) {
      if (++this.loops > TEMPLATE_LIMITS.loopIterations) {
        throw new TemplateLimit(`its loops ran more than ${TEMPLATE_LIMITS.loopIterations} iterations`);
      }
      // An undefined value: evaluateBlock appends nothing for it.
      return super.evaluate(undefined, environment);
    }
    if (++this.steps > TEMPLATE_LIMITS.steps) throw new TemplateLimit(`it evaluated more than ${TEMPLATE_LIMITS.steps} expressions`);
    const value = super.evaluate(statement, environment);
    if (value.type === 'StringValue') {
      const n = (value.value as string).length;
      if (n > TEMPLATE_LIMITS.outputChars) throw new TemplateLimit(`it built a string of more than ${TEMPLATE_LIMITS.outputChars} characters`);
      this.produced += n;
      if (this.produced > TEMPLATE_LIMITS.producedChars) {
        throw new TemplateLimit(`it produced more than ${TEMPLATE_LIMITS.producedChars} characters of strings`);
      }
    } else if (Array.isArray(value.value) && value.value.length > TEMPLATE_LIMITS.arrayItems) {
      throw new TemplateLimit(`it built a list of more than ${TEMPLATE_LIMITS.arrayItems} items`);
    }
    return value;
  }
}

/** Python's range(stop) / range(start, stop[, step]), refusing a zero step and more than TEMPLATE_LIMITS.range numbers. */
function limitedRange(start: unknown, stop?: unknown, step: unknown = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  for (const v of [start, stop, step]) {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`range() expects integers, got ${JSON.stringify(v)}`);
  }
  const [a, b, s] = [start as number, stop as number, step as number];
  if (s === 0) throw new Error('range() step must not be zero');
  const count = Math.max(0, Math.ceil((b - a) / s));
  if (count > TEMPLATE_LIMITS.range) throw new TemplateLimit(`range() of ${count} numbers exceeds the limit of ${TEMPLATE_LIMITS.range}`);
  return Array.from({ length: count }, (_, i) => a + i * s);
}

function render(program: Program, context: Record<string, unknown>, where: string): string {
  // The globals of @huggingface/jinja's Template.render, with range and raise_exception replaced.
  const env = new Environment();
  env.set('false', false);
  env.set('true', true);
  env.set('raise_exception', (message: unknown) => {
    throw new TemplateRaised(String(message));
  });
  env.set('range', limitedRange);
  for (const [key, value] of Object.entries(context)) env.set(key, value);
  let out: Value;
  try {
    out = new LimitedInterpreter(env).run(program);
  } catch (e) {
    if (e instanceof TemplateRaised) throw new TokenizerError(`${where}: the template raised an exception: ${e.message}`);
    if (e instanceof TemplateLimit) throw new TokenizerError(`${where}: rendering stopped because ${e.message}`);
    // RangeError (a string or the stack too large) and the interpreter's own errors.
    throw new TokenizerError(`${where}: rendering failed: ${(e as Error).message}`);
  }
  if (typeof out.value !== 'string') throw new TokenizerError(`${where}: the template did not render a string`);
  return out.value;
}
