/**
 * The Model panel's memory plan: as soon as a model is named, its config.json alone (no weight) gives the GPU memory
 * a training step takes — weights, adapter with AdamW's state, activations and their peak — for every weight format,
 * without and with gradient checkpointing, at the Method step's batch size, sequence length, method and options.
 * The current format and checkpointing setting is labelled fits / tight / won't fit against the GPU's buffer limits
 * and the memory budget, with what is wrong and the single changes that would make it fit (buttons that make them).
 *
 * Test ids: memory-plan (data-state none|reading|ready|error), memory-fit-label (data-label fits|tight|wont-fit),
 * memory-row-<format>, memory-weights-<format>, memory-adapter-<format>, memory-activations-<format>-plain|checkpointed,
 * memory-peak-<format>-plain|checkpointed (data-label, data-bytes), memory-problems, memory-change-<change>-<value>,
 * memory-budget, memory-limits (data-source device|default, data-max-binding, data-max-buffer), memory-plan-error.
 */
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import type { FitAssessment, FitChange, FitLabel, FitProblem } from '../../engine/memory-fit';
import type { LargestBuffer } from '../../engine/memory-plan';
import type { WeightFormat } from '../../kernels/weight-format';
import { methodById } from '../../methods/registry';
import { formatBytes } from '../format';
import { useT, type MessagesOf } from '../i18n';
import { useFieldText } from '../i18n/field-text';
import { useStudio } from '../store';
import { useData } from '../stores/data';
import { acceptsBudgetGib, memoryPlanView, planLimits, TIGHT_SHARE } from '../stores/memory-plan';
import { useMethod } from '../stores/method';
import { useModel } from '../stores/model';
import './memory-plan.css';

type ModelMessages = MessagesOf<'model'>;

/** How long typing in the Hub fields waits before config.json is read. */
const HUB_DELAY_MS = 400;

const GIB = 2 ** 30;

/** A buffer in the page's language, e.g. "the token embedding table [49152, 576] (f32)". */
function bufferName(t: ModelMessages, b: LargestBuffer): string {
  const weights = b.kind === 'embedding' || b.kind === 'lm-head';
  return `${t.bufferKind(b.kind)} [${b.shape[0]}, ${b.shape[1]}]${weights ? ` (${b.format})` : ''}`;
}

function problemLine(t: ModelMessages, p: FitProblem): string {
  return p.kind === 'buffer'
    ? t.problemBuffer(bufferName(t, p.buffer), formatBytes(p.buffer.bytes), p.limitName, formatBytes(p.limit))
    : t.problemBudget(formatBytes(p.peak), formatBytes(p.budget));
}

function labelText(t: ModelMessages, label: FitLabel): string {
  return label === 'fits' ? t.fitFits : label === 'tight' ? t.fitTight : t.fitWontFit;
}

function FitFlag({ label, testId }: { label: FitLabel; testId?: string }) {
  const t = useT('model');
  return (
    <span className={`flag fit-flag fit-${label}`} data-testid={testId} data-label={label}>
      {labelText(t, label)}
    </span>
  );
}

function PeakCell({ a, testId, current }: { a: FitAssessment; testId: string; current: boolean }) {
  return (
    <td
      className={`num memory-peak${current ? ' memory-current-cell' : ''}`}
      data-testid={testId}
      data-label={a.label}
      data-bytes={a.plan.peak}
      title={`${a.plan.peak.toLocaleString('en-US')} B`}
    >
      {formatBytes(a.plan.peak)} <FitFlag label={a.label} />
    </td>
  );
}

function changeText(t: ModelMessages, c: FitChange): string {
  switch (c.change) {
    case 'format':
      return t.changeFormat(String(c.value));
    case 'gradient-checkpointing':
      return t.changeCheckpointing;
    case 'batch':
      return t.changeBatch(Number(c.value));
    case 'seq':
      return t.changeSeq(Number(c.value));
  }
}

/** Makes one change to the settings: the weight format here, the rest in the Method step's stores. */
function applyChange(c: FitChange): void {
  switch (c.change) {
    case 'format':
      useModel.getState().setFormat(c.value as WeightFormat);
      break;
    case 'gradient-checkpointing':
      useMethod.getState().setTraining({ gradientCheckpointing: c.value === true });
      break;
    case 'batch':
      useMethod.getState().setTraining({ batchSize: Number(c.value) });
      break;
    case 'seq':
      useData.getState().setMaxLength(Number(c.value));
      break;
  }
}

