import { WEIGHT_FORMATS, type WeightFormat } from '../kernels/weight-format';
import { useStudio } from './store';
import { formatError } from './format';
import { useT } from './i18n';

export function SelfTestCard() {
  const t = useT('device');
  const common = useT('common');
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
      statusText = t.notRun;
      statusClass = 'idle';
      break;
    case 'running':
      statusText = common.statusRunning;
      statusClass = 'detecting';
      break;
    case 'done':
      statusText = selfTest.result.check.pass ? t.passed : t.mismatch;
      statusClass = selfTest.result.check.pass ? 'ready' : 'unavailable';
      break;
    case 'error':
      statusText = common.statusError;
      statusClass = 'unavailable';
      break;
  }

  return (
    <section className="card" aria-labelledby="selftest-title">
      <header className="card-header">
        <h2 id="selftest-title">{t.selfTestTitle}</h2>
        <span
          className={`status status-${statusClass}`}
          data-testid="selftest-status"
          data-state={selfTest.state}
          data-pass={selfTest.state === 'done' ? String(selfTest.result.check.pass) : undefined}
        >
          {statusText}
        </span>
      </header>
      <p className="muted">{t.selfTestIntro}</p>
      <div className="controls">
        <label>
          {t.seed}{' '}
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
          {t.w0Format}{' '}
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
          {running ? t.runningButton : t.runSelfTest}
        </button>
      </div>
      {selfTest.state === 'done' && (
        <dl className="facts">
          <dt>{t.problem}</dt>
          <dd data-testid="selftest-problem">{t.problemValue(selfTest.result)}</dd>
          <dt>{t.maxErrorY}</dt>
          <dd data-testid="selftest-max-error-y">{formatError(selfTest.result.check.maxAbsErrorY)}</dd>
          <dt>{t.maxErrorXa}</dt>
          <dd data-testid="selftest-max-error-xa">{formatError(selfTest.result.check.maxAbsErrorXa)}</dd>
          <dt>{t.tolerance}</dt>
          <dd>{t.toleranceValue(selfTest.result.check.atol, selfTest.result.check.rtol, selfTest.result.check.worstRatio.toPrecision(2))}</dd>
          <dt>{t.gpuCall}</dt>
          <dd>{t.gpuCallValue(selfTest.result.gpuMs.toFixed(1))}</dd>
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
