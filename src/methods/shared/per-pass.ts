/** What a method computes once per pass (an encoder's output) and hands to its hooks, kept per pass. */
import type { PassContext } from '../../engine/method-hooks';

export class PerPass<T> {
  private readonly states = new WeakMap<PassContext, T>();

  set(ctx: PassContext, state: T): void {
    this.states.set(ctx, state);
  }

  get(ctx: PassContext): T {
    const s = this.states.get(ctx);
    if (s === undefined) throw new Error('internal: the method was not begun in this pass (MethodHooks.beginPass)');
    return s;
  }
}
