import { defineMessages } from '../define';

/** The sample datasets' titles and descriptions in Chinese, by the dataset's name (others keep their English text). */
const SAMPLES_ZH: Record<string, { title: string; description: string }> = {
  pirate: { title: '奥斯汀式海盗', description: '320 行奥斯汀笔下人物用海盗腔说的话。纯文本：适配器学习的是文风。' },
  invitations: { title: '邀请函', description: '160 个活动，改写成基座模型写不出来的固定邀请函格式。' },
  butler: { title: '朗博恩的管家', description: '160 段与一位管家的对话，他总以同样谦恭的句式作答。' },
};

export default defineMessages(
  {
    title: 'Data',
    noDataset: 'no dataset',
    needModel: 'Load a model first: the dataset is tokenized with its tokenizer.',
    dataset: 'Dataset',
    sourceSample: 'Sample dataset',
    sourceFile: 'Upload a file',
    sourcePaste: 'Paste text',
    sampleDatasets: 'Sample datasets',
    sampleTitle: (_name: string, title: string) => title,
    sampleDescription: (_name: string, description: string) => description,
    fileLabel: 'A .jsonl, .json, .csv or .txt file',
    pasteLabel: 'Text (JSON Lines records, or plain text with one example per paragraph)',
    usePasted: 'Use this text',
    retokenize: 'Re-tokenize',
    // ---- the tokenized view
    factSource: 'Source',
    sourceValue: (source: string, format: string, shape: string | null) => `${source} (${format}${shape ? `, ${shape} records` : ''})`,
    factRecords: 'Records',
    factExamples: 'Examples',
    factTrainedTokens: 'Trained tokens',
    factTruncated: (maxLength: number) => `Cut to ${maxLength} tokens`,
    badRecords: (n: number) => `${n} bad record${n === 1 ? '' : 's'}`,
    badRecordsIn: (source: string) => ` in ${source}:`,
    /** Where a record is: a line of the file, or an item of a .json array. */
    at: (unit: 'line' | 'index', n: number) => `${unit === 'line' ? 'line' : 'item'} ${n}: `,
    more: (n: number) => `… and ${n} more`,
    asModelSees: 'As the model sees it',
    highlighted: 'Highlighted',
    highlightedRest: ' tokens are what the loss trains on; the rest is context.',
    // ---- the length histogram
    histogramLabel: (examples: number, from: number, to: number, top: number) =>
      `Token lengths of ${examples} examples, from ${from} to ${to}; the tallest bar holds ${top}`,
    binTitle: (range: string, count: number) => `${range} tokens: ${count}`,
    axisTokens: (n: number) => `${n} tokens`,
    histogramCaption: (truncated: number, maxLength: number) =>
      `Examples by length in tokens${truncated > 0 ? ` (${truncated} cut at ${maxLength})` : ''}`,
    // ---- the store
    needDataset: 'choose a dataset first',
  },
  {
    title: '数据',
    noDataset: '未选择数据集',
    needModel: '请先加载模型：数据集将使用该模型的分词器进行分词。',
    dataset: '数据集',
    sourceSample: '示例数据集',
    sourceFile: '上传文件',
    sourcePaste: '粘贴文本',
    sampleDatasets: '示例数据集',
    sampleTitle: (name: string, title: string) => SAMPLES_ZH[name]?.title ?? title,
    sampleDescription: (name: string, description: string) => SAMPLES_ZH[name]?.description ?? description,
    fileLabel: '.jsonl、.json、.csv 或 .txt 文件',
    pasteLabel: '文本（JSON Lines 记录，或每段一个样本的纯文本）',
    usePasted: '使用此文本',
    retokenize: '重新分词',
    factSource: '来源',
    sourceValue: (source: string, format: string, shape: string | null) => `${source}（${format}${shape ? `，${shape} 格式` : ''}）`,
    factRecords: '记录数',
    factExamples: '样本数',
    factTrainedTokens: '参与训练的 token 数',
    factTruncated: (maxLength: number) => `截断至 ${maxLength} token 的样本`,
    badRecords: (n: number) => `${n} 条错误记录`,
    badRecordsIn: (source: string) => `（${source}）：`,
    at: (unit: 'line' | 'index', n: number) => `第 ${n} ${unit === 'line' ? '行' : '项'}：`,
    more: (n: number) => `… 另有 ${n} 条`,
    asModelSees: '模型看到的样本',
    highlighted: '高亮',
    highlightedRest: '的 token 计入训练损失，其余为上下文。',
    histogramLabel: (examples: number, from: number, to: number, top: number) =>
      `${examples} 个样本的 token 长度，范围 ${from} 到 ${to}；最高的柱为 ${top}`,
    binTitle: (range: string, count: number) => `${range} token：${count}`,
    axisTokens: (n: number) => `${n} token`,
    histogramCaption: (truncated: number, maxLength: number) =>
      `按 token 长度统计的样本数${truncated > 0 ? `（${truncated} 个在 ${maxLength} 处截断）` : ''}`,
    needDataset: '请先选择数据集',
  },
);
