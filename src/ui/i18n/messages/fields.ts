/**
 * The option schema's text in Chinese: the label and help of every field of every field set (src/options), the
 * labels of choices that have one, and every method's label and help (src/methods/registry.ts).
 *
 * The schema is the one English source (forms, CLI flags, README), so the English side of this module is not
 * written here: it is built from the schema objects at import time. The keys are derived from the schema too —
 * `<group>.<field>.label`, `<group>.<field>.help`, `<group>.<field>.choice.<value>`, `method.<id>.label|help` — at the
 * type level as well, so a schema field without a Chinese text is a type error here (and tests/ui-field-text.test.ts
 * checks the same at run time, with any Chinese key the schema no longer has).
 *
 * The prompt-learning methods' fields form one group, `prompt`, keyed by PEFT's field name: a field that two or
 * three of them share (num_virtual_tokens, encoder_hidden_size) has one text, as in the README's table.
 */
import { METHODS } from '../../../methods/registry';
import type { MethodId } from '../../../methods/method';
import type { Field, FieldSet } from '../../../options/field';
import { ALL_LINEAR } from '../../../peft/lora-config';
import { BOTTLENECK_FIELDS } from '../../../options/bottleneck-fields';
import { IA3_FIELDS } from '../../../options/ia3-fields';
import { LORA_FIELDS } from '../../../options/lora-fields';
import { P_TUNING_FIELDS, PREFIX_TUNING_FIELDS, PROMPT_TUNING_FIELDS } from '../../../options/prompt-learning-fields';
import { RUN_FIELDS } from '../../../options/run-fields';
import { TRAINING_FIELDS } from '../../../options/training-fields';
import { defineMessages } from '../define';

/** Every field set of the schema, by the group its keys are under. */
export const FIELD_GROUPS = {
  lora: [LORA_FIELDS],
  training: [TRAINING_FIELDS],
  run: [RUN_FIELDS],
  prompt: [PROMPT_TUNING_FIELDS, P_TUNING_FIELDS, PREFIX_TUNING_FIELDS],
  ia3: [IA3_FIELDS],
  bottleneck: [BOTTLENECK_FIELDS],
} as const;

export type FieldGroup = keyof typeof FIELD_GROUPS;
type SetsOf<G extends FieldGroup> = (typeof FIELD_GROUPS)[G][number];
type KeysOfSet<S> = S extends FieldSet ? keyof S & string : never;
type ChoiceKeysOfSet<G extends string, S> = S extends FieldSet
  ? { [K in keyof S & string]: S[K] extends { readonly choiceLabels: infer L } ? `${G}.${K}.choice.${keyof L & string}` : never }[keyof S & string]
  : never;

type FieldTextKeys = { [G in FieldGroup]: `${G}.${KeysOfSet<SetsOf<G>>}.${'label' | 'help'}` }[FieldGroup];
type ChoiceTextKeys = { [G in FieldGroup]: ChoiceKeysOfSet<G, SetsOf<G>> }[FieldGroup];
type MethodTextKeys = `method.${MethodId}.${'label' | 'help'}`;

/** Every key of the schema's text. */
export type SchemaTextKey = FieldTextKeys | ChoiceTextKeys | MethodTextKeys;
export type SchemaText = Record<SchemaTextKey, string>;

export const fieldTextKey = (group: FieldGroup, key: string, part: 'label' | 'help') => `${group}.${key}.${part}`;
export const choiceTextKey = (group: FieldGroup, key: string, value: string) => `${group}.${key}.choice.${value}`;
export const methodTextKey = (id: MethodId, part: 'label' | 'help') => `method.${id}.${part}`;

/** Each field object of the schema with its group and key (a field shared by sets is one object, one entry). */
export function schemaFields(): { group: FieldGroup; key: string; field: Field }[] {
  const out: { group: FieldGroup; key: string; field: Field }[] = [];
  for (const [group, sets] of Object.entries(FIELD_GROUPS) as [FieldGroup, readonly FieldSet[]][]) {
    for (const set of sets) for (const [key, field] of Object.entries(set)) out.push({ group, key, field });
  }
  return out;
}

/** The schema's own English text under the catalog's keys. */
function englishFromSchema(): SchemaText {
  const en: Record<string, string> = {};
  for (const { group, key, field } of schemaFields()) {
    en[fieldTextKey(group, key, 'label')] = field.label;
    en[fieldTextKey(group, key, 'help')] = field.help;
    if (field.kind === 'choice') {
      for (const [value, label] of Object.entries(field.choiceLabels ?? {})) if (label !== undefined) en[choiceTextKey(group, key, value)] = label;
    }
  }
  for (const m of Object.values(METHODS)) {
    en[methodTextKey(m.id, 'label')] = m.label;
    en[methodTextKey(m.id, 'help')] = m.help;
  }
  return en as SchemaText;
}

