/** Runs the `peft-studio` command line in a child process, without blocking this one (which may serve a stand-in Hub meanwhile). */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const CLI_BIN = join(__dirname, '..', '..', 'bin', 'peft-studio.mjs');

export function cliAsync(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { cwd, env: { ...process.env, ...env }, timeout: 240_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
