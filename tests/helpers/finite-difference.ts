/** Central-difference gradient of `f` with respect to every element of `v` (perturbed in place, then restored). */
export function numericGrad(v: Float64Array, f: () => number, h = 1e-6): Float64Array {
  const g = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const orig = v[i];
    v[i] = orig + h;
    const up = f();
    v[i] = orig - h;
    const down = f();
    v[i] = orig;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}
