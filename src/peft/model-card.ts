/**
 * The README.md model card PEFT writes next to an adapter (`peft_model.py`, PeftModel.create_or_update_model_card,
 * for a new folder): huggingface_hub's default model card template (`templates/modelcard_template.md`, rendered by
 * `ModelCard.from_template(ModelCardData())` with every field empty, which Jinja renders without its final newline),
 * front matter with library_name "peft", the base model, pipeline_tag "text-generation" (PeftModelForCausalLM) and
 * the sorted tags (peftModelCardTags; for LoRA ["base_model:adapter:<base>", "lora", "transformers"]; no tags key when
 * there are none, as `if tags:` leaves it unset), and "### Framework versions\n\n- PEFT <v>" appended. The LoRA card
 * was checked byte for byte against PEFT 0.21.0 with huggingface_hub 1.33.0; the prompt-learning tags are read from
 * PEFT's source, not yet compared with a saved card.
 *
 * The front matter is PyYAML's `yaml.dump(data, allow_unicode=True, sort_keys=False)` in ModelCardData's field
 * order (base_model, library_name, pipeline_tag, tags); yamlScalar quotes a string where PyYAML would.
 */
import { architectureOf } from '../model/architectures/index';
import type { ModelConfig } from '../model/config';
import type { AdapterType } from './peft-type';
import { PEFT_VERSION } from './peft-version';
import { compareCodePoints } from './python-json';

