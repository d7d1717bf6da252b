/** Text with `code` spans (schema help, catalog messages) rendered with <code>. */
import { Fragment } from 'react';
import { codeSpans } from '../options/field';

export function Rich({ text }: { text: string }) {
  return (
    <>
      {codeSpans(text).map((p, i) => (p.code ? <code key={i}>{p.text}</code> : <Fragment key={i}>{p.text}</Fragment>))}
    </>
  );
}
