import { useEffect } from 'react';
import { GpuCard } from './GpuCard';
import { useLocale, useT, LANGS, LANG_NAMES } from './i18n';
import { SelfTestCard } from './SelfTestCard';
import { ComparePanel } from './panels/ComparePanel';
import { DataPanel } from './panels/DataPanel';
import { ExportPanel } from './panels/ExportPanel';
import { MethodPanel } from './panels/MethodPanel';
import { ModelPanel } from './panels/ModelPanel';
import { RunsPanel } from './panels/RunsPanel';
import { SideBySidePanel } from './panels/SideBySidePanel';
import { TrainingPanel } from './panels/TrainingPanel';
import { RunStatusBar } from './RunStatusBar';
import { StepNav } from './StepNav';
import { useStudio } from './store';
import { useData } from './stores/data';
import { useModel } from './stores/model';
import { useRuns } from './stores/runs';
import { useTraining } from './stores/training';
import { nextStep, STEPS, useWorkflow, type StepId } from './stores/workflow';

function LanguageSwitch() {
  const t = useT('app');
  const { lang, setLang } = useLocale();
  return (
    <div className="lang-switch" role="group" aria-label={t.language}>
      {LANGS.map((l) => (
        <button
          key={l}
          type="button"
          className={l === lang ? 'lang-current' : 'secondary'}
          aria-pressed={l === lang}
          data-testid={`lang-${l}`}
          lang={l === 'zh' ? 'zh-CN' : 'en'}
          onClick={() => setLang(l)}
        >
          {LANG_NAMES[l]}
        </button>
      ))}
    </div>
  );
}

function AboutDevice() {
  const t = useT('app');
  const gpu = useStudio((s) => s.gpu);
  const summary =
    gpu.state === 'ready'
      ? [gpu.report.vendor, gpu.report.architecture, gpu.report.description].filter(Boolean).join(' · ') || t.webgpuReady
      : gpu.state === 'detecting'
        ? t.detecting
        : t.webgpuUnavailable;
  return (
    <details className="about-device" data-testid="about-device" open={gpu.state === 'unavailable' ? true : undefined}>
      <summary>
        <strong>{t.aboutDevice}</strong> <span className="hint">{summary}</span>
      </summary>
      <div className="top-grid">
        <GpuCard />
        <SelfTestCard />
      </div>
    </details>
  );
}

function StepContent({ step }: { step: StepId }) {
  switch (step) {
    case 'model':
      return <ModelPanel />;
    case 'data':
      return <DataPanel />;
    case 'method':
      return <MethodPanel />;
    case 'train':
      return (
        <>
          <TrainingPanel />
          <RunsPanel />
        </>
      );
    case 'compare':
      return (
        <>
          <ComparePanel />
          <SideBySidePanel />
        </>
      );
    case 'export':
      return <ExportPanel />;
  }
}

function NextButton({ step }: { step: StepId }) {
  const t = useT('app');
  const go = useWorkflow((s) => s.go);
  const next = nextStep(step);
  if (!next) return null;
  return (
    <div className="step-next-row">
      <button type="button" data-testid="step-next" onClick={() => go(next)}>
        {t.next(t.step(next))}
      </button>
    </div>
  );
}

export function App() {
  const t = useT('app');
  const step = useWorkflow((s) => s.step);
  const gpu = useStudio((s) => s.gpu);
  useEffect(() => {
    // The kept runs: the list, and an interrupted run to offer for resuming.
    void useRuns
      .getState()
      .load()
      .then(() => useTraining.getState().offerInterrupted());
    const { detectGpu, probeWorker } = useStudio.getState();
    void detectGpu().then(async () => {
      if (useStudio.getState().gpu.state !== 'ready') return;
      await probeWorker();
      // The embedded default model is ready without a download: load it at once.
      if (useStudio.getState().worker.state === 'ready' && useModel.getState().status.state === 'idle') await useModel.getState().load();
      const data = useData.getState();
      if (useModel.getState().status.state === 'ready' && data.status.state === 'idle') await data.chooseSample(data.sampleName);
    });
  }, []);

  return (
    <div className="app">
      <header className="app-header">
        <div>
          <h1>PEFT Studio</h1>
          <p className="tagline">{t.tagline}</p>
        </div>
        <LanguageSwitch />
      </header>
      {gpu.state === 'unavailable' && (
        <p className="error-box" role="alert" data-testid="gpu-unavailable-banner">
          <strong>{t.webgpuUnavailable}</strong> {gpu.error.message}
        </p>
      )}
      <div className="workbench-bar" data-testid="workbench-bar">
        <StepNav />
        <RunStatusBar />
      </div>
      <main>
        {/* Every step stays mounted (its panels keep their state and results); only the current one is shown. */}
        {STEPS.map((id) => (
          <div key={id} className="step-content" data-testid={`step-content-${id}`} role="tabpanel" aria-labelledby={`step-${id}`} hidden={id !== step}>
            <StepContent step={id} />
            <NextButton step={id} />
          </div>
        ))}
      </main>
      <AboutDevice />
    </div>
  );
}