/** The template body after its front matter, rendered with every field empty (one array entry per line). */
const TEMPLATE_BODY_LINES: readonly string[] = [
  '',
  '# Model Card for Model ID',
  '',
  '<!-- Provide a quick summary of what the model is/does. -->',
  '',
  '',
  '',
  '## Model Details',
  '',
  '### Model Description',
  '',
  '<!-- Provide a longer summary of what this model is. -->',
  '',
  '',
  '',
  '- **Developed by:** [More Information Needed]',
  '- **Funded by [optional]:** [More Information Needed]',
  '- **Shared by [optional]:** [More Information Needed]',
  '- **Model type:** [More Information Needed]',
  '- **Language(s) (NLP):** [More Information Needed]',
  '- **License:** [More Information Needed]',
  '- **Finetuned from model [optional]:** [More Information Needed]',
  '',
  '### Model Sources [optional]',
  '',
  '<!-- Provide the basic links for the model. -->',
  '',
  '- **Repository:** [More Information Needed]',
  '- **Paper [optional]:** [More Information Needed]',
  '- **Demo [optional]:** [More Information Needed]',
  '',
  '## Uses',
  '',
  '<!-- Address questions around how the model is intended to be used, including the foreseeable users of the model and those affected by the model. -->',
  '',
  '### Direct Use',
  '',
  '<!-- This section is for the model use without fine-tuning or plugging into a larger ecosystem/app. -->',
  '',
  '[More Information Needed]',
  '',
  '### Downstream Use [optional]',
  '',
  '<!-- This section is for the model use when fine-tuned for a task, or when plugged into a larger ecosystem/app -->',
  '',
  '[More Information Needed]',
  '',
  '### Out-of-Scope Use',
  '',
  '<!-- This section addresses misuse, malicious use, and uses that the model will not work well for. -->',
  '',
  '[More Information Needed]',
  '',
  '## Bias, Risks, and Limitations',
  '',
  '<!-- This section is meant to convey both technical and sociotechnical limitations. -->',
  '',
  '[More Information Needed]',
  '',
  '### Recommendations',
  '',
  '<!-- This section is meant to convey recommendations with respect to the bias, risk, and technical limitations. -->',
  '',
  'Users (both direct and downstream) should be made aware of the risks, biases and limitations of the model. More information needed for further recommendations.',
  '',
  '## How to Get Started with the Model',
  '',
  'Use the code below to get started with the model.',
  '',
  '[More Information Needed]',
  '',
  '## Training Details',
  '',
  '### Training Data',
  '',
  '<!-- This should link to a Dataset Card, perhaps with a short stub of information on what the training data is all about as well as documentation related to data pre-processing or additional filtering. -->',
  '',
  '[More Information Needed]',
  '',
  '### Training Procedure',
  '',
  '<!-- This relates heavily to the Technical Specifications. Content here should link to that section when it is relevant to the training procedure. -->',
  '',
  '#### Preprocessing [optional]',
  '',
  '[More Information Needed]',
  '',
  '',
  '#### Training Hyperparameters',
  '',
  '- **Training regime:** [More Information Needed] <!--fp32, fp16 mixed precision, bf16 mixed precision, bf16 non-mixed precision, fp16 non-mixed precision, fp8 mixed precision -->',
  '',
  '#### Speeds, Sizes, Times [optional]',
  '',
  '<!-- This section provides information about throughput, start/end time, checkpoint size if relevant, etc. -->',
  '',
  '[More Information Needed]',
  '',
  '## Evaluation',
  '',
  '<!-- This section describes the evaluation protocols and provides the results. -->',
  '',
  '### Testing Data, Factors & Metrics',
  '',
  '#### Testing Data',
  '',
  '<!-- This should link to a Dataset Card if possible. -->',
  '',
  '[More Information Needed]',
  '',
  '#### Factors',
  '',
  '<!-- These are the things the evaluation is disaggregating by, e.g., subpopulations or domains. -->',
  '',
  '[More Information Needed]',
  '',
  '#### Metrics',
  '',
  '<!-- These are the evaluation metrics being used, ideally with a description of why. -->',
  '',
  '[More Information Needed]',
  '',
  '### Results',
  '',
  '[More Information Needed]',
  '',
  '#### Summary',
  '',
  '',
  '',
  '## Model Examination [optional]',
  '',
  '<!-- Relevant interpretability work for the model goes here -->',
  '',
  '[More Information Needed]',
  '',
  '## Environmental Impact',
  '',
  '<!-- Total emissions (in grams of CO2eq) and additional considerations, such as electricity usage, go here. Edit the suggested text below accordingly -->',
  '',
  'Carbon emissions can be estimated using the [Machine Learning Impact calculator](https://mlco2.github.io/impact#compute) presented in [Lacoste et al. (2019)](https://arxiv.org/abs/1910.09700).',
  '',
  '- **Hardware Type:** [More Information Needed]',
  '- **Hours used:** [More Information Needed]',
  '- **Cloud Provider:** [More Information Needed]',
  '- **Compute Region:** [More Information Needed]',
  '- **Carbon Emitted:** [More Information Needed]',
  '',
  '## Technical Specifications [optional]',
  '',
  '### Model Architecture and Objective',
  '',
  '[More Information Needed]',
  '',
  '### Compute Infrastructure',
  '',
  '[More Information Needed]',
  '',
  '#### Hardware',
  '',
  '[More Information Needed]',
  '',
  '#### Software',
  '',
  '[More Information Needed]',
  '',
  '## Citation [optional]',
  '',
  '<!-- If there is a paper or blog post introducing the model, the APA and Bibtex information for that should go in this section. -->',
  '',
  '**BibTeX:**',
  '',
  '[More Information Needed]',
  '',
  '**APA:**',
  '',
  '[More Information Needed]',
  '',
  '## Glossary [optional]',
  '',
  '<!-- If relevant, include terms and calculations in this section that can help readers understand the model or model card. -->',
  '',
  '[More Information Needed]',
  '',
  '## More Information [optional]',
  '',
  '[More Information Needed]',
  '',
  '## Model Card Authors [optional]',
  '',
  '[More Information Needed]',
  '',
  '## Model Card Contact',
  '',
  '[More Information Needed]'
];

// PyYAML's implicit resolvers (yaml/resolver.py, YAML 1.1): a plain scalar matching one of these would load as a
// bool, int, float, null, timestamp, merge key or value, so PyYAML quotes such strings.
const YAML_IMPLICIT = [
  /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  /^(?:<<)$/,
  /^(?:~|null|Null|NULL|)$/,
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/,
  /^(?:=)$/,
];

/**
 * A YAML scalar for a string as PyYAML's block-context emitter writes it: plain where that reads back as the same
 * string, single-quoted otherwise, double-quoted with escapes where the string has control characters.
 */
