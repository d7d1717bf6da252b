/** Writes the peak-memory table (scripts/memory-table.ts) into README.md between its markers: `npm run docs:memory`. */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { memoryTable, withMemoryTable } from './memory-table';

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));
const before = readFileSync(readmePath, 'utf8');
const after = withMemoryTable(before, memoryTable());
if (after !== before) writeFileSync(readmePath, after);
process.stdout.write(after === before ? 'README.md: the memory table is up to date\n' : 'README.md: wrote the memory table\n');
