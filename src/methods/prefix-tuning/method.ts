/** Prefix tuning as a method of the registry (PEFT's PREFIX_TUNING; without projection, P-tuning v2's deep prompt). */
import { PREFIX_TUNING_FIELDS } from '../../options/prompt-learning-fields';
import { promptLearningMethod } from '../shared/prompt-learning-method';

export const PREFIX_TUNING_METHOD = promptLearningMethod(
  'prefix-tuning',
  'PREFIX_TUNING',
  'Prefix tuning',
  "Trainable keys and values in front of every layer's attention (P-tuning v2's deep prompt), optionally made by a Linear–Tanh–Linear projection. The model stays frozen.",
  PREFIX_TUNING_FIELDS,
);
