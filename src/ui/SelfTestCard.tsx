import { WEIGHT_FORMATS, type WeightFormat } from '../kernels/weight-format';
import { useStudio } from './store';
import { formatError } from './format';

export function SelfTestCard() {
  const selfTest = useStudio((s) => s.selfTest);
  const seed = useStudio((s) => s.selfTestSeed);
  const format = useStudio((s) => s.selfTestFormat);
  const gpuReady = useStudio((s) => s.gpu.state === 'ready');
  const { runSelfTest, setSelfTestSeed, setSelfTestFormat } = useStudio.getState();
  const running = selfTest.state === 'running';

  let statusText: string;
  let statusClass: string;
  switch (selfTest.state) {
    case 'idle':
      statusText = 'not run';
      statusClass = 'idle';
      break;
    case 'running':
      statusText = 'running…';
      statusClass = 'detecting';
      break;
    case 'done':
      statusText = selfTest.result.check.pass ? 'passed' : 'mismatch';
      statusClass = selfTest.result.check.pass ? 'ready' : 'unavailable';
      break;
    case 'error':
      statusText = 'error';
      statusClass = 'unavailable';
      break;
  }

  return (
    <section className="card" aria-labelledby="selftest-title">
      <header className="card-header">
        <h2 id="selftest-title">Kernel self-test</h2>
        <span
          className={`status status-${statusClass}`}
          data-testid="selftest-status"
          data-state={selfTest.state}
          data-pass={selfTest.state === 'done' ? String(selfTest.result.check.pass) : undefined}
        >
          {statusText}
        </span>
      </header>
      <p className="muted">
        One fused LoRA-linear forward (quantized W0, bias, dropout) on a small ragged problem, run on the GPU in a
        Web Worker and compared with the CPU reference.
      </p>
      <div className="controls">
        <label>
          Seed{' '}
          <input
            type="number"
            min={0}
            value={seed}
            data-testid="selftest-seed"
            onChange={(e) => setSelfTestSeed(Number(e.target.value))}
            disabled={running}
          />
        </label>
        <label>
          W0 format{' '}
          <select
            value={format}
            data-testid="selftest-format"
            onChange={(e) => setSelfTestFormat(e.target.value as WeightFormat)}
            disabled={running}
          >
            {WEIGHT_FORMATS.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </label>
        <button type="button" data-testid="selftest-run" onClick={() => void runSelfTest()} disabled={running || !gpuReady}>
          {running ? 'Running…' : 'Run GPU self-test in a worker'}
        </button>
      </div>
      {selfTest.state === 'done' && (
        <dl className="facts">
          <dt>Problem</dt>
          <dd data-testid="selftest-problem">
            M {selfTest.result.M}, K {selfTest.result.K}, N {selfTest.result.N}, r {selfTest.result.r}, {selfTest.result.format}{' '}
            {selfTest.result.layout}, dropout {selfTest.result.dropoutP}, seed {selfTest.result.seed}
          </dd>
          <dt>Max |Δy|</dt>
          <dd data-testid="selftest-max-error-y">{formatError(selfTest.result.check.maxAbsErrorY)}</dd>
          <dt>Max |Δ(x·Aᵀ)|</dt>
          <dd data-testid="selftest-max-error-xa">{formatError(selfTest.result.check.maxAbsErrorXa)}</dd>
          <dt>Tolerance</dt>
          <dd>
            atol {selfTest.result.check.atol}, rtol {selfTest.result.check.rtol} (worst ratio{' '}
            {selfTest.result.check.worstRatio.toPrecision(2)} of the bound)
          </dd>
          <dt>GPU call</dt>
          <dd>{selfTest.result.gpuMs.toFixed(1)} ms (includes pipeline compiles on a first run)</dd>
        </dl>
      )}
      {selfTest.state === 'error' && (
        <div className="error-box" role="alert" data-testid="selftest-error">
          <strong>{selfTest.error.name}</strong>
          <p>{selfTest.error.message}</p>
        </div>
      )}
    </section>
  );
}
