/**
 * The Method panel: the PEFT method (LoRA), its LoraConfig fields, the training settings, and the live
 * trainable-parameters line PEFT would print for the loaded model.
 */
import { useEffect, useId, useMemo, useState, type ReactNode } from 'react';
import { ALL_LINEAR } from '../../peft/lora-config';
import { LR_SCHEDULES, type LrScheduleKind } from '../../trainer/lr-schedule';
import { useData } from '../stores/data';
import { targetModuleNames, trainableSummary, trainingFieldsError, useMethod, type MethodBias } from '../stores/method';
import { useModel } from '../stores/model';
import './method.css';

/** Other PEFT methods, shown as coming later. */
const LATER_METHODS = ['DoRA', 'AdaLoRA', 'LoHa', 'LoKr', 'IA³', 'Prefix tuning', 'Prompt tuning'];

const SCHEDULE_HELP: Record<LrScheduleKind, string> = {
  constant: 'constant',
  linear: 'linear decay to 0',
  cosine: 'cosine decay to 0',
};

function parseNumber(text: string): number {
  return text.trim() === '' ? Number.NaN : Number(text);
}

function sameNumber(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

interface FieldProps {
  /** The test id's suffix: data-testid="method-<id>". */
  id: string;
  label: ReactNode;
  help: ReactNode;
}

function Help({ id, children }: { id: string; children: ReactNode }) {
  return (
    <span id={id} className="hint method-help">
      {children}
    </span>
  );
}

/**
 * A number input that keeps what the user types (an empty or half-typed number stays on screen) and passes every
 * edit on as a number (NaN for an empty field, which the validation then names).
 */
function NumberField({
  id,
  label,
  help,
  value,
  onChange,
  min,
  max,
  step,
}: FieldProps & { value: number; onChange(value: number): void; min?: number; max?: number; step?: number | 'any' }) {
  const helpId = `${useId()}-help`;
  const [text, setText] = useState(() => (Number.isNaN(value) ? '' : String(value)));
  // A change from elsewhere (the demo preset, a restored run) shows up in the field.
  useEffect(() => {
    setText((t) => (sameNumber(parseNumber(t), value) ? t : Number.isNaN(value) ? '' : String(value)));
  }, [value]);
  const invalid = !sameNumber(parseNumber(text), value) || Number.isNaN(value);
  return (
    <div className="method-field">
      <label>
        {label}
        <input
          type="number"
          data-testid={`method-${id}`}
          value={text}
          min={min}
          max={max}
          step={step}
          aria-invalid={invalid || undefined}
          aria-describedby={helpId}
          onChange={(e) => {
            setText(e.target.value);
            onChange(parseNumber(e.target.value));
          }}
        />
      </label>
      <Help id={helpId}>{help}</Help>
    </div>
  );
}

function SelectField<T extends string>({
  id,
  label,
  help,
  value,
  options,
  onChange,
}: FieldProps & { value: T; options: readonly { value: T; label: string }[]; onChange(value: T): void }) {
  const helpId = `${useId()}-help`;
  return (
    <div className="method-field">
      <label>
        {label}
        <select data-testid={`method-${id}`} value={value} aria-describedby={helpId} onChange={(e) => onChange(e.target.value as T)}>
          {options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      </label>
      <Help id={helpId}>{help}</Help>
    </div>
  );
}

function TargetModules({ names }: { names: readonly string[] | null }) {
  const { target_modules, setTarget, setAllLinear } = useMethod();
  const helpId = `${useId()}-help`;
  const allLinear = target_modules === ALL_LINEAR;
  return (
    <fieldset className="method-targets wide" aria-describedby={helpId}>
      <legend>
        <code>target_modules</code>
      </legend>
      {names === null ? (
        <p className="muted">Load a model to choose which of its linear layers get an adapter.</p>
      ) : (
        <div className="method-target-list">
          <label className="check">
            <input type="checkbox" data-testid="method-target-all-linear" checked={allLinear} onChange={(e) => setAllLinear(e.target.checked, names)} />
            <code>all-linear</code>
          </label>
          {names.map((n) => (
            <label key={n} className="check">
              <input
                type="checkbox"
                data-testid={`method-target-${n}`}
                checked={allLinear || target_modules.includes(n)}
                onChange={(e) => setTarget(n, e.target.checked, names)}
              />
              <code>{n}</code>
            </label>
          ))}
        </div>
      )}
      <Help id={helpId}>
        Which linear layers get a LoRA adapter, matched by the last part of their module name. <code>all-linear</code> adapts every
        linear layer except the output layer. PEFT's default for this architecture is pre-selected.
      </Help>
    </fieldset>
  );
}

function LoraFieldset({ names }: { names: readonly string[] | null }) {
  const { r, lora_alpha, lora_dropout, use_rslora, bias, setLora } = useMethod();
  const rsloraHelp = `${useId()}-help`;
  return (
    <fieldset className="method-group">
      <legend>LoRA (PEFT LoraConfig)</legend>
      <div className="field-grid">
        <NumberField
          id="r"
          label={
            <span>
              Rank <code>r</code>
            </span>
          }
          help="Rank of the update B·A added to each adapted weight. Higher = more capacity and more trainable parameters."
          value={r}
          min={1}
          step={1}
          onChange={(v) => setLora({ r: v })}
        />
        <NumberField
          id="alpha"
          label={<code>lora_alpha</code>}
          help={
            <>
              Scales the update by <code>lora_alpha / r</code> (<code>lora_alpha / √r</code> with rsLoRA).
            </>
          }
          value={lora_alpha}
          min={0}
          step="any"
          onChange={(v) => setLora({ lora_alpha: v })}
        />
        <NumberField
          id="dropout"
          label={<code>lora_dropout</code>}
          help="Dropout probability on the input of the LoRA path while training (0 = none)."
          value={lora_dropout}
          min={0}
          max={1}
          step={0.05}
          onChange={(v) => setLora({ lora_dropout: v })}
        />
        <SelectField<MethodBias>
          id="bias"
          label={<code>bias</code>}
          help="Which biases train along with the adapter: none, or the biases of the adapted layers."
          value={bias}
          options={[
            { value: 'none', label: 'none' },
            { value: 'lora_only', label: 'lora_only' },
          ]}
          onChange={(v) => setLora({ bias: v })}
        />
        <div className="method-field wide">
          <label className="check">
            <input type="checkbox" data-testid="method-rslora" checked={use_rslora} aria-describedby={rsloraHelp} onChange={(e) => setLora({ use_rslora: e.target.checked })} />
            <code>use_rslora</code>
          </label>
          <Help id={rsloraHelp}>
            Rank-stabilized LoRA: scale by <code>lora_alpha / √r</code> instead of <code>lora_alpha / r</code>, which keeps higher ranks
            learning.
          </Help>
        </div>
        <TargetModules names={names} />
      </div>
    </fieldset>
  );
}

function TrainingFieldset() {
  const m = useMethod();
  const maxLength = useData((s) => s.maxLength);
  const setMaxLength = useData((s) => s.setMaxLength);
  return (
    <fieldset className="method-group">
      <legend>Training</legend>
      <div className="field-grid">
        <NumberField id="lr" label="Learning rate" help="Peak learning rate of AdamW." value={m.lr} min={0} step="any" onChange={(v) => m.setTraining({ lr: v })} />
        <SelectField<LrScheduleKind>
          id="schedule"
          label="Schedule"
          help="How the learning rate changes after warmup (as transformers' schedules)."
          value={m.schedule}
          options={LR_SCHEDULES.map((s) => ({ value: s, label: SCHEDULE_HELP[s] }))}
          onChange={(v) => m.setTraining({ schedule: v })}
        />
        <NumberField
          id="warmup"
          label="Warmup steps"
          help="Steps over which the learning rate rises from 0 to its peak."
          value={m.warmupSteps}
          min={0}
          step={1}
          onChange={(v) => m.setTraining({ warmupSteps: v })}
        />
        <NumberField
          id="steps"
          label="Max steps"
          help="Optimizer steps to train; 0 = train for the number of epochs."
          value={m.maxSteps}
          min={0}
          step={1}
          onChange={(v) => m.setTraining({ maxSteps: v })}
        />
        <NumberField
          id="epochs"
          label="Epochs"
          help="Passes over the training examples; used when max steps is 0."
          value={m.epochs}
          min={0}
          step="any"
          onChange={(v) => m.setTraining({ epochs: v })}
        />
        <NumberField id="batch" label="Batch size" help="Examples per micro-batch." value={m.batchSize} min={1} step={1} onChange={(v) => m.setTraining({ batchSize: v })} />
        <NumberField
          id="grad-accum"
          label="Gradient accumulation"
          help="Micro-batches per optimizer step (effective batch = batch size × this)."
          value={m.gradAccum}
          min={1}
          step={1}
          onChange={(v) => m.setTraining({ gradAccum: v })}
        />
        <NumberField
          id="seq"
          label="Sequence length (tokens)"
          help="Examples are cut to this many tokens (also in the Data panel)."
          value={maxLength}
          min={2}
          max={4096}
          step={1}
          onChange={(v) => setMaxLength(v)}
        />
        <NumberField
          id="seed"
          label="Seed"
          help="Seeds the adapter's initialisation, the data order, dropout and the validation split."
          value={m.seed}
          min={0}
          step={1}
          onChange={(v) => m.setTraining({ seed: v })}
        />
        <NumberField
          id="val-split"
          label="Validation split"
          help="Fraction of the examples held out to measure the validation loss (0 = none)."
          value={m.valSplit}
          min={0}
          max={0.9}
          step={0.05}
          onChange={(v) => m.setTraining({ valSplit: v })}
        />
        <NumberField
          id="eval-every"
          label="Evaluate every (steps)"
          help="Compute the validation loss every N steps (0 = only at the end)."
          value={m.evalEvery}
          min={0}
          step={1}
          onChange={(v) => m.setTraining({ evalEvery: v })}
        />
        <NumberField
          id="checkpoint-every"
          label="Checkpoint every (steps)"
          help="Save the adapter and optimizer state in browser storage every N steps, to resume after a reload (0 = never)."
          value={m.checkpointEvery}
          min={0}
          step={1}
          onChange={(v) => m.setTraining({ checkpointEvery: v })}
        />
      </div>
    </fieldset>
  );
}

export function MethodPanel() {
  const method = useMethod();
  const status = useModel((s) => s.status);
  const info = status.state === 'ready' ? status.info : null;
  const names = useMemo(() => (info ? targetModuleNames(info.config) : null), [info]);
  const { r, lora_alpha, lora_dropout, target_modules, use_rslora, bias } = method;
  const summary = useMemo(
    () => (info ? trainableSummary({ r, lora_alpha, lora_dropout, target_modules, use_rslora, bias }, info) : null),
    [info, r, lora_alpha, lora_dropout, target_modules, use_rslora, bias],
  );
  const trainingError = trainingFieldsError(method);
  const errors = [summary && 'error' in summary ? summary.error : null, trainingError].filter((e): e is string => e !== null);
  const methodHelp = `${useId()}-help`;
  return (
    <section className="card panel" data-testid="panel-method" aria-labelledby="method-title">
      <header className="card-header">
        <h2 id="method-title">Method</h2>
        <span className={`status ${errors.length > 0 ? 'status-bad' : 'status-ok'}`} data-testid="method-status" data-state={errors.length > 0 ? 'error' : 'ready'}>
          {errors.length > 0 ? 'invalid' : 'LoRA'}
        </span>
      </header>
      <div className="row">
        <div className="method-field">
          <label>
            PEFT method
            <select data-testid="method-kind" value="lora" aria-describedby={methodHelp} onChange={() => undefined}>
              <option value="lora">LoRA</option>
              {LATER_METHODS.map((name) => (
                <option key={name} value={name} disabled>
                  {name} (coming later)
                </option>
              ))}
            </select>
          </label>
          <Help id={methodHelp}>Low-rank adapters on the linear layers; the base weights stay frozen.</Help>
        </div>
        <div className="method-field">
          <button type="button" className="secondary" data-testid="method-preset-demo" onClick={method.applyDemoPreset}>
            Quick demo for the embedded model
          </button>
          <span className="hint method-help">r 8, alpha 16, all linear layers, lr 5e-3 constant, 30 steps of batch 8.</span>
        </div>
      </div>
      <LoraFieldset names={names} />
      <TrainingFieldset />
      {summary && 'line' in summary && (
        <p className="method-trainable" data-testid="method-trainable-line" aria-live="polite">
          <code>{summary.line}</code>
        </p>
      )}
      {!info && <p className="muted">Load a model to see how many parameters the adapter trains.</p>}
      {errors.length > 0 && (
        <p className="error" role="alert" data-testid="method-error">
          {errors.join('\n')}
        </p>
      )}
    </section>
  );
}
