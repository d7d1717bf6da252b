/** The README's peak-memory table is the one the memory plan gives today (`npm run docs:memory` rewrites it). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { memoryTable, withMemoryTable } from '../scripts/memory-table';

describe('README memory table', () => {
  it('is current', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(withMemoryTable(readme, memoryTable()), 'run `npm run docs:memory`').toBe(readme);
  });
});
