/** Prompt tuning as a method of the registry (PEFT's PROMPT_TUNING). */
import { PROMPT_TUNING_FIELDS } from '../../options/prompt-learning-fields';
import { promptLearningMethod } from '../shared/prompt-learning-method';

export const PROMPT_TUNING_METHOD = promptLearningMethod(
  'prompt-tuning',
  'PROMPT_TUNING',
  'Prompt tuning',
  'Trainable virtual-token embeddings in front of every sequence (a soft prompt); TEXT init starts them from a hand-written prompt. The model stays frozen.',
  PROMPT_TUNING_FIELDS,
);
