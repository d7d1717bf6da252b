/** Writes the option table (src/options/options-table.ts) into README.md between its markers: `npm run docs:options`. */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { optionsTable, withOptionsTable } from '../src/options/options-table';

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));
const before = readFileSync(readmePath, 'utf8');
const after = withOptionsTable(before, optionsTable());
if (after !== before) writeFileSync(readmePath, after);
process.stdout.write(after === before ? 'README.md: the option table is up to date\n' : 'README.md: wrote the option table\n');
