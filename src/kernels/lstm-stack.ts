/**
 * torch.nn.LSTM(input_size, hidden_size, num_layers, dropout, bidirectional=True, batch_first=True) over one
 * sequence (batch 1) with zero initial states, as P-tuning's PromptEncoder runs it, forward and backward, from
 * the one-direction kernels of lstm.ts (reference: biLstmRef / biLstmBackwardRef in reference/lstm.ts).
 * - Layer k reads [n, in_k] (in_0 = input_size, later 2h) and writes [n, 2h] = [h_fwd_t ; h_rev_t]: both
 *   directions write their half of the rows in place, so no copies are needed.
 * - Dropout (training only) on the input of every layer after the first: mask of element i of layer k's input
 *   is dropoutFactor(streamSeed(seed, k), i, p) (dropout-mask.ts), recomputed in the backward from the seed.
 * Saved tensors come from the caller's `alloc` (ActivationPool.tensor fits), temporaries from the recorder's
 * scratch buffers.
 */
import { ShapeError } from '../gpu/errors';
import { CommandRecorder } from './dispatch';
import { streamSeed } from './dropout-mask';
import { type DropoutSpec } from './linear';
import { encodeLstmDirectionBackward, encodeLstmDirectionForward, type LstmDirectionParams, type LstmDirectionSaved } from './lstm';
import { encodeElementwise } from './plain-ops';
import { expectShape, formatShape, type GpuTensor } from './tensor';

export interface BiLstmLayerParams {
  forward: LstmDirectionParams;
  reverse: LstmDirectionParams;
}

/** Makes an f32 tensor that must live from the forward to the backward. */
export type TensorAlloc = (shape: readonly number[], name: string) => GpuTensor;

export interface BiLstmLayerSaved {
  /** [n, in_k]: the layer's input after dropout (layer 0: the caller's x) */
  input: GpuTensor;
  /** [n, 2h]: the layer's output (the last layer: the caller's out) */
  output: GpuTensor;
  forward: LstmDirectionSaved;
  reverse: LstmDirectionSaved;
}

export interface BiLstmSaved {
  layers: BiLstmLayerSaved[];
}

export interface BiLstmForwardArgs {
  /** [n, input_size] */
  x: GpuTensor;
  /** One entry per layer; layer 0's weight_ih is [4h, input_size], later ones [4h, 2h]. */
  layers: readonly BiLstmLayerParams[];
  /** Dropout between layers; absent or null outside training. */
  dropout?: DropoutSpec | null;
  /** [n, 2h] */
  out: GpuTensor;
  alloc: TensorAlloc;
}

export interface BiLstmBackwardArgs {
  layers: readonly BiLstmLayerParams[];
  /** As in the forward. */
  dropout?: DropoutSpec | null;
  saved: BiLstmSaved;
  /** [n, 2h]: dL/d(out) */
  dOut: GpuTensor;
  /** Gradients, same shapes as `layers`; overwritten, or added to when accumulate. */
  grads: readonly BiLstmLayerParams[];
  accumulate?: boolean;
  /** [n, input_size]: dL/dx; null when x needs no gradient. */
  dx: GpuTensor | null;
  accumulateDx?: boolean;
}

/** n, h and each layer's input width, checked against the layer weights. */
function stackShape(kernel: string, layers: readonly BiLstmLayerParams[], x: GpuTensor | null, n: number): { h: number; inputs: number[] } {
  if (layers.length < 1) throw new ShapeError(`${kernel}: at least one layer is needed`);
  const h = layers[0].forward.wHh.shape[1] ?? 0;
  const inputs = layers.map((l, k) => {
    const width = k === 0 ? (l.forward.wIh.shape[1] ?? 0) : 2 * h;
    for (const dir of ['forward', 'reverse'] as const) {
      const p = l[dir];
      const where = `layer ${k} ${dir}`;
      expectShape(kernel, `${where} weight_ih`, p.wIh, [4 * h, width], k === 0 ? '[4h, input_size]' : '[4h, 2h]');
      expectShape(kernel, `${where} weight_hh`, p.wHh, [4 * h, h], '[4h, h]');
      expectShape(kernel, `${where} bias_ih`, p.bIh, [4 * h], '[4h]');
      expectShape(kernel, `${where} bias_hh`, p.bHh, [4 * h], '[4h]');
    }
    return width;
  });
  if (x) expectShape(kernel, 'x', x, [n, inputs[0]], '[n, input_size]');
  return { h, inputs };
}

function rowsOf(kernel: string, role: string, t: GpuTensor): number {
  const n = t.shape[0] ?? 0;
  if (t.shape.length !== 2 || n < 1) throw new ShapeError(`${kernel}: tensor "${t.name}" (${role}) must be 2-D with n ≥ 1 rows, got ${formatShape(t.shape)}`);
  return n;
}

