const PANELS: ReadonlyArray<{ title: string; blurb: string }> = [
  { title: 'Model', blurb: 'Load a base model and choose the layers to adapt.' },
  { title: 'Data', blurb: 'Bring a dataset, tokenize it and split it.' },
  { title: 'Method', blurb: 'LoRA, QLoRA and friends: rank, alpha, dropout, target modules.' },
  { title: 'Training', blurb: 'Run and watch the fine-tuning loop on the GPU.' },
  { title: 'Compare', blurb: 'Side-by-side outputs of the base and the adapted model.' },
  { title: 'Export', blurb: 'Save the adapter in the PEFT format.' },
];

export function PlaceholderPanels() {
  return (
    <div className="placeholder-grid">
      {PANELS.map(({ title, blurb }) => (
        <section className="card placeholder" key={title} data-testid={`panel-${title.toLowerCase()}`}>
          <header className="card-header">
            <h2>{title}</h2>
            <span className="status status-idle">coming next</span>
          </header>
          <p className="muted">{blurb}</p>
        </section>
      ))}
    </div>
  );
}