function BudgetInput() {
  const t = useT('model');
  const budget = useModel((s) => s.memoryBudget);
  const setMemoryBudget = useModel((s) => s.setMemoryBudget);
  // What is typed, while it is typed ("1." is not a number yet); the budget otherwise.
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <label className="memory-budget">
      {t.budget}
      <input
        type="number"
        min={0}
        step={0.25}
        data-testid="memory-budget"
        value={draft ?? String(Number((budget / GIB).toFixed(4)))}
        onChange={(e) => {
          setDraft(e.target.value);
          const gib = Number(e.target.value);
          if (e.target.value.trim() !== '' && acceptsBudgetGib(gib)) setMemoryBudget(gib * GIB);
        }}
        onBlur={() => setDraft(null)}
      />
      <span className="hint">{t.budgetHelp(Math.round(TIGHT_SHARE * 100))}</span>
    </label>
  );
}

export function MemoryPlanSection() {
  const t = useT('model');
  const ft = useFieldText();
  const sourceKind = useModel((s) => s.sourceKind);
  const hubRepo = useModel((s) => s.hubRepo);
  const hubRevision = useModel((s) => s.hubRevision);
  const hubEndpoint = useModel((s) => s.hubEndpoint);
  const files = useModel((s) => s.files);
  const format = useModel((s) => s.format);
  const planConfig = useModel((s) => s.planConfig);
  const budget = useModel((s) => s.memoryBudget);
  const readPlanConfig = useModel((s) => s.readPlanConfig);
  const method = useMethod();
  const maxLength = useData((s) => s.maxLength);
  const workerReport = useStudio((s) => (s.worker.state === 'ready' ? s.worker.report : null));
  const gpuReport = useStudio((s) => (s.gpu.state === 'ready' ? s.gpu.report : null));

  // config.json of whatever the choices name, as soon as they name one (typing in the Hub fields waits a moment).
  useEffect(() => {
    readPlanConfig(sourceKind === 'hub' ? HUB_DELAY_MS : 0);
  }, [sourceKind, hubRepo, hubRevision, hubEndpoint, files, readPlanConfig]);

  const { limits, fromDevice } = useMemo(() => planLimits([workerReport, gpuReport]), [workerReport, gpuReport]);
  const { methodId, otherOptions, r, lora_alpha, lora_dropout, target_modules, use_rslora, use_dora, bias, batchSize, gradientCheckpointing, modelType } = method;
  const config = planConfig.state === 'ready' ? planConfig.config : null;
  const base = planConfig.state === 'ready' ? planConfig.base : null;
  const view = useMemo(
    () =>
      config && base
        ? memoryPlanView({
            config,
            base,
            choice: { methodId, otherOptions, r, lora_alpha, lora_dropout, target_modules, use_rslora, use_dora, bias },
            storeModelType: modelType,
            batch: batchSize,
            seqLen: maxLength,
            format,
            gradientCheckpointing,
            limits,
            budget,
          })
        : null,
    [config, base, methodId, otherOptions, r, lora_alpha, lora_dropout, target_modules, use_rslora, use_dora, bias, modelType, batchSize, maxLength, format, gradientCheckpointing, limits, budget],
  );

  let body: ReactNode;
  if (planConfig.state === 'none') {
    body = <p className="muted">{t.planNeedsModel}</p>;
  } else if (planConfig.state === 'reading') {
    body = (
      <p className="muted" data-testid="memory-plan-reading">
        {t.planReading}
      </p>
    );
  } else if (planConfig.state === 'error') {
    body = (
      <p className="error" data-testid="memory-plan-error">
        {t.planError(planConfig.message)}
      </p>
    );
  } else if (view && !view.ok) {
    body = (
      <p className="error" data-testid="memory-plan-error">
        {view.reason === 'method' ? t.planMethodError(view.message) : t.planSettingsError}
      </p>
    );
  } else if (view && view.ok) {
    const current = view.current;
    body = (
      <>
        <p className="hint">{t.planIntro(planConfig.base.nameOrPath, view.input.batch, view.input.seqLen, ft.methodLabel(methodById(methodId)))}</p>
        <div className="table-scroll memory-table-scroll">
          <table className="memory-table" data-testid="memory-table">
            <thead>
              <tr>
                <th rowSpan={2} scope="col">
                  {t.planFormat}
                </th>
                <th rowSpan={2} scope="col" className="num">
                  {t.planWeights}
                </th>
                <th rowSpan={2} scope="col" className="num">
                  {t.planAdapter}
                </th>
                <th colSpan={2} scope="colgroup" className={gradientCheckpointing ? '' : 'memory-current-group'}>
                  {t.planPlain}
                </th>
                <th colSpan={2} scope="colgroup" className={gradientCheckpointing ? 'memory-current-group' : ''}>
                  {t.planCheckpointed}
                </th>
              </tr>
              <tr>
                <th scope="col" className="num">
                  {t.planActivations}
                </th>
                <th scope="col" className="num">
                  {t.planPeak}
                </th>
                <th scope="col" className="num">
                  {t.planActivations}
                </th>
                <th scope="col" className="num">
                  {t.planPeak}
                </th>
              </tr>
            </thead>
            <tbody>
              {view.table.map((row) => {
                const isCurrent = row.format === format;
                return (
                  <tr key={row.format} data-testid={`memory-row-${row.format}`} data-current={isCurrent} className={isCurrent ? 'memory-current' : undefined}>
                    <th scope="row">
                      <code>{row.format}</code>
                      {isCurrent && <span className="hint memory-current-mark">{t.planCurrentRow}</span>}
                    </th>
                    <td className="num" data-testid={`memory-weights-${row.format}`}>
                      {formatBytes(row.plain.plan.weights)}
                    </td>
                    <td className="num" data-testid={`memory-adapter-${row.format}`}>
                      {formatBytes(row.plain.plan.adapter)}
                    </td>
                    <td className="num" data-testid={`memory-activations-${row.format}-plain`}>
                      {formatBytes(row.plain.plan.activations)}
                    </td>
                    <PeakCell a={row.plain} testId={`memory-peak-${row.format}-plain`} current={isCurrent && !gradientCheckpointing} />
                    <td className="num" data-testid={`memory-activations-${row.format}-checkpointed`}>
                      {formatBytes(row.checkpointed.plan.activations)}
                    </td>
                    <PeakCell a={row.checkpointed} testId={`memory-peak-${row.format}-checkpointed`} current={isCurrent && gradientCheckpointing} />
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        <div className={`memory-verdict fit-box-${current.label}`}>
          <p className="memory-current-line">
            {t.planCurrent(format, gradientCheckpointing)} <FitFlag label={current.label} testId="memory-fit-label" />{' '}
            <span data-testid="memory-current-peak" data-bytes={current.plan.peak}>
              {t.planCurrentPeak(formatBytes(current.plan.peak), formatBytes(budget))}
            </span>
          </p>
          {current.problems.length > 0 && (
            <ul className="memory-problems" data-testid="memory-problems">
              {current.problems.map((p) => (
                <li key={p.kind}>{problemLine(t, p)}</li>
              ))}
            </ul>
          )}
          {current.changes.length > 0 && (
            <div className="memory-changes" data-testid="memory-changes">
              <span>{t.planChanges}</span>
              {current.changes.map((c) => (
                <button
                  key={`${c.change}-${String(c.value)}`}
                  type="button"
                  className="secondary"
                  data-testid={`memory-change-${c.change}-${String(c.value)}`}
                  data-peak={c.peak}
                  onClick={() => applyChange(c)}
                >
                  {changeText(t, c)} <span className="hint">({t.changePeak(formatBytes(c.peak))})</span>
                </button>
              ))}
            </div>
          )}
        </div>
        <p className="hint" data-testid="memory-largest">
          {t.largestBuffer(bufferName(t, current.plan.largestBuffer), formatBytes(current.plan.largestBuffer.bytes))}
          {!current.plan.exact && ` ${t.planNotExact}`}
        </p>
      </>
    );
  }

  return (
    <section className="memory-plan" data-testid="memory-plan" data-state={planConfig.state} aria-labelledby="memory-plan-title">
      <h3 id="memory-plan-title">{t.planTitle}</h3>
      {body}
      <div className="memory-settings">
        <BudgetInput />
        <p
          className="hint memory-limits"
          data-testid="memory-limits"
          data-source={fromDevice ? 'device' : 'default'}
          data-max-binding={limits.maxStorageBufferBindingSize}
          data-max-buffer={limits.maxBufferSize}
        >
          {(fromDevice ? t.limitsDevice : t.limitsDefault)(formatBytes(limits.maxStorageBufferBindingSize), formatBytes(limits.maxBufferSize))}
        </p>
      </div>
    </section>
  );
}