function hasDropout(kernel: string, d: DropoutSpec | null | undefined): d is DropoutSpec {
  if (d && !(d.p >= 0 && d.p < 1)) throw new RangeError(`${kernel}: dropout must be in [0, 1), got ${d.p}`);
  return Boolean(d && d.p > 0);
}

function layerDropout(d: DropoutSpec, k: number): DropoutSpec {
  return { p: d.p, seed: streamSeed(d.seed, k) };
}

function scratchTensor(rec: CommandRecorder, shape: readonly number[], name: string): GpuTensor {
  return { buffer: rec.scratch(shape[0] * shape[1] * 4, name), shape, name };
}

function savedDirection(alloc: TensorAlloc, n: number, h: number, name: string): LstmDirectionSaved {
  return { gates: alloc([n, 4 * h], `${name} gates`), cell: alloc([n, h], `${name} cell`), hPrev: alloc([n, h], `${name} hPrev`) };
}

export function encodeBiLstmForward(rec: CommandRecorder, args: BiLstmForwardArgs): BiLstmSaved {
  const kernel = 'bidirectional lstm';
  const n = rowsOf(kernel, 'x', args.x);
  const { h } = stackShape(kernel, args.layers, args.x, n);
  expectShape(kernel, 'out', args.out, [n, 2 * h], '[n, 2h]');
  const xProj = scratchTensor(rec, [n, 4 * h], 'lstm xProj');
  const saved: BiLstmSaved = { layers: [] };
  let prev = args.x;
  args.layers.forEach((layer, k) => {
    let input = prev;
    if (k > 0 && hasDropout(kernel, args.dropout)) {
      input = args.alloc([n, 2 * h], `lstm layer ${k} input`);
      encodeElementwise(rec, { a: prev, dropout: layerDropout(args.dropout, k), out: input });
    }
    const last = k === args.layers.length - 1;
    const output = last ? args.out : args.alloc([n, 2 * h], `lstm layer ${k} output`);
    const s: BiLstmLayerSaved = {
      input, output, forward: savedDirection(args.alloc, n, h, `lstm l${k}`), reverse: savedDirection(args.alloc, n, h, `lstm l${k} reverse`),
    };
    encodeLstmDirectionForward(rec, { x: input, params: layer.forward, reverse: false, xProj, out: output, outOffset: 0, saved: s.forward });
    encodeLstmDirectionForward(rec, { x: input, params: layer.reverse, reverse: true, xProj, out: output, outOffset: h, saved: s.reverse });
    saved.layers.push(s);
    prev = output;
  });
  return saved;
}

export function encodeBiLstmBackward(rec: CommandRecorder, args: BiLstmBackwardArgs): void {
  const kernel = 'bidirectional lstm backward';
  const n = rowsOf(kernel, 'dOut', args.dOut);
  const { h, inputs } = stackShape(kernel, args.layers, null, n);
  expectShape(kernel, 'dOut', args.dOut, [n, 2 * h], '[n, 2h]');
  if (args.saved.layers.length !== args.layers.length || args.grads.length !== args.layers.length) {
    throw new ShapeError(
      `${kernel}: ${args.layers.length} layers, but ${args.saved.layers.length} saved by the forward and ${args.grads.length} gradient sets`,
    );
  }
  if (args.dx) expectShape(kernel, 'dx', args.dx, [n, inputs[0]], '[n, input_size]');
  const dGates = scratchTensor(rec, [n, 4 * h], 'lstm dGates');
  let dOut = args.dOut;
  for (let k = args.layers.length - 1; k >= 0; k--) {
    const layer = args.layers[k];
    const s = args.saved.layers[k];
    // d(layer input): the caller's dx for layer 0, else a temporary that becomes the previous layer's dOut.
    const dIn = k === 0 ? args.dx : scratchTensor(rec, [n, 2 * h], `lstm layer ${k} d input`);
    const common = { x: s.input, dOut, dGates, accumulate: args.accumulate, dx: dIn };
    encodeLstmDirectionBackward(rec, {
      ...common, params: layer.forward, reverse: false, saved: s.forward, dOutOffset: 0, grads: args.grads[k].forward,
      accumulateDx: k === 0 ? args.accumulateDx : false,
    });
    encodeLstmDirectionBackward(rec, {
      ...common, params: layer.reverse, reverse: true, saved: s.reverse, dOutOffset: h, grads: args.grads[k].reverse, accumulateDx: true,
    });
    if (k > 0 && dIn) {
      if (hasDropout(kernel, args.dropout)) {
        dOut = scratchTensor(rec, [n, 2 * h], `lstm layer ${k - 1} d output`);
        encodeElementwise(rec, { a: dIn, dropout: layerDropout(args.dropout, k), out: dOut });
      } else {
        dOut = dIn;
      }
    }
  }
}
