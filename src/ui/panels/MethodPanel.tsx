/**
 * The Method panel: the PEFT method (every method of src/methods/registry.ts), its options (LoRA's LoraConfig
 * fields, or another method's PEFT config fields), the training settings, and the live trainable-parameters line
 * PEFT would print for the loaded model. Every field is rendered from the option schema (src/options): its label,
 * help, bounds and the test id data-testid="method-<CLI flag>". The panel's own text is the catalog's `method`
 * namespace; the schema's labels and help come through useFieldText (English from the schema, Chinese from the
 * catalog's `fields`). The trainable-parameters line is PEFT's output and stays as PEFT prints it.
 */
import { useEffect, useId, useMemo, useState, type ReactNode } from 'react';
import type { MethodId } from '../../methods/method';
import type { ModelConfig } from '../../model/config';
import { availableMethods, methodById } from '../../methods/registry';
import { ALL_LINEAR } from '../../peft/lora-config';
import { fieldApplies, pickFields, type Field, type FieldSet, type TargetsField } from '../../options/field';
import { useFieldText } from '../i18n/field-text';
import { useLocale, useT } from '../i18n';
import { LORA_FIELDS } from '../../options/lora-fields';
import { RUN_FIELDS } from '../../options/run-fields';
import { TRAINING_FIELDS } from '../../options/training-fields';
import { useData } from '../stores/data';
import {
  DEMO_PRESETS,
  demoPresetText,
  methodSpec,
  targetModuleNames,
  trainableSummary,
  trainingFieldsError,
  useMethod,
  type DemoPresetId,
  type MethodFields,
  type OtherMethodId,
} from '../stores/method';
import { useModel } from '../stores/model';
import { Rich } from '../Rich';
import './method.css';

/** Other PEFT methods, shown as coming later (DoRA, LoRA+ and rsLoRA are LoRA options): their names. */
const LATER_METHODS: ReadonlyArray<{ name: string }> = [
  { name: 'AdaLoRA' },
  { name: 'LoHa' },
  { name: 'LoKr' },
];

/** The quick-demo buttons: data-testid="method-preset-demo" (LoRA) and "method-preset-demo-<method id>". */
const DEMO_BUTTONS: ReadonlyArray<{ id: DemoPresetId; testId: string; label: 'demoLora' | 'demoPromptTuning' }> = [
  { id: 'lora', testId: 'method-preset-demo', label: 'demoLora' },
  { id: 'prompt-tuning', testId: 'method-preset-demo-prompt-tuning', label: 'demoPromptTuning' },
];

/** The run options the Method panel shows (W0's format is chosen in the Model panel, bad records in the Data panel). */
const PANEL_RUN_FIELDS = pickFields(RUN_FIELDS, ['maxLength', 'valSplit']);

/** A number field's text as a value: `empty` (NaN, or null for a derived size) when blank. */
function parseNumber(text: string, empty: number | null = Number.NaN): number | null {
  return text.trim() === '' ? empty : Number(text);
}

function sameNumber(a: number | null, b: number | null): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

function numberText(value: number | null): string {
  return value === null || Number.isNaN(value) ? '' : String(value);
}

