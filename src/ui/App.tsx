import { useEffect } from 'react';
import { GpuCard } from './GpuCard';
import { SelfTestCard } from './SelfTestCard';
import { ComparePanel } from './panels/ComparePanel';
import { DataPanel } from './panels/DataPanel';
import { ExportPanel } from './panels/ExportPanel';
import { MethodPanel } from './panels/MethodPanel';
import { ModelPanel } from './panels/ModelPanel';
import { TrainingPanel } from './panels/TrainingPanel';
import { useStudio } from './store';
import { useData } from './stores/data';
import { useModel } from './stores/model';

export function App() {
  useEffect(() => {
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
        <h1>PEFT Studio</h1>
        <p className="tagline">Parameter-efficient fine-tuning of language models in your browser, on WebGPU.</p>
      </header>
      <main>
        <div className="top-grid">
          <GpuCard />
          <SelfTestCard />
        </div>
        <div className="panel-grid">
          <ModelPanel />
          <DataPanel />
          <MethodPanel />
          <TrainingPanel />
          <ComparePanel />
          <ExportPanel />
        </div>
      </main>
    </div>
  );
}
