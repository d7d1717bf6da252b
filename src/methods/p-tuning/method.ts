/** P-tuning as a method of the registry (PEFT's P_TUNING, PromptEncoderConfig). */
import { P_TUNING_FIELDS } from '../../options/prompt-learning-fields';
import { promptLearningMethod } from '../shared/prompt-learning-method';

export const P_TUNING_METHOD = promptLearningMethod(
  'p-tuning',
  'P_TUNING',
  'P-tuning',
  'Virtual tokens made by a small prompt encoder (an MLP or an LSTM) from trainable embeddings; the encoder trains with them. The model stays frozen.',
  P_TUNING_FIELDS,
);
