import { defineMessages } from '../define';

/** The Hub upload's phases (src/deploy/hub-push.ts, @huggingface/hub's file states) in Chinese. */
const PUSH_PHASE_ZH: Record<string, string> = {
  'creating the repo': '正在创建仓库',
  preparing: '正在准备',
  uploading: '正在上传',
  committing: '正在提交',
  hashing: '正在计算哈希',
  error: '出错',
};

/** What a zip holds, for an error: its first 8 paths, and how many there are when more. */
function zipListing(paths: readonly string[], sep: string, more: (n: number) => string, none: string): string {
  return paths.slice(0, 8).join(sep) + (paths.length > 8 ? `${sep}…${more(paths.length)}` : '') || none;
}

export default defineMessages(
  {
    // ---- the panel
    title: 'Export',
    statusImporting: 'importing…',
    statusMerging: 'merging…',
    statusExporting: 'exporting…',
    statusNoAdapter: 'no adapter',
    statusReady: 'adapter ready',
    noAdapter: 'No adapter yet: train one in the Training panel, or import one below.',
    // ---- the adapter's facts (PEFT's field names stay as they are)
    origin: 'Origin',
    originTrained: 'trained in this session',
    originImported: 'imported',
    method: 'Method',
    trainableParameters: 'Trainable parameters',
    // ---- download in PEFT's format
    downloadHeading: 'Download (PEFT format)',
    allThree: (zipName: string) => `All three as ${zipName}`,
    modelCardButton: (file: string) => `${file} (model card)`,
    /** With `code` spans; `model`: the loaded model's name or path, null when none. */
    folderHint: (model: string | null, files: readonly string[]) =>
      `Unzipped, the folder loads with \`PeftModel.from_pretrained(base_model, folder)\`${model === null ? '' : ` on \`${model}\``}. It holds ${files.join(', ')}.`,
    saved: (fileName: string, size: string) => `Saved ${fileName} (${size}).`,
    // ---- the merged model
    mergedHeading: 'Download the merged model',
    dtype: 'dtype',
    mergedButton: 'Merged model (.zip)',
    mergeRefused: (method: string, why: string) => `A ${method} adapter cannot be merged: ${why}.`,
    mergedHint:
      "The base model with the adapter folded into its weights, as PEFT's merge_and_unload does, read again from the model's source: config.json, generation_config.json, the tokenizer files and model.safetensors, which AutoModelForCausalLM.from_pretrained (and this studio) load without PEFT.",
    // ---- ONNX
    onnxHeading: 'ONNX for transformers.js',
    onnxButton: 'ONNX folder (.zip)',
    runTransformersJs: 'Run it in transformers.js',
    onnxRefused: (method: string, why: string) => `A ${method} adapter cannot be exported as ONNX: ${why}.`,
    onnxHint:
      "The merged model as one ONNX graph with a KV cache, in the folders @huggingface/transformers (onnx/model.onnx) and @xenova/transformers 2 (onnx/decoder_model_merged.onnx) load for pipeline('text-generation'); q8 and q4 add the quantized files under their names. \"Run it\" loads the folder with @xenova/transformers in this page, on the Compare prompt, greedy.",
    transformersJsLoading: 'transformers.js is loading the folder…',
    // ---- push to the Hub
    pushHeading: 'Push to the Hugging Face Hub',
    repo: 'repo',
    repoPlaceholder: 'owner/name',
    token: 'token',
    rememberToken: 'remember the token in this browser',
    pushWhat: 'push',
    pushAdapter: 'the adapter (PEFT format)',
    pushMerged: 'the merged model (dtype above)',
    pushOnnx: 'the ONNX folder (variants above)',
    hub: 'Hub',
    pushButton: 'Push',
    pushHint: 'The repo is created when it does not exist; the files go up in one commit. The token needs write access; it is kept in memory only, unless remembered.',
    pushedTo: 'Pushed to',
    pushPreparing: 'preparing the files…',
    pushMerging: (progress: string) => `merging: ${progress}`,
    pushExportingOnnx: (progress: string) => `exporting ONNX: ${progress}`,
    /** A phase of the upload (creating the repo, preparing, uploading, committing), or a file's (hashing, uploading). */
    pushPhase: (phase: string) => `${phase}…`,
    pushFile: (phase: string, file: string, percent: number | null) => `${phase} ${file}${percent === null ? '' : ` ${percent} %`}`,
    // ---- import
    // ---- train at scale: the run as a recipe for GPU machines
    recipeHeading: 'Train at scale',
    recipeButton: (zipName: string) => `Training recipe (${zipName})`,
    /** With `code` spans; `adapter`: the current adapter's method, `run`: the kept run it came from (null: none). */
    recipeHint: (adapter: string | null, run: string | null) =>
      `A folder that trains this run again on GPU machines with transformers, PEFT and accelerate: \`train.py\`, the data, \`requirements.txt\`, accelerate configs (one GPU, several GPUs, sharded) and a README that says how to run each. It takes ${adapter === null ? "the Method step's method and options" : `the current ${adapter} adapter's method and options`}, ${run === null ? "the Method step's settings" : `the settings of the run "${run}"`}, the weight format and the Data step's records. The adapter it trains comes back through Import below.`,
    recipeLocalModel: (model: string) =>
      `\`${model}\` is not on the Hugging Face Hub (the embedded model, or local files): upload its folder to the Hub or copy it to the GPU machine, and set \`base.name_or_path\` in \`recipe.json\` to it (the recipe's README says how).`,
    recipeNeedsModel: 'Load a model first: the recipe needs its config.json.',
    recipeNeedsData: 'Choose a dataset in the Data step first: the recipe carries its records.',
    importHeading: 'Import a PEFT adapter',
    importable: (methods: readonly string[]) => `An adapter of ${methods.join(', ')}: adapter_config.json's peft_type says which.`,
    importFilesLabel: 'adapter_config.json and adapter_model.safetensors, or a .zip of the adapter folder',
    importNeedsModel: "Load the adapter's base model first: the import checks every tensor against it.",
    imported: (files: readonly string[], summary: string, parameters: number) =>
      `Imported ${files.join(', ')}: ${summary}, ${parameters.toLocaleString('en-US')} parameters. The Compare panel now uses it, and training can continue from it.`,
    zipUnreadable: (zipName: string, why: string) => `${zipName}: not a readable zip file (${why})`,
    zipFolderWithoutConfig: (zipName: string, folder: string, config: string) =>
      `${zipName}: the folder "${folder}" in it has no ${config}; is this a PEFT adapter folder?`,
    zipWithoutConfig: (zipName: string, config: string, paths: readonly string[]) =>
      `${zipName}: no ${config} at its root or in a single top-level folder (it holds ${zipListing(paths, ', ', (n) => ` (${n} entries)`, 'nothing')})`,
    workerExportMissing: (fileName: string, sent: readonly string[]) => `the worker's export has no ${fileName} (it sent ${sent.join(', ') || 'nothing'})`,
  },
  {
    title: '导出',
    statusImporting: '导入中…',
    statusMerging: '合并中…',
    statusExporting: '导出中…',
    statusNoAdapter: '无适配器',
    statusReady: '适配器就绪',
    noAdapter: '还没有适配器：请在“训练”面板训练一个，或在下方导入。',
    origin: '来源',
    originTrained: '本次会话训练',
    originImported: '导入',
    method: '方法',
    trainableParameters: '可训练参数',
    downloadHeading: '下载（PEFT 格式）',
    allThree: (zipName: string) => `三个文件打包为 ${zipName}`,
    modelCardButton: (file: string) => `${file}（模型卡片）`,
    folderHint: (model: string | null, files: readonly string[]) =>
      `解压后，可${model === null ? '' : `在 \`${model}\` 上`}用 \`PeftModel.from_pretrained(base_model, folder)\` 加载该文件夹，其中包含 ${files.join('、')}。`,
    saved: (fileName: string, size: string) => `已保存 ${fileName}（${size}）。`,
    mergedHeading: '下载合并模型',
    dtype: 'dtype',
    mergedButton: '合并模型（.zip）',
    mergeRefused: (method: string, why: string) => `${method} 适配器无法合并：${why}。`,
    mergedHint:
      '适配器折叠进权重后的基础模型（与 PEFT 的 merge_and_unload 相同），从模型来源重新读取：包含 config.json、generation_config.json、分词器文件和 model.safetensors，AutoModelForCausalLM.from_pretrained（以及本应用）无需 PEFT 即可加载。',
    onnxHeading: '用于 transformers.js 的 ONNX',
    onnxButton: 'ONNX 文件夹（.zip）',
    runTransformersJs: '在 transformers.js 中运行',
    onnxRefused: (method: string, why: string) => `${method} 适配器无法导出为 ONNX：${why}。`,
    onnxHint:
      "合并模型导出为带 KV 缓存的单个 ONNX 计算图，文件夹同时适配 @huggingface/transformers（onnx/model.onnx）和 @xenova/transformers 2（onnx/decoder_model_merged.onnx）的 pipeline('text-generation')；勾选 q8、q4 会以各自的名称附加量化文件。“在 transformers.js 中运行”会在本页用 @xenova/transformers 加载该文件夹，以“对比”面板的提示词做贪心生成。",
    transformersJsLoading: 'transformers.js 正在加载文件夹…',
    pushHeading: '推送到 Hugging Face Hub',
    repo: '仓库',
    repoPlaceholder: '所有者/名称',
    token: '令牌',
    rememberToken: '在此浏览器中记住令牌',
    pushWhat: '推送',
    pushAdapter: '适配器（PEFT 格式）',
    pushMerged: '合并模型（上方所选 dtype）',
    pushOnnx: 'ONNX 文件夹（上方所选变体）',
    hub: 'Hub',
    pushButton: '推送',
    pushHint: '仓库不存在时会自动创建；所有文件在一次提交中上传。令牌需要写权限；除非选择记住，否则只保存在内存中。',
    pushedTo: '已推送到',
    pushPreparing: '正在准备文件…',
    pushMerging: (progress: string) => `合并中：${progress}`,
    pushExportingOnnx: (progress: string) => `导出 ONNX 中：${progress}`,
    pushPhase: (phase: string) => `${PUSH_PHASE_ZH[phase] ?? phase}…`,
    pushFile: (phase: string, file: string, percent: number | null) =>
      `${PUSH_PHASE_ZH[phase] ?? phase} ${file}${percent === null ? '' : ` ${percent} %`}`,
    recipeHeading: '大规模训练',
    recipeButton: (zipName: string) => `训练配方（${zipName}）`,
    recipeHint: (adapter: string | null, run: string | null) =>
      `一个在 GPU 机器上用 transformers、PEFT 和 accelerate 重新训练本次运行的文件夹：\`train.py\`、数据、\`requirements.txt\`、accelerate 配置（单 GPU、多 GPU、分片）以及说明各种运行方式的 README。它采用${adapter === null ? '“方法”步骤中的方法和选项' : `当前 ${adapter} 适配器的方法和选项`}、${run === null ? '“方法”步骤中的设置' : `运行“${run}”的设置`}、权重格式以及“数据”步骤的记录。训练出的适配器可通过下方的导入带回。`,
    recipeLocalModel: (model: string) =>
      `\`${model}\` 不在 Hugging Face Hub 上（内置模型或本地文件）：请把它的文件夹上传到 Hub 或复制到 GPU 机器，并把 \`recipe.json\` 中的 \`base.name_or_path\` 改为它（配方的 README 说明了做法）。`,
    recipeNeedsModel: '请先加载模型：配方需要它的 config.json。',
    recipeNeedsData: '请先在“数据”步骤中选择数据集：配方会带上其中的记录。',
    importHeading: '导入 PEFT 适配器',
    importable: (methods: readonly string[]) => `支持 ${methods.join('、')} 适配器，由 adapter_config.json 的 peft_type 指明是哪一种。`,
    importFilesLabel: 'adapter_config.json 和 adapter_model.safetensors，或适配器文件夹的 .zip',
    importNeedsModel: '请先加载适配器的基础模型：导入时会逐一核对每个张量。',
    imported: (files: readonly string[], summary: string, parameters: number) =>
      `已导入 ${files.join('、')}：${summary}，${parameters.toLocaleString('en-US')} 个参数。“对比”面板现在使用它，训练也可以从它继续。`,
    zipUnreadable: (zipName: string, why: string) => `${zipName}：不是可读取的 zip 文件（${why}）`,
    zipFolderWithoutConfig: (zipName: string, folder: string, config: string) =>
      `${zipName}：其中的文件夹“${folder}”没有 ${config}；这是 PEFT 适配器文件夹吗？`,
    zipWithoutConfig: (zipName: string, config: string, paths: readonly string[]) =>
      `${zipName}：根目录下没有 ${config}，也没有包含它的唯一顶层文件夹（其中有：${zipListing(paths, '、', (n) => `（共 ${n} 项）`, '无')}）`,
    workerExportMissing: (fileName: string, sent: readonly string[]) => `worker 导出的文件中没有 ${fileName}（收到：${sent.join('、') || '无'}）`,
  },
);