export function yamlScalar(s: string): string {
  if (/[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff]|[\n\r\t]/.test(s)) return JSON.stringify(s);
  let plain = s.length > 0 && !YAML_IMPLICIT.some((re) => re.test(s));
  if (plain) {
    const first = s[0];
    const followedBySpace = (i: number) => i + 1 >= s.length || s[i + 1] === ' ';
    if ('#,[]{}&*!|>\'"%@`'.includes(first)) plain = false;
    else if ((first === '?' || first === ':' || first === '-') && followedBySpace(0)) plain = false;
    else if (s.startsWith('---') || s.startsWith('...')) plain = false;
    else if (s[0] === ' ' || s[s.length - 1] === ' ') plain = false;
    else {
      for (let i = 1; i < s.length; i++) {
        if (s[i] === ':' && followedBySpace(i)) plain = false;
        if (s[i] === '#' && s[i - 1] === ' ') plain = false;
      }
    }
  }
  return plain ? s : `'${s.replace(/'/g, "''")}'`;
}

/**
 * The model card's tags (`peft_model.py`, _get_peft_specific_model_tags): "transformers" when the PeftModel's
 * base_model has a `.model` that is a transformers model, "lora" for LoRA, and "base_model:adapter:<base>". For LoRA
 * base_model is the LoraModel, whose `.model` is the transformers model. For prompt learning base_model is the
 * transformers CausalLM itself, so the tag depends on its backbone's attribute name: LlamaForCausalLM and
 * Qwen2ForCausalLM keep it in `.model`, GPT2LMHeadModel in `.transformer` (no "transformers" tag).
 */
export function peftModelCardTags(opts: { baseModel: string | null; peftType?: AdapterType; model?: ModelConfig }): string[] {
  const peftType = opts.peftType ?? 'LORA';
  const tags: string[] = [];
  if (peftType === 'LORA') tags.push('transformers', 'lora');
  // IA³'s base_model is the IA3Model, whose `.model` is the transformers model (no method tag: PEFT adds only "lora").
  else if (peftType === 'IA3') tags.push('transformers');
  // AdapterHub's adapters (no PEFT): the Hub's library tag for the `adapters` library.
  else if (peftType === 'BOTTLENECK') tags.push('adapter-transformers');
  else {
    if (!opts.model) throw new Error(`peftModelCardTags: ${peftType} needs the base model's config (its backbone's name decides the "transformers" tag)`);
    if (architectureOf(opts.model).modules(opts.model).some((m) => m.name === 'model')) tags.push('transformers');
  }
  if (opts.baseModel !== null) tags.push(`base_model:adapter:${opts.baseModel}`);
  return [...new Set(tags)].sort(compareCodePoints);
}

/**
 * README.md for an adapter of `baseModel`, exactly as PEFT writes it into a new folder (no final newline). The
 * default method is LoRA; a prompt-learning method needs `model` for its tags (peftModelCardTags).
 */
export function peftModelCard(opts: { baseModel: string | null; peftVersion?: string; peftType?: AdapterType; model?: ModelConfig }): string {
  const text = [...TEMPLATE_BODY_LINES, frameworkVersions(opts.peftVersion)].join('\n');
  return `${frontMatter(opts)}${text}`;
}

/** The YAML metadata block the Hub reads (base_model, library_name, pipeline_tag, tags), as PEFT writes it. */
export function frontMatter(opts: { baseModel: string | null; peftType?: AdapterType; model?: ModelConfig }): string {
  const yaml: string[] = [];
  if (opts.baseModel !== null) yaml.push(`base_model: ${yamlScalar(opts.baseModel)}`);
  yaml.push(`library_name: ${opts.peftType === 'BOTTLENECK' ? 'adapter-transformers' : 'peft'}`, 'pipeline_tag: text-generation');
  const tags = peftModelCardTags(opts);
  if (tags.length > 0) yaml.push('tags:', ...tags.map((t) => `- ${yamlScalar(t)}`));
  return `---\n${yaml.join('\n')}\n---\n`;
}

/** The card's last section, as PEFT appends it. */
export function frameworkVersions(peftVersion = PEFT_VERSION): string {
  return `### Framework versions\n\n- PEFT ${peftVersion}`;
}
