/**
 * `node bench/adapter.mjs [--require-gpu]` in a pack of bench/gpu/pack.mjs (or `vite-node bench/gpu/adapter.ts`).
 *
 * The adapter the benchmarks will run on, as one JSON object on stdout: the adapter line (as the CLI prints it),
 * its report, and the kernel profile that `bench:kernels` takes by default on it (`bench:train` is given
 * `--kernels tiled` by run.sh; `bench:kernels` has no such flag and measures both families, naming the adapter's
 * default first). With --require-gpu it exits with status 2 when that profile is not 'tiled' or the adapter is a
 * CPU fallback: a GPU run that landed on SwiftShader or llvmpipe is refused before any number is taken.
 */
import { parseArgs } from 'node:util';
import { adapterLine } from '../../src/gpu/device';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';

const { values: opts } = parseArgs({ options: { 'require-gpu': { type: 'boolean', default: false } } });

const gpu = await acquireNodeGpu();
const line = adapterLine(gpu.report);
const result = {
  adapter: line,
  kernels: gpu.kernels,
  kernels_chosen_by: gpu.kernelsChosenBy,
  report: gpu.report,
  node: process.version,
  vk_driver_files: process.env.VK_DRIVER_FILES ?? null,
  vk_icd_filenames: process.env.VK_ICD_FILENAMES ?? null,
};
gpu.destroy();
console.log(JSON.stringify(result, null, 2));
process.stderr.write(`adapter: ${line}; bench:kernels default profile: ${gpu.kernels} (chosen by ${gpu.kernelsChosenBy})\n`);
if (opts['require-gpu'] && (gpu.kernels !== 'tiled' || gpu.report.isFallbackAdapter)) {
  process.stderr.write(
    'error: this adapter is not a GPU the tiled kernels are meant for (a CPU driver or a fallback adapter). ' +
      'Check the Vulkan loader and VK_DRIVER_FILES / VK_ICD_FILENAMES (bench/gpu/README.md), or set ALLOW_CPU=1 to run anyway.\n',
  );
  process.exit(2);
}
process.exit(0);
