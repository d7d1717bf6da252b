/** The status pill in a panel's header. */
const LABELS: Record<string, { text: string; className: string }> = {
  idle: { text: 'not loaded', className: 'status-idle' },
  loading: { text: 'loading…', className: 'status-busy' },
  running: { text: 'running…', className: 'status-busy' },
  ready: { text: 'ready', className: 'status-ok' },
  done: { text: 'done', className: 'status-ok' },
  error: { text: 'error', className: 'status-bad' },
};

export function PanelStatus({ status, testId, text }: { status: string; testId: string; text?: string }) {
  const label = LABELS[status] ?? { text: status, className: 'status-idle' };
  return (
    <span className={`status ${label.className}`} data-testid={testId} data-state={status}>
      {text ?? label.text}
    </span>
  );
}
