import { defineMessages } from '../define';

export default defineMessages(
  {
    title: 'Methods side by side',
    intro:
      "Trains each chosen method in turn on the loaded model and data, with the Method step's training settings, seed and data order (each method with its own options there), keeps each as a run, then continues the Compare prompt greedily with the base model and with every adapter.",
    methods: 'Methods',
    run: 'Train each method, then compare',
    running: 'Working…',
    whyNoMethods: 'Choose at least one method.',
    training: (index: number, total: number, method: string) => `Training ${index + 1} of ${total}: ${method}`,
    generating: 'Continuing the prompt with the base model and each adapter…',
    notCompleted: (method: string) => `The ${method} run did not complete.`,
    columns: ['method', 'trainable params', 'trainable%', 'adapter file', 'peak GPU memory', 'ms / step', 'final loss', 'final val loss'].join('|'),
    outputsTitle: (prompt: string) => `The prompt "${prompt}", continued greedily`,
    base: 'Base model',
    tableLabel: 'The methods compared',
  },
  {
    title: '方法并排对比',
    intro: '用“方法”步骤中的训练设置、随机种子和数据顺序（各方法使用它在那里的选项），在已加载的模型和数据上依次训练所选方法，每个都保存为一次运行；然后用基础模型和每个适配器以贪心解码续写“对比”步骤中的提示。',
    methods: '方法',
    run: '依次训练各方法并对比',
    running: '进行中…',
    whyNoMethods: '请至少选择一种方法。',
    training: (index: number, total: number, method: string) => `正在训练第 ${index + 1} / ${total} 个：${method}`,
    generating: '正在用基础模型和各适配器续写提示…',
    notCompleted: (method: string) => `${method} 的运行未能完成。`,
    columns: ['方法', '可训练参数', '可训练%', '适配器文件', '峰值 GPU 显存', '毫秒 / 步', '最终损失', '最终验证损失'].join('|'),
    outputsTitle: (prompt: string) => `提示“${prompt}”的贪心续写`,
    base: '基础模型',
    tableLabel: '方法对比',
  },
);
