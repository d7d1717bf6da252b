/**
 * P-tuning on the GPU (PEFT's P_TUNING, PromptEncoder): n trainable embeddings [n, d] run through an encoder — an
 * MLP (Linear(d, h), ReLU, Linear(h, h), ReLU, Linear(h, d)), or a bidirectional LSTM followed by Linear(2h, 2h),
 * ReLU, Linear(2h, d) — whose output is the virtual tokens. The encoder runs once per pass (beginPass), its
 * backward after the model's (endBackward); every weight trains. PEFT saves only the encoder's output, as
 * prompt_embeddings.
 *
 * Parameter names are PEFT's module paths: prompt_encoder.embedding.weight, prompt_encoder.mlp_head.{0,2,4}.*,
 * prompt_encoder.lstm_head.weight_ih_l{k}[_reverse], ….
 */
import type { GpuContext } from '../../gpu/device';
import { ShapeError } from '../../gpu/errors';
import { encodeBiLstmBackward, encodeBiLstmForward, type BiLstmLayerParams, type BiLstmSaved } from '../../kernels/lstm-stack';
import type { GpuTensor } from '../../kernels/tensor';
import type { GpuAdapter, PassContext, TrainableTensor, VirtualTokensHook } from '../../engine/method-hooks';
import { GpuMlp, type LinearInit, type MlpSaved } from '../shared/gpu-mlp';
import { PerPass } from '../shared/per-pass';
import { trainableTensor } from '../shared/trainable';

export const P_TUNING_EMBEDDING_PARAM = 'prompt_encoder.embedding.weight';

/** One LSTM direction's initial weights, PyTorch's layout. */
export interface LstmDirectionInit {
  wIh: Float32Array; // [4h, in]
  wHh: Float32Array; // [4h, h]
  bIh: Float32Array; // [4h]
  bHh: Float32Array; // [4h]
}

export interface PTuningInit {
  /** [n, d] */
  embedding: Float32Array;
  /** The MLP encoder's layers, or the LSTM encoder's head. */
  head: LinearInit[];
  /** The LSTM encoder: per layer, both directions; null for the MLP encoder. */
  lstm: { hidden: number; dropout: number; layers: { forward: LstmDirectionInit; reverse: LstmDirectionInit }[] } | null;
}

interface PassState {
  out: GpuTensor;
  head: MlpSaved;
  lstm: { out: GpuTensor; saved: BiLstmSaved } | null;
  dOut?: GpuTensor;
}

type LstmTrainable = { forward: Record<keyof LstmDirectionInit, TrainableTensor>; reverse: Record<keyof LstmDirectionInit, TrainableTensor> };

export class GpuPTuning implements GpuAdapter {
  readonly virtualTokens: VirtualTokensHook;
  private readonly embedding: TrainableTensor;
  private readonly head: GpuMlp;
  private readonly lstm: { hidden: number; dropout: number; layers: LstmTrainable[] } | null;
  private readonly passes = new PerPass<PassState>();

  constructor(
    readonly gpu: GpuContext,
    hiddenSize: number,
    init: PTuningInit,
  ) {
    const d = hiddenSize;
    if (init.embedding.length === 0 || init.embedding.length % d !== 0) {
      throw new ShapeError(`P-tuning: the embedding has ${init.embedding.length} values, expected num_virtual_tokens × ${d}`);
    }
    const n = init.embedding.length / d;
    const device = gpu.device;
    this.embedding = trainableTensor(device, init.embedding, [n, d], P_TUNING_EMBEDDING_PARAM);
    this.head = new GpuMlp(device, init.head, 'relu');
    if (this.head.outFeatures !== d) throw new ShapeError(`P-tuning: the encoder's last layer gives ${this.head.outFeatures} features, expected ${d}`);
    this.lstm = init.lstm && {
      hidden: init.lstm.hidden,
      dropout: init.lstm.dropout,
      layers: init.lstm.layers.map((l, k) => {
        const direction = (w: LstmDirectionInit, suffix: string) => {
          const h = init.lstm!.hidden;
          const t = (name: string, data: Float32Array, shape: [number, number]) => trainableTensor(device, data, shape, `prompt_encoder.lstm_head.${name}_l${k}${suffix}`);
          return {
            wIh: t('weight_ih', w.wIh, [4 * h, w.wIh.length / (4 * h)]),
            wHh: t('weight_hh', w.wHh, [4 * h, h]),
            bIh: t('bias_ih', w.bIh, [4 * h, 1]),
            bHh: t('bias_hh', w.bHh, [4 * h, 1]),
          };
        };
        return { forward: direction(l.forward, ''), reverse: direction(l.reverse, '_reverse') };
      }),
    };
    this.virtualTokens = {
      count: n,
      forward: (ctx) => this.passes.get(ctx).out,
      backward: (ctx, g) => {
        this.passes.get(ctx).dOut = g;
      },
    };
  }

