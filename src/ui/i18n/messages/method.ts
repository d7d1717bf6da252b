/**
 * The Method panel's own text (the schema's labels and help are in fields.ts), and the text of the checks the panel
 * shows: an option out of bounds. In English those are the option schema's own words (src/options/field.ts
 * problemText, the same message the CLI and the worker give); in Chinese they name the field by its Chinese label.
 */
import { problemText, type Field, type FieldProblem, type FieldSet, type NumberField } from '../../../options/field';
import { defineMessages } from '../define';

/** A refused value as problemText shows it: JSON, NaN and the infinities as themselves, long values cut. */
function shownValue(value: unknown): string {
  const shown = typeof value === 'number' && !Number.isFinite(value) ? String(value) : JSON.stringify(value);
  return shown !== undefined && shown.length > 80 ? `${shown.slice(0, 80)}…` : String(shown);
}

function zhBounds(f: NumberField): string {
  const lower = f.min !== undefined ? `≥ ${f.min}` : f.above !== undefined ? `> ${f.above}` : null;
  const upper = f.max !== undefined ? `≤ ${f.max}` : f.below !== undefined ? `< ${f.below}` : null;
  return [lower, upper].filter((b) => b !== null).join(' 且 ');
}

/** What a field accepts, in Chinese (field.ts expectation in English). */
function zhExpectation(f: Field): string {
  switch (f.kind) {
    case 'number':
    case 'int': {
      const what = f.kind === 'int' ? '整数' : '数';
      const bounds = zhBounds(f);
      return bounds ? `${bounds} 的${what}` : what;
    }
    case 'boolean':
      return 'true 或 false';
    case 'choice':
      return `${f.choices.join('、')} 之一`;
    case 'targets':
      return '非空的模块名列表、正则表达式或 "all-linear"';
    case 'text':
      return '文本';
    case 'derived-int':
      return `≥ ${f.min} 的整数（默认：${f.derivedFrom}）`;
  }
}

export default defineMessages(
  {
    title: 'Method',
    /** The status badge when an option is refused. */
    invalid: (method: string) => `${method}: invalid`,
    methodSelect: 'PEFT method',
    comingLater: (name: string) => `${name} (coming later)`,
    /** A later method's name in words (the others are names: DoRA, AdaLoRA, …). */
    demoLora: 'Quick demo for the embedded model',
    demoPromptTuning: 'Quick demo: prompt tuning',
    /** A quick demo's text: its method options (field names and values), then its training. */
    demoText: (options: string, training: string) => `${options}; ${training}`,
    demoTraining: (lr: string, schedule: string, steps: number, batch: number) => `lr ${lr} ${schedule}, ${steps} steps of batch ${batch}.`,
    loraLegend: 'LoRA (PEFT LoraConfig)',
    /** Another method's fieldset; the PEFT type in backticks. */
    methodLegend: (method: string, peftType: string) => `${method} (PEFT \`${peftType}\`)`,
    targetsNeedModel: 'Load a model to choose which of its linear layers get an adapter.',
    /** target_modules' help (the schema's), then the panel's note. */
    targetsHelp: (schemaHelp: string) => `${schemaHelp} The default for the loaded architecture is pre-selected.`,
    /** A module-list field (IA³'s target_modules, feedforward_modules): keep PEFT's default for the loaded model. */
    moduleListDefault: 'PEFT\'s default for this model:',
    moduleListPattern: (pattern: string) => `Set to the pattern ${pattern}; ticking names replaces it with a list.`,
    trainingLegend: 'Training',
    moreSettings: 'More settings (AdamW)',
    trainableNeedsModel: 'Load a model to see how many parameters the adapter trains.',
    /** An option's value refused by its field: the field's key (English) or label (Chinese), the value, what it takes. */
    fieldProblem: (problem: FieldProblem, _fields: FieldSet, _label: string) => problemText(problem),
    /** A method's option refused: "<method>: <fieldProblem>" (as planMethod says it). */
    methodProblem: (method: string, problem: string) => `${method}: ${problem}`,
    loraplusOnlyLora: (label: string, ratio: number, method: string) => `${label} = ${ratio}: LoRA+ applies to LoRA only (it speeds up lora_B); use 1 with ${method}.`,
  },
  {
    title: '方法',
    invalid: (method: string) => `${method}：设置有误`,
    methodSelect: 'PEFT 方法',
    comingLater: (name: string) => `${name}（即将支持）`,
    demoLora: '内置模型快速演示',
    demoPromptTuning: '快速演示：Prompt tuning',
    demoText: (options: string, training: string) => `${options}；${training}`,
    demoTraining: (lr: string, schedule: string, steps: number, batch: number) => `lr ${lr}（${schedule}），${steps} 步，批大小 ${batch}。`,
    loraLegend: 'LoRA（PEFT LoraConfig）',
    methodLegend: (method: string, peftType: string) => `${method}（PEFT \`${peftType}\`）`,
    targetsNeedModel: '加载模型后，即可选择为它的哪些线性层添加适配器。',
    targetsHelp: (schemaHelp: string) => `${schemaHelp}已预选当前架构的默认模块。`,
    moduleListDefault: '使用 PEFT 对此模型的默认值：',
    moduleListPattern: (pattern: string) => `当前为模式 ${pattern}；勾选模块名会改为名称列表。`,
    trainingLegend: '训练',
    moreSettings: '更多设置（AdamW）',
    trainableNeedsModel: '加载模型后，即可查看适配器要训练多少参数。',
    fieldProblem: (problem: FieldProblem, fields: FieldSet, label: string) => {
      const field = Object.hasOwn(fields, problem.key) ? fields[problem.key] : undefined;
      if (!field) return `未知选项 ${problem.key}；可用的选项：${Object.keys(fields).join(', ')}`;
      const expected = zhExpectation(field);
      return `${label} = ${shownValue(problem.value)}：应为${/^[\u4e00-\u9fff]/.test(expected) ? '' : ' '}${expected}`;
    },
    methodProblem: (method: string, problem: string) => `${method}：${problem}`,
    loraplusOnlyLora: (label: string, ratio: number, method: string) => `${label} = ${ratio}：LoRA+ 只用于 LoRA（它加快 lora_B 的学习）；${method} 请设为 1。`,
  },
);