interface FieldProps {
  /** The test id's suffix: data-testid="method-<id>". */
  id: string;
  label: ReactNode;
  help: ReactNode;
  /** The option does not matter with the other options' values (FieldBase.onlyWhen). */
  disabled?: boolean;
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
 * edit on as a number: NaN for an empty field, which the validation then names — or, for a size derived from the
 * model (`empty` null), null, the placeholder naming what it is derived from.
 */
function NumberField({
  id,
  label,
  help,
  disabled,
  value,
  onChange,
  min,
  max,
  step,
  empty = Number.NaN,
  placeholder,
}: FieldProps & {
  value: number | null;
  onChange(value: number | null): void;
  min?: number;
  max?: number;
  step?: number | 'any';
  empty?: number | null;
  placeholder?: string;
}) {
  const helpId = `${useId()}-help`;
  const [text, setText] = useState(() => numberText(value));
  // A change from elsewhere (the demo preset, a restored run) shows up in the field.
  useEffect(() => {
    setText((t) => (sameNumber(parseNumber(t, empty), value) ? t : numberText(value)));
  }, [value, empty]);
  const invalid = !sameNumber(parseNumber(text, empty), value) || Number.isNaN(value);
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
          placeholder={placeholder}
          disabled={disabled}
          aria-invalid={invalid || undefined}
          aria-describedby={helpId}
          onChange={(e) => {
            setText(e.target.value);
            onChange(parseNumber(e.target.value, empty));
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
  disabled,
  value,
  options,
  onChange,
}: FieldProps & { value: T; options: readonly { value: T; label: string }[]; onChange(value: T): void }) {
  const helpId = `${useId()}-help`;
  return (
    <div className="method-field">
      <label>
        {label}
        <select data-testid={`method-${id}`} value={value} disabled={disabled} aria-describedby={helpId} onChange={(e) => onChange(e.target.value as T)}>
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

function TargetModules({ field, names }: { field: TargetsField; names: readonly string[] | null }) {
  const { target_modules, setTarget, setAllLinear } = useMethod();
  const t = useT('method');
  const ft = useFieldText();
  const helpId = `${useId()}-help`;
  const allLinear = target_modules === ALL_LINEAR;
  return (
    <fieldset className="method-targets wide" aria-describedby={helpId}>
      <legend>
        <Rich text={ft.label(field)} />
      </legend>
      {names === null ? (
        <p className="muted">{t.targetsNeedModel}</p>
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
        <Rich text={t.targetsHelp(ft.help(field))} />
      </Help>
    </fieldset>
  );
}

/**
 * Another method's module list (IA³'s target_modules and feedforward_modules): PEFT's default for the loaded model
 * (the value null), or the names ticked — the model's linear layers by their last name, plus any longer suffix the
 * default uses (gpt2's `mlp.c_proj`). data-testid="method-<flag>-default" and "method-<flag>-<name>".
 */
function ModuleListField({
  field,
  value,
  names,
  defaults,
  onChange,
}: {
  field: TargetsField;
  value: unknown;
  names: readonly string[] | null;
  defaults: readonly string[] | null;
  onChange(value: string[] | null): void;
}) {
  const t = useT('method');
  const ft = useFieldText();
  const helpId = `${useId()}-help`;
  const list = Array.isArray(value) ? (value as string[]) : null;
  const candidates = names === null ? [] : [...new Set([...names, ...(defaults ?? []), ...(list ?? [])])];
  const toggle = (name: string, on: boolean) => {
    const next = candidates.filter((n) => (n === name ? on : (list ?? []).includes(n)));
    onChange(next);
  };
  return (
    <fieldset className="method-targets wide" aria-describedby={helpId} data-testid={`method-${field.flag}`}>
      <legend>
        <Rich text={ft.label(field)} />
      </legend>
      {names === null ? (
        <p className="muted">{t.targetsNeedModel}</p>
      ) : (
        <>
          <label className="check">
            <input
              type="checkbox"
              data-testid={`method-${field.flag}-default`}
              checked={value === null || value === undefined}
              onChange={(e) => onChange(e.target.checked ? null : [...(defaults ?? [])])}
            />
            {t.moduleListDefault} <code>{(defaults ?? []).join(', ')}</code>
          </label>
          {typeof value === 'string' && <p className="muted">{t.moduleListPattern(value)}</p>}
          {value !== null && value !== undefined && (
            <div className="method-target-list">
              {candidates.map((n) => (
                <label key={n} className="check">
                  <input type="checkbox" data-testid={`method-${field.flag}-${n}`} checked={(list ?? []).includes(n)} onChange={(e) => toggle(n, e.target.checked)} />
                  <code>{n}</code>
                </label>
              ))}
            </div>
          )}
        </>
      )}
      <Help id={helpId}>
        <Rich text={ft.help(field)} />
      </Help>
    </fieldset>
  );
}

function SwitchField({ id, label, help, disabled, value, onChange }: FieldProps & { value: boolean; onChange(value: boolean): void }) {
  const helpId = `${useId()}-help`;
  return (
    <div className="method-field wide">
      <label className="check">
        <input
          type="checkbox"
          data-testid={`method-${id}`}
          checked={value}
          disabled={disabled}
          aria-describedby={helpId}
          onChange={(e) => onChange(e.target.checked)}
        />
        {label}
      </label>
      <Help id={helpId}>{help}</Help>
    </div>
  );
}

/** Free text (a hard prompt): null when empty. */
function TextField({ id, label, help, disabled, value, onChange }: FieldProps & { value: string | null; onChange(value: string | null): void }) {
  const helpId = `${useId()}-help`;
  return (
    <div className="method-field wide">
      <label>
        {label}
        <textarea
          data-testid={`method-${id}`}
          rows={2}
          value={value ?? ''}
          disabled={disabled}
          aria-describedby={helpId}
          onChange={(e) => onChange(e.target.value === '' ? null : e.target.value)}
        />
      </label>
      <Help id={helpId}>{help}</Help>
    </div>
  );
}

/** The input for one schema field (target_modules has its own, TargetModules). */
function SchemaField({
  field,
  value,
  disabled,
  onChange,
}: {
  field: Exclude<Field, TargetsField>;
  value: unknown;
  disabled: boolean;
  onChange(value: unknown): void;
}) {
  const ft = useFieldText();
  const common = { id: field.flag, label: <Rich text={ft.label(field)} />, help: <Rich text={ft.help(field)} />, disabled };
  switch (field.kind) {
    case 'number':
    case 'int':
      return (
        <NumberField
          {...common}
          value={value as number}
          min={field.min ?? field.above}
          max={field.max ?? field.below}
          step={field.kind === 'int' ? 1 : (field.step ?? 'any')}
          onChange={onChange}
        />
      );
    case 'derived-int':
      return <NumberField {...common} value={value as number | null} min={field.min} step={1} empty={null} placeholder={field.derivedFrom} onChange={onChange} />;
    case 'choice':
      return <SelectField {...common} value={value as string} options={field.choices.map((c) => ({ value: c, label: ft.choice(field, c) }))} onChange={onChange} />;
    case 'boolean':
      return <SwitchField {...common} value={value as boolean} onChange={onChange} />;
    case 'text':
      return <TextField {...common} value={value as string | null} onChange={onChange} />;
  }
}

/**
 * The schema fields of a set, each bound to a value and a setter by its key; a field that does not matter with the
 * others' values (FieldBase.onlyWhen) is disabled.
 */
function SchemaFields({ fields, value, set }: { fields: FieldSet; value(key: string): unknown; set(key: string, v: unknown): void }) {
  const values = Object.fromEntries(Object.keys(fields).map((k) => [k, value(k)]));
  return (
    <>
      {Object.entries(fields).map(([key, field]) =>
        field.kind === 'targets' ? null : (
          <SchemaField key={key} field={field} value={values[key]} disabled={!fieldApplies(field, values)} onChange={(v) => set(key, v)} />
        ),
      )}
    </>
  );
}

function LoraFieldset({ names }: { names: readonly string[] | null }) {
  const method = useMethod();
  const t = useT('method');
  return (
    <fieldset className="method-group">
      <legend>{t.loraLegend}</legend>
      <div className="field-grid">
        <SchemaFields fields={LORA_FIELDS} value={(k) => method[k as keyof MethodFields]} set={(k, v) => method.setLora({ [k]: v })} />
        <TargetModules field={LORA_FIELDS.target_modules} names={names} />
      </div>
    </fieldset>
  );
}

/** PEFT's defaults of a method's options for the loaded model (null: no model, or none to show). */
function effectiveDefaults(id: OtherMethodId, config: ModelConfig | null): Record<string, unknown> | null {
  const m = methodById(id);
  if (!config || !m.effectiveOptions) return null;
  try {
    return m.effectiveOptions({}, config, { nameOrPath: config.modelType });
  } catch {
    return null; // the plan's error line names what is wrong
  }
}

/** The options of a method other than LoRA, from its field set; its module lists (kind 'targets') as ModuleListField. */
function OtherMethodFieldset({ id, names, config }: { id: OtherMethodId; names: readonly string[] | null; config: ModelConfig | null }) {
  const options = useMethod((s) => s.otherOptions[id]);
  const setMethodOptions = useMethod((s) => s.setMethodOptions);
  const method = methodById(id);
  const t = useT('method');
  const ft = useFieldText();
  const defaults = useMemo(() => effectiveDefaults(id, config), [id, config]);
  const lists = Object.entries(method.fields).filter((e): e is [string, TargetsField] => e[1].kind === 'targets');
  return (
    <fieldset className="method-group" data-testid={`method-options-${id}`}>
      <legend>
        <Rich text={t.methodLegend(ft.methodLabel(method), method.peftType)} />
      </legend>
      <div className="field-grid">
        <SchemaFields fields={method.fields} value={(k) => options[k]} set={(k, v) => setMethodOptions(id, { [k]: v })} />
        {lists.map(([key, field]) => {
          const d = defaults?.[key];
          return (
            <ModuleListField
              key={key}
              field={field}
              value={options[key] ?? null}
              names={names}
              defaults={Array.isArray(d) ? (d as string[]) : typeof d === 'string' ? [d] : null}
              onChange={(v) => setMethodOptions(id, { [key]: v })}
            />
          );
        })}
      </div>
    </fieldset>
  );
}

function TrainingFieldset() {
  const method = useMethod();
  const maxLength = useData((s) => s.maxLength);
  const setMaxLength = useData((s) => s.setMaxLength);
  const value = (k: string) => (k === 'maxLength' ? maxLength : method[k as keyof MethodFields]);
  const set = (k: string, v: unknown) => (k === 'maxLength' ? setMaxLength(v as number) : method.setTraining({ [k]: v }));
  const fields = Object.entries(TRAINING_FIELDS as FieldSet);
  const main = Object.fromEntries(fields.filter(([, f]) => !f.advanced));
  const advanced = Object.fromEntries(fields.filter(([, f]) => f.advanced));
  const t = useT('method');
  return (
    <fieldset className="method-group">
      <legend>{t.trainingLegend}</legend>
      <div className="field-grid">
        <SchemaFields fields={main} value={value} set={set} />
        <SchemaFields fields={PANEL_RUN_FIELDS} value={value} set={set} />
      </div>
      <details className="method-more">
        <summary>{t.moreSettings}</summary>
        <div className="field-grid">
          <SchemaFields fields={advanced} value={value} set={set} />
        </div>
      </details>
    </fieldset>
  );
}

export function MethodPanel() {
  const method = useMethod();
  const t = useT('method');
  const ft = useFieldText();
  const lang = useLocale((s) => s.lang);
  const status = useModel((s) => s.status);
  const info = status.state === 'ready' ? status.info : null;
  const names = useMemo(() => (info ? targetModuleNames(info.config) : null), [info]);
  const { methodId, otherOptions, r, lora_alpha, lora_dropout, target_modules, use_rslora, use_dora, bias } = method;
  const summary = useMemo(
    () => (info ? trainableSummary(methodSpec({ methodId, otherOptions, r, lora_alpha, lora_dropout, target_modules, use_rslora, use_dora, bias }), info, lang) : null),
    [info, methodId, otherOptions, r, lora_alpha, lora_dropout, target_modules, use_rslora, use_dora, bias, lang],
  );
  const trainingError = trainingFieldsError(method, lang);
  const errors = [summary && 'error' in summary ? summary.error : null, trainingError].filter((e): e is string => e !== null);
  const methodHelp = `${useId()}-help`;
  const chosen = methodById(methodId);
  const chosenLabel = ft.methodLabel(chosen);
  return (
    <section className="card panel" data-testid="panel-method" aria-labelledby="method-title">
      <header className="card-header">
        <h2 id="method-title">{t.title}</h2>
        <span className={`status ${errors.length > 0 ? 'status-bad' : 'status-ok'}`} data-testid="method-status" data-state={errors.length > 0 ? 'error' : 'ready'}>
          {errors.length > 0 ? t.invalid(chosenLabel) : chosenLabel}
        </span>
      </header>
      <div className="row">
        <div className="method-field">
          <label>
            {t.methodSelect}
            <select data-testid="method-kind" value={methodId} aria-describedby={methodHelp} onChange={(e) => method.setMethodId(e.target.value as MethodId)}>
              {availableMethods().map((m) => (
                <option key={m.id} value={m.id}>
                  {ft.methodLabel(m)}
                </option>
              ))}
              {LATER_METHODS.map(({ name }) => (
                <option key={name} value={name} disabled>
                  {t.comingLater(name)}
                </option>
              ))}
            </select>
          </label>
          <Help id={methodHelp}>{ft.methodHelp(chosen)}</Help>
        </div>
        {DEMO_BUTTONS.map((b) => (
          <div className="method-field" key={b.id}>
            <button type="button" className="secondary" data-testid={b.testId} onClick={() => method.applyDemoPreset(b.id)}>
              {t[b.label]}
            </button>
            <span className="hint method-help">{demoPresetText(DEMO_PRESETS[b.id], lang)}</span>
          </div>
        ))}
      </div>
      {methodId === 'lora' ? <LoraFieldset names={names} /> : <OtherMethodFieldset key={methodId} id={methodId} names={names} config={info?.config ?? null} />}
      <TrainingFieldset />
      {summary && 'line' in summary && (
        <p className="method-trainable" data-testid="method-trainable-line" aria-live="polite">
          <code>{summary.line}</code>
        </p>
      )}
      {!info && <p className="muted">{t.trainableNeedsModel}</p>}
      {errors.length > 0 && (
        <p className="error" role="alert" data-testid="method-error">
          {errors.join('\n')}
        </p>
      )}
    </section>
  );
}
