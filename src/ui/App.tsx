import { useEffect } from 'react';
import { GpuCard } from './GpuCard';
import { PlaceholderPanels } from './PlaceholderPanels';
import { SelfTestCard } from './SelfTestCard';
import { useStudio } from './store';

export function App() {
  useEffect(() => {
    const { detectGpu, probeWorker } = useStudio.getState();
    void detectGpu().then(() => {
      if (useStudio.getState().gpu.state === 'ready') void probeWorker();
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
        <PlaceholderPanels />
      </main>
    </div>
  );
}
