/** The status pill in a panel's header. */
import { useT, type MessagesOf } from '../i18n';

const LABELS: Record<string, { text: keyof MessagesOf<'common'>; className: string }> = {
  idle: { text: 'statusIdle', className: 'status-idle' },
  loading: { text: 'statusLoading', className: 'status-busy' },
  running: { text: 'statusRunning', className: 'status-busy' },
  ready: { text: 'statusReady', className: 'status-ok' },
  done: { text: 'statusDone', className: 'status-ok' },
  error: { text: 'statusError', className: 'status-bad' },
};

function labelText(t: MessagesOf<'common'>, status: string): string {
  const label = LABELS[status];
  return label ? t[label.text] : status;
}

export function PanelStatus({ status, testId, text }: { status: string; testId: string; text?: string }) {
  const t = useT('common');
  const className = LABELS[status]?.className ?? 'status-idle';
  return (
    <span className={`status ${className}`} data-testid={testId} data-state={status}>
      {text ?? labelText(t, status)}
    </span>
  );
}