/** The Chinese text of the schema. */
export const ZH_SCHEMA_TEXT: SchemaText = {
  // LoRA (PEFT LoraConfig)
  'lora.r.label': '秩 `r`',
  'lora.r.help': '加到每个被适配权重上的更新 B·A 的秩。越大，容量越大，可训练参数也越多。',
  'lora.lora_alpha.label': '缩放系数 `lora_alpha`',
  'lora.lora_alpha.help': '将更新按 `lora_alpha / r` 缩放（使用 rsLoRA 时为 `lora_alpha / √r`）。',
  'lora.lora_dropout.label': '丢弃率 `lora_dropout`',
  'lora.lora_dropout.help': '训练时 LoRA 支路输入上的 dropout 概率（0 = 不使用）。',
  'lora.bias.label': '偏置 `bias`',
  'lora.bias.help': '哪些偏置随适配器一起训练：`none`（都不训练），或被适配层的偏置（`lora_only`）。暂不支持 PEFT 的 `all`。',
  'lora.use_rslora.label': '使用 rsLoRA `use_rslora`',
  'lora.use_rslora.help': '秩稳定 LoRA（rsLoRA）：按 `lora_alpha / √r` 而非 `lora_alpha / r` 缩放，使较高的秩也能持续学习。',
  'lora.use_dora.label': '使用 DoRA `use_dora`',
  'lora.use_dora.help':
    'DoRA（权重分解的 LoRA）：每个被适配层还训练一个按输出特征的幅度向量，把 `W0 + scaling·B·A` 的每一行缩放到该长度。每步的计算量比普通 LoRA 多。',
  'lora.target_modules.label': '目标模块 `target_modules`',
  'lora.target_modules.help':
    '为哪些线性层添加 LoRA 适配器：模块名（按名称的最后一段匹配；命令行中用逗号分隔）、正则表达式（完整匹配），' +
    `或 \`${ALL_LINEAR}\`（除输出层外的所有线性层）。PEFT 的默认值取决于模型架构（gpt2 为 \`c_attn\`；llama 和 qwen2 为 \`q_proj\`、\`v_proj\`）。`,

  // Training settings (transformers' TrainingArguments)
  'training.lr.label': '学习率',
  'training.lr.help':
    'AdamW 的峰值学习率。没有采用 transformers 的 5e-5，那是为全量微调设定的：LoRA 的更新从零开始（B = 0），需要更大的步长；' +
    '2e-4 是 LoRA 和 QLoRA 论文训练时所用的值。',
  'training.schedule.label': '学习率调度',
  'training.schedule.help': '预热结束后学习率如何变化，与 transformers 的调度器相同（`lr_scheduler_type`）。',
  'training.schedule.choice.constant': '恒定（constant）',
  'training.schedule.choice.linear': '线性衰减至 0（linear）',
  'training.schedule.choice.cosine': '余弦衰减至 0（cosine）',
  'training.warmupSteps.label': '预热步数',
  'training.warmupSteps.help': '学习率从 0 升到峰值所用的步数。',
  'training.maxSteps.label': '最大训练步数',
  'training.maxSteps.help': '要训练的优化器步数；0 = 按训练轮数训练（即 transformers 的 -1）。',
  'training.epochs.label': '训练轮数',
  'training.epochs.help': '遍历全部训练样本的次数；最大训练步数为 0 时生效。',
  'training.batchSize.label': '批大小',
  'training.batchSize.help': '每个微批次的样本数。',
  'training.gradAccum.label': '梯度累积',
  'training.gradAccum.help': '每个优化器步累积的微批次数（等效批大小 = 批大小 × 此值）。',
  'training.maxGradNorm.label': '最大梯度范数',
  'training.maxGradNorm.help': '梯度裁剪：把全局梯度范数裁剪到此值（0 = 不裁剪）。',
  'training.weightDecay.label': '权重衰减',
  'training.weightDecay.help': 'AdamW 的解耦权重衰减。',
  'training.loraplusLrRatio.label': 'LoRA+ 学习率倍数',
  'training.loraplusLrRatio.help':
    'LoRA+：`lora_B`（以及训练的偏置等一维参数）的学习率是 `lora_A` 的这么多倍，分组方式与 PEFT 的 `create_loraplus_optimizer` 相同（论文建议 16）。1 = 普通 LoRA。这是优化器设置，不写入 `adapter_config.json`，由运行日志和模型卡片记录。仅用于 LoRA。',
  'training.beta1.label': 'AdamW β1',
  'training.beta1.help': 'AdamW 一阶矩（梯度的滑动平均）的衰减率。',
  'training.beta2.label': 'AdamW β2',
  'training.beta2.help': 'AdamW 二阶矩（梯度平方的滑动平均）的衰减率。',
  'training.eps.label': 'AdamW ε',
  'training.eps.help': '加在 AdamW 二阶矩的平方根上，防止除以零。',
  'training.seed.label': '随机种子',
  'training.seed.help': '决定适配器的初始化、数据顺序、dropout 和验证集的划分。',
  'training.evalEvery.label': '评估间隔（步）',
  'training.evalEvery.help': '每 N 步计算一次验证集损失（0 = 只在训练结束时计算，且需有验证集）。',
  'training.checkpointEvery.label': '检查点间隔（步）',
  'training.checkpointEvery.help':
    '每 N 步保存一次适配器和优化器状态，用于断点续训（0 = 不保存；即 transformers 的 `save_steps`）。命令行在训练结束时也会保存一个。',
  'training.gradientCheckpointing.label': '梯度检查点',
  'training.gradientCheckpointing.help':
    '前向时只保留每层的输入，反向时重新计算该层（即 transformers 的 `gradient_checkpointing`）：激活内存缩小到约一层，每步约多三分之一的计算。' +
    '内存计划（模型步骤、`peft-studio plan`）会显示两者的差别。',

  // Run options
  'run.maxLength.label': '序列长度（token）',
  'run.maxLength.help':
    '样本截断到这么多 token。每个批次只填充到其中最长的样本，所以提高上限只在样本确实那么长时才有开销。' +
    'transformers 没有默认值（TRL 的 SFTTrainer 截断到 1024）；256 是内置模型的上下文长度。',
  'run.valSplit.label': '验证集比例',
  'run.valSplit.help': '留出一部分样本用于计算验证集损失（0 = 不留；transformers 也只在给出验证集时才评估）。',
  'run.quant.label': '权重格式',
  'run.quant.help': 'GPU 上冻结权重 W0 的格式：`f32`，或量化为 `q8`、`q4`、`nf4`（同 QLoRA）。',
  'run.skipBadRecords.label': '跳过错误记录',
  'run.skipBadRecords.help': '跳过有误的记录（并报告数量），而不是报错停止并指出它们所在的行。',

  // Prompt learning (PEFT's prompt tuning, P-tuning and prefix tuning configs)
  'prompt.num_virtual_tokens.label': '虚拟 token 数 `num_virtual_tokens`',
  'prompt.num_virtual_tokens.help':
    '虚拟 token 的数量：每个序列前面的可训练位置（对 prefix tuning 而言，是每一层前面的键和值）。PEFT 没有默认值；20 是其示例所用的值。',
  'prompt.prompt_tuning_init.label': '初始化方式 `prompt_tuning_init`',
  'prompt.prompt_tuning_init.help':
    'prompt tuning 参数的初始化方式：`RANDOM`、`TEXT`（`prompt_tuning_init_text` 各 token 的嵌入，重复或截断到虚拟 token 数：' +
    '把硬提示变成软提示）或 `SAMPLE_VOCAB`（随机词表 token 的嵌入）。',
  'prompt.prompt_tuning_init.choice.RANDOM': 'RANDOM（N(0, 1)）',
  'prompt.prompt_tuning_init.choice.TEXT': 'TEXT（硬提示的嵌入）',
  'prompt.prompt_tuning_init.choice.SAMPLE_VOCAB': 'SAMPLE_VOCAB（随机 token 的嵌入）',
  'prompt.prompt_tuning_init_text.label': '初始化文本 `prompt_tuning_init_text`',
  'prompt.prompt_tuning_init_text.help': 'prompt tuning 初始化所用的文本，仅当 prompt_tuning_init 为 `TEXT` 时使用，例如 "Answer like a pirate:"。',
  'prompt.encoder_reparameterization_type.label': '编码器类型 `encoder_reparameterization_type`',
  'prompt.encoder_reparameterization_type.help':
    '提示编码器的重参数化方式：`MLP`（三层 Linear，带 ReLU）或 `LSTM`（一个双向 LSTM 加两层 Linear）。',
  'prompt.encoder_hidden_size.label': '编码器隐藏维度 `encoder_hidden_size`',
  'prompt.encoder_hidden_size.help':
    '编码器的隐藏维度：P-tuning 的提示编码器，或 prefix tuning 的投影（开启 `prefix_projection` 时）。PEFT 的默认值为 token_dim。',
  'prompt.encoder_num_layers.label': '编码器层数 `encoder_num_layers`',
  'prompt.encoder_num_layers.help': '提示编码器的层数（LSTM 的层数；MLP 编码器固定为三层）。',
  'prompt.encoder_dropout.label': '编码器丢弃率 `encoder_dropout`',
  'prompt.encoder_dropout.help': '提示编码器的 dropout（训练时作用于 LSTM 层之间）。',
  'prompt.prefix_projection.label': '前缀投影 `prefix_projection`',
  'prompt.prefix_projection.help':
    '是否对前缀 token 做投影：关闭时，直接训练前缀的键和值（P-tuning v2 的深度提示）；开启时，它们由可训练的嵌入经 Linear、Tanh、Linear 得到。',

  // Methods: their names are technical names and stay as they are
  'method.lora.label': 'LoRA',
  'method.lora.help': '在线性层上加低秩适配器：每个被适配的 W0 得到一个秩为 r 的可训练更新 B·A；基座模型的权重保持冻结。',
  'method.prompt-tuning.label': 'Prompt tuning',
  'method.prompt-tuning.help': '在每个序列前面加可训练的虚拟 token 嵌入（软提示）；TEXT 初始化让它们从一段手写的提示开始。模型保持冻结。',
  'method.p-tuning.label': 'P-tuning',
  'method.p-tuning.help': '虚拟 token 由一个小型提示编码器（MLP 或 LSTM）从可训练的嵌入生成，编码器随之一起训练。模型保持冻结。',
  'method.prefix-tuning.label': 'Prefix tuning',
  'method.prefix-tuning.help':
    '在每一层注意力前面加可训练的键和值（P-tuning v2 的深度提示），可选由 Linear–Tanh–Linear 投影生成。模型保持冻结。',
  'method.ia3.label': 'IA³',
  'method.ia3.help': '在线性层上学习缩放向量：每个被适配的层把输出（前馈层则是输入）乘以一个从全 1 开始的可训练向量；基座模型的权重保持冻结。',

  // IA³ (PEFT IA3Config)
  'ia3.target_modules.label': '目标模块 `target_modules`',
  'ia3.target_modules.help':
    '为哪些线性层添加 (IA)³ 向量：模块名（按名称的最后一段匹配；命令行中用逗号分隔）、正则表达式（完整匹配），或 `all-linear`。' +
    '每个目标得到一个可训练向量 `ia3_l`，缩放该层的输出（前馈模块则缩放输入）。PEFT 的默认值取决于模型架构' +
    '（gpt2 为 `c_attn`、`mlp.c_proj`；llama 和 qwen2 为 `k_proj`、`v_proj`、`down_proj`）。',
  'ia3.feedforward_modules.label': '前馈模块 `feedforward_modules`',
  'ia3.feedforward_modules.help':
    '被视为前馈层的模块：这些目标缩放的是输入，`(x ⊙ l)·Wᵀ + b`（其余目标缩放输出，偏置也一起缩放）。' +
    "列表按名称后缀直接匹配，正则表达式完整匹配；必须是 `target_modules` 的子集；空列表表示不缩放任何输入。PEFT 的默认值：gpt2 为 `mlp.c_proj`；llama 和 qwen2 为 `down_proj`。",

  // Bottleneck adapters (AdapterHub's BnConfig)
  'method.bottleneck.label': '瓶颈适配器（Bottleneck adapters）',
  'method.bottleneck.help':
    '在每个块的 MLP 之后（pfeiffer），或在注意力和 MLP 之后（houlsby），加入小型可训练 MLP（下投影、非线性、上投影，带残差）；' +
    '上投影从 0 开始，因此适配器初始为恒等映射。以 AdapterHub `adapters` 库的格式保存。',
  'bottleneck.config.label': '配置 `config`',
  'bottleneck.config.help':
    '适配器的位置：`pfeiffer`（AdapterHub 的 `seq_bn`）在每个块的 MLP 之后加一个；`houlsby`（`double_seq_bn`）在注意力之后和 MLP 之后各加一个。' +
    '每个适配器把子层输出 `out` 变为 `out + up(act(down(out)))`，再并入残差流。AdapterHub 的默认值是 `seq_bn`。',
  'bottleneck.config.choice.pfeiffer': 'pfeiffer（MLP 之后）',
  'bottleneck.config.choice.houlsby': 'houlsby（注意力和 MLP 之后）',
  'bottleneck.reduction_factor.label': '缩减因子 `reduction_factor`',
  'bottleneck.reduction_factor.help':
    '瓶颈大小为 `hidden_size // reduction_factor`（AdapterHub 的规则）；必须至少为 1，且不超过 `hidden_size`。AdapterHub 的默认值是 16。',
  'bottleneck.non_linearity.label': '非线性 `non_linearity`',
  'bottleneck.non_linearity.help':
    '下投影与上投影之间的激活函数，名称同 transformers：`swish` 即 x·sigmoid(x)，`gelu` 为精确（erf）GELU，`gelu_new` 为其 tanh 近似。' +
    'AdapterHub 的默认值：`seq_bn`（pfeiffer）为 `relu`，`double_seq_bn`（houlsby）为 `swish`。',
};

export default defineMessages(englishFromSchema(), ZH_SCHEMA_TEXT);
