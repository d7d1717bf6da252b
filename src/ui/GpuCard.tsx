import type { AdapterReport } from '../gpu/device';
import { useStudio } from './store';
import { formatBytes, yesNo } from './format';

const LIMITS: ReadonlyArray<{ key: keyof AdapterReport['limits']; label: string; bytes: boolean }> = [
  { key: 'maxStorageBufferBindingSize', label: 'Max storage binding', bytes: true },
  { key: 'maxBufferSize', label: 'Max buffer size', bytes: true },
  { key: 'maxComputeWorkgroupStorageSize', label: 'Workgroup storage', bytes: true },
  { key: 'maxComputeInvocationsPerWorkgroup', label: 'Invocations / workgroup', bytes: false },
  { key: 'maxStorageBuffersPerShaderStage', label: 'Storage buffers / stage', bytes: false },
  { key: 'maxComputeWorkgroupsPerDimension', label: 'Workgroups / dim', bytes: false },
];

function Flag({ testId, value }: { testId: string; value: boolean }) {
  return (
    <span className={`flag flag-${yesNo(value)}`} data-testid={testId}>
      {yesNo(value)}
    </span>
  );
}

function AdapterDetails({ report }: { report: AdapterReport }) {
  return (
    <>
      <dl className="facts">
        <dt>Vendor</dt>
        <dd data-testid="gpu-vendor">{report.vendor}</dd>
        <dt>Architecture</dt>
        <dd data-testid="gpu-architecture">{report.architecture}</dd>
        {report.device && (
          <>
            <dt>Device</dt>
            <dd data-testid="gpu-device">{report.device}</dd>
          </>
        )}
        {report.description && (
          <>
            <dt>Description</dt>
            <dd data-testid="gpu-description">{report.description}</dd>
          </>
        )}
        {(!report.device || !report.description) && (
          <>
            <dt>Not reported</dt>
            <dd className="hint" data-testid="gpu-unreported">
              {[!report.device && 'device name', !report.description && 'description'].filter(Boolean).join(' and ')}: this browser keeps them private
            </dd>
          </>
        )}
        <dt>Fallback adapter</dt>
        <dd>
          <Flag testId="gpu-fallback" value={report.isFallbackAdapter} />
          {report.isFallbackAdapter && <span className="hint"> a CPU fallback: training will be slow</span>}
        </dd>
        <dt>Feature level</dt>
        <dd data-testid="gpu-feature-level">{report.featureLevel}</dd>
      </dl>
      <h3>Features</h3>
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
      <h3>Limits</h3>
      <dl className="facts">
        {LIMITS.map(({ key, label, bytes }) => (
          <div className="fact-row" key={key}>
            <dt title={key}>{label}</dt>
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
  const worker = useStudio((s) => s.worker);
  let text: string;
  switch (worker.state) {
    case 'idle':
      text = 'not started';
      break;
    case 'probing':
      text = 'starting…';
      break;
    case 'ready':
      text = `WebGPU available (${worker.report.vendor} / ${worker.report.architecture})`;
      break;
    case 'error':
      text = `${worker.error.name}: ${worker.error.message}`;
      break;
  }
  return (
    <p className="worker-line">
      <span className="label">Web Worker</span>{' '}
      <span data-testid="worker-gpu" data-state={worker.state}>
        {text}
      </span>
    </p>
  );
}

export function GpuCard() {
  const gpu = useStudio((s) => s.gpu);
  return (
    <section className="card gpu-card" aria-labelledby="gpu-title">
      <header className="card-header">
        <h2 id="gpu-title">GPU</h2>
        <span className={`status status-${gpu.state}`} data-testid="gpu-status" data-state={gpu.state}>
          {gpu.state === 'detecting' ? 'detecting…' : gpu.state === 'ready' ? 'WebGPU ready' : 'unavailable'}
        </span>
      </header>
      {gpu.state === 'detecting' && <p className="muted">Requesting a WebGPU adapter…</p>}
      {gpu.state === 'ready' && <AdapterDetails report={gpu.report} />}
      {gpu.state === 'unavailable' && (
        <div className="error-box" role="alert" data-testid="gpu-error">
          <strong>{gpu.error.name === 'WebGpuUnavailableError' ? 'WebGPU is not available' : gpu.error.name}</strong>
          <p>{gpu.error.message}</p>
        </div>
      )}
      <WorkerLine />
    </section>
  );
}