  /** The LSTM's values (or gradients) as the stack kernels take them: biases [4h]. */
  private lstmParams(which: 'value' | 'grad'): BiLstmLayerParams[] {
    const flat = (t: TrainableTensor) => ({ ...t[which], shape: [t[which].shape[0]] });
    return this.lstm!.layers.map((l) => ({
      forward: { wIh: l.forward.wIh[which], wHh: l.forward.wHh[which], bIh: flat(l.forward.bIh), bHh: flat(l.forward.bHh) },
      reverse: { wIh: l.reverse.wIh[which], wHh: l.reverse.wHh[which], bIh: flat(l.reverse.bIh), bHh: flat(l.reverse.bHh) },
    }));
  }

  /** Dropout between the LSTM's layers, in training only. */
  private lstmDropout(ctx: PassContext) {
    return this.lstm && this.lstm.dropout > 0 && ctx.dropoutSeed !== null ? { p: this.lstm.dropout, seed: ctx.dropoutSeed } : null;
  }

  beginPass(ctx: PassContext): void {
    const x = this.embedding.value;
    let lstm: PassState['lstm'] = null;
    if (this.lstm) {
      const out = ctx.tensor([x.shape[0], 2 * this.lstm.hidden], 'P-tuning LSTM output');
      const saved = encodeBiLstmForward(ctx.rec, { x, layers: this.lstmParams('value'), dropout: this.lstmDropout(ctx), out, alloc: (s, name) => ctx.tensor(s, name) });
      lstm = { out, saved };
    }
    const { y, saved } = this.head.forward(ctx, lstm ? lstm.out : x, 'P-tuning head');
    this.passes.set(ctx, { out: y, head: saved, lstm });
  }

  endBackward(ctx: PassContext): void {
    const s = this.passes.get(ctx);
    if (!s.dOut) return;
    const accumulate = ctx.accumulateGrads;
    if (!s.lstm) {
      this.head.backward(ctx, s.head, s.dOut, { accumulate, dx: this.embedding.grad, accumulateDx: accumulate, name: 'P-tuning head' });
      return;
    }
    const dLstm = ctx.tensor(s.lstm.out.shape, 'P-tuning d LSTM output');
    this.head.backward(ctx, s.head, s.dOut, { accumulate, dx: dLstm, name: 'P-tuning head' });
    encodeBiLstmBackward(ctx.rec, {
      layers: this.lstmParams('value'), dropout: this.lstmDropout(ctx), saved: s.lstm.saved, dOut: dLstm,
      grads: this.lstmParams('grad'), accumulate, dx: this.embedding.grad, accumulateDx: accumulate,
    });
  }

  parameters(): TrainableTensor[] {
    const lstm = (this.lstm?.layers ?? []).flatMap((l) =>
      [l.forward, l.reverse].flatMap((d) => [d.wIh, d.wHh, d.bIh, d.bHh].map((t) => (t.value.shape[1] === 1 ? { ...t, value: { ...t.value, shape: [t.value.shape[0]] }, grad: { ...t.grad, shape: [t.grad.shape[0]] } } : t))),
    );
    return [this.embedding, ...lstm, ...this.head.parameters()];
  }

  /** The encoder's output of this pass (what PEFT saves as prompt_embeddings when taken in eval mode). */
  output(ctx: PassContext): GpuTensor {
    return this.passes.get(ctx).out;
  }

  destroy(): void {
    for (const t of [this.embedding, ...(this.lstm?.layers ?? []).flatMap((l) => [l.forward, l.reverse].flatMap((d) => Object.values(d)))]) {
      t.value.buffer.destroy();
      t.grad.buffer.destroy();
    }
    this.head.destroy();
  }
}
