import type { AdapterReport } from '../gpu/device';
import { useStudio } from './store';
import { formatBytes, yesNo } from './format';
import { useT, type MessagesOf } from './i18n';

type DeviceMessages = MessagesOf<'device'>;

const LIMITS: ReadonlyArray<{ key: keyof AdapterReport['limits']; label: (t: DeviceMessages) => string; bytes: boolean }> = [
  { key: 'maxStorageBufferBindingSize', label: (t) => t.limitMaxStorageBinding, bytes: true },
  { key: 'maxBufferSize', label: (t) => t.limitMaxBuffer, bytes: true },
  { key: 'maxComputeWorkgroupStorageSize', label: (t) => t.limitWorkgroupStorage, bytes: true },
  { key: 'maxComputeInvocationsPerWorkgroup', label: (t) => t.limitInvocations, bytes: false },
  { key: 'maxStorageBuffersPerShaderStage', label: (t) => t.limitStorageBuffers, bytes: false },
  { key: 'maxComputeWorkgroupsPerDimension', label: (t) => t.limitWorkgroupsPerDim, bytes: false },
];

function Flag({ testId, value }: { testId: string; value: boolean }) {
  const t = useT('common');
  return (
    <span className={`flag flag-${yesNo(value)}`} data-testid={testId}>
      {value ? t.yes : t.no}
    </span>
  );
}

function AdapterDetails({ report }: { report: AdapterReport }) {
  const t = useT('device');
  return (
    <>
      <dl className="facts">
        <dt>{t.vendor}</dt>
        <dd data-testid="gpu-vendor">{report.vendor}</dd>
        <dt>{t.architecture}</dt>
        <dd data-testid="gpu-architecture">{report.architecture}</dd>
        {report.device && (
          <>
            <dt>{t.device}</dt>
            <dd data-testid="gpu-device">{report.device}</dd>
          </>
        )}
        {report.description && (
          <>
            <dt>{t.description}</dt>
            <dd data-testid="gpu-description">{report.description}</dd>
          </>
        )}
        {(!report.device || !report.description) && (
          <>
            <dt>{t.notReported}</dt>
            <dd className="hint" data-testid="gpu-unreported">
              {t.unreported(!report.device, !report.description)}
            </dd>
          </>
        )}
        <dt>{t.fallbackAdapter}</dt>
        <dd>
          <Flag testId="gpu-fallback" value={report.isFallbackAdapter} />
          {report.isFallbackAdapter && <span className="hint">{t.fallbackSlow}</span>}
        </dd>
        <dt>{t.featureLevel}</dt>
        <dd data-testid="gpu-feature-level">{report.featureLevel}</dd>
      </dl>
      <h3>{t.features}</h3>
      <dl className="facts">
        <dt>shader-f16</dt>
        <dd>
          <Flag testId="feature-shader-f16" value={report.shaderF16} />
        </dd>
        <dt>subgroups</dt>
        <dd>
          <Flag testId="feature-subgroups" value={report.subgroups} />
        </dd>
        <dt>timestamp-query</dt>
        <dd>
          <Flag testId="feature-timestamp-query" value={report.timestampQuery} />
        </dd>
      </dl>
      <h3>{t.limits}</h3>
      <dl className="facts">
        {LIMITS.map(({ key, label, bytes }) => (
          <div className="fact-row" key={key}>
            <dt title={key}>{label(t)}</dt>
            <dd data-testid={`limit-${key}`} data-value={report.limits[key]}>
              {bytes ? formatBytes(report.limits[key]) : report.limits[key].toLocaleString('en-US')}
            </dd>
          </div>
        ))}
      </dl>
    </>
  );
}

function WorkerLine() {
  const t = useT('device');
  const worker = useStudio((s) => s.worker);
  let text: string;
  switch (worker.state) {
    case 'idle':
      text = t.workerIdle;
      break;
    case 'probing':
      text = t.workerStarting;
      break;
    case 'ready':
      text = t.workerReady(worker.report.vendor, worker.report.architecture);
      break;
    case 'error':
      text = `${worker.error.name}: ${worker.error.message}`;
      break;
  }
  return (
    <p className="worker-line">
      <span className="label">{t.workerLabel}</span>{' '}
      <span data-testid="worker-gpu" data-state={worker.state}>
        {text}
      </span>
    </p>
  );
}

export function GpuCard() {
  const t = useT('device');
  const gpu = useStudio((s) => s.gpu);
  return (
    <section className="card gpu-card" aria-labelledby="gpu-title">
      <header className="card-header">
        <h2 id="gpu-title">{t.gpuTitle}</h2>
        <span className={`status status-${gpu.state}`} data-testid="gpu-status" data-state={gpu.state}>
          {gpu.state === 'detecting' ? t.detecting : gpu.state === 'ready' ? t.webgpuReady : t.unavailable}
        </span>
      </header>
      {gpu.state === 'detecting' && <p className="muted">{t.requesting}</p>}
      {gpu.state === 'ready' && <AdapterDetails report={gpu.report} />}
      {gpu.state === 'unavailable' && (
        <div className="error-box" role="alert" data-testid="gpu-error">
          <strong>{gpu.error.name === 'WebGpuUnavailableError' ? t.notAvailable : gpu.error.name}</strong>
          <p>{gpu.error.message}</p>
        </div>
      )}
      <WorkerLine />
    </section>
  );
}
