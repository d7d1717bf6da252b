import { defineMessages } from '../define';

type Origin = 'trained' | 'imported';
type Stop = 'eos' | 'length' | 'context' | 'aborted';

const tokensEn = (n: number) => `${n} token${n === 1 ? '' : 's'}`;

export default defineMessages(
  {
    // ---- the panel
    title: 'Compare',
    statusNotRun: 'not run',
    statusGenerating: 'generating…',
    needModel: 'Load a model first: both sides generate with it.',
    comparing: (origin: Origin, summary: string) => `Comparing the base model with the ${origin} adapter: ${summary}.`,
    noAdapter: 'No adapter yet: train one in the Training panel or import one in the Export panel. Until then Generate shows the base model alone.',
    prompt: 'Prompt',
    generatingButton: 'Generating…',
    generate: 'Generate',
    generateAllThree: 'Generate all three',
    generateBoth: 'Generate both',
    datasetPrompt: "Dataset's prompt",
    alsoDeployed: 'Also the deployed model (ONNX, onnxruntime-web)',
    runHint: 'Ctrl+Enter in the prompt. Base first, then the adapter, then its ONNX export, with the same seed.',
    // ---- the columns
    baseModel: 'Base model',
    withAdapter: (origin: Origin) => `With the ${origin} adapter`,
    withNoAdapter: 'With an adapter (none yet)',
    deployed: 'Deployed (ONNX)',
    generatingTokens: (tokens: number) => `generating… ${tokensEn(tokens)}`,
    /** `note`: what ran the side (e.g. onnxruntime-web's version), '' when nothing. */
    doneLine: (tokens: number, stop: Stop, note: string) =>
      `${tokensEn(tokens)}, ${
        { eos: 'stopped at the end-of-text token', length: 'reached max new tokens', context: "reached the model's context length", aborted: 'aborted' }[stop]
      }${note ? `; ${note}` : ''}`,
    failed: 'failed',
    failedWith: (why: string) => `failed: ${why}`,
    notGeneratedNoAdapter: 'not generated: there is no adapter',
    notDeployable: (why: string) => `not deployable: ${why}`,
    deployedSwitchedOff: 'not generated: the deployed model is switched off',
    // ---- sampling
    samplingLegend: 'Sampling (the same for every side)',
    doSample: 'Sample (off: greedy)',
    temperature: 'Temperature',
    topK: 'Top-k (0 = off)',
    topP: 'Top-p',
    repetitionPenalty: 'Repetition penalty',
    maxNewTokens: 'Max new tokens',
    seed: 'Seed',
    modelDefaults: 'Model defaults',
    maxNewTokensInvalid: (got: number) => `max new tokens must be an integer ≥ 1, got ${got}`,
    seedInvalid: (got: number) => `seed must be an integer ≥ 0, got ${got}`,
    // ---- validation prompts
    batchHeading: 'Validation prompts',
    batchLabel: (count: number) => `One prompt per line (write a line break inside a prompt as \\n); by default the last ${count} examples of the dataset`,
    batchRun: (count: number) => `Run validation prompts${count > 0 ? ` (${count})` : ''}`,
    batchReset: 'Dataset prompts',
    batchProgress: (n: number, of: number) => `prompt ${n} of ${of}`,
    withAdapterColumn: 'With adapter',
    batchNoAdapter: 'no adapter',
    batchEmpty: 'enter at least one validation prompt (one per line)',
  },
  {
    title: '对比',
    statusNotRun: '未运行',
    statusGenerating: '生成中…',
    needModel: '请先加载模型：两侧都用它生成。',
    comparing: (origin: Origin, summary: string) => `对比基础模型与${origin === 'trained' ? '训练得到的' : '导入的'}适配器：${summary}。`,
    noAdapter: '还没有适配器：请在“训练”面板训练一个，或在“导出”面板导入一个。在此之前，“生成”只输出基础模型的结果。',
    prompt: '提示词',
    generatingButton: '生成中…',
    generate: '生成',
    generateAllThree: '生成全部三列',
    generateBoth: '生成两列',
    datasetPrompt: '恢复数据集提示词',
    alsoDeployed: '同时运行部署模型（ONNX，onnxruntime-web）',
    runHint: '在提示词框中按 Ctrl+Enter 生成。依次运行基础模型、适配器及其 ONNX 导出，使用相同的随机种子。',
    baseModel: '基础模型',
    withAdapter: (origin: Origin) => `使用${origin === 'trained' ? '训练得到的' : '导入的'}适配器`,
    withNoAdapter: '使用适配器（暂无）',
    deployed: '部署模型（ONNX）',
    generatingTokens: (tokens: number) => `生成中… ${tokens} 个 token`,
    doneLine: (tokens: number, stop: Stop, note: string) =>
      `${tokens} 个 token，${
        { eos: '遇到文本结束 token 停止', length: '达到最大生成 token 数', context: '达到模型的上下文长度', aborted: '已中止' }[stop]
      }${note ? `；${note}` : ''}`,
    failed: '失败',
    failedWith: (why: string) => `失败：${why}`,
    notGeneratedNoAdapter: '未生成：没有适配器',
    notDeployable: (why: string) => `无法部署：${why}`,
    deployedSwitchedOff: '未生成：部署模型已关闭',
    samplingLegend: '采样（各列相同）',
    doSample: '采样（关闭则为贪心解码）',
    temperature: '温度',
    topK: 'Top-k（0 = 关闭）',
    topP: 'Top-p',
    repetitionPenalty: '重复惩罚',
    maxNewTokens: '最大生成 token 数',
    seed: '随机种子',
    modelDefaults: '恢复模型默认值',
    maxNewTokensInvalid: (got: number) => `最大生成 token 数必须是 ≥ 1 的整数，当前为 ${got}`,
    seedInvalid: (got: number) => `随机种子必须是 ≥ 0 的整数，当前为 ${got}`,
    batchHeading: '验证提示词',
    batchLabel: (count: number) => `每行一条提示词（提示词内的换行写作 \\n）；默认取数据集的最后 ${count} 条样本`,
    batchRun: (count: number) => `运行验证提示词${count > 0 ? `（${count}）` : ''}`,
    batchReset: '恢复数据集提示词',
    batchProgress: (n: number, of: number) => `第 ${n} / ${of} 条提示词`,
    withAdapterColumn: '使用适配器',
    batchNoAdapter: '无适配器',
    batchEmpty: '请至少输入一条验证提示词（每行一条）',
  },
);
