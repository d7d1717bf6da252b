/**
 * The accelerate launch configs of the recipe: one GPU, several GPUs with DDP, FSDP (FULL_SHARD, one shard unit per
 * decoder block) and DeepSpeed ZeRO-3. Mixed precision stays off: the studio computes in float32, and so does the
 * recipe (recipe.json "dtype"). num_processes is 2 in the multi-GPU configs; `accelerate launch --num_processes N`
 * overrides it. The settings a quantized (QLoRA) base needs under FSDP and ZeRO-3 are set here for every run, since
 * they do no harm to a full-precision one: fsdp_cpu_ram_efficient_loading with fsdp_sync_module_states (rank 0 loads
 * and broadcasts), fsdp_use_orig_params false, and zero3_init_flag; train.py stores the 4-bit weights in the compute
 * dtype (bnb_4bit_quant_storage) so that they shard with the rest.
 */
import type { ModelConfig } from '../model/config';
import { DECODER_LAYER_CLASSES } from './recipe-settings';

export const ACCELERATE_CONFIG_FILES = {
  singleGpu: 'accelerate/single_gpu.yaml',
  multiGpu: 'accelerate/multi_gpu.yaml',
  fsdp: 'accelerate/fsdp.yaml',
  deepspeedZero3: 'accelerate/deepspeed_zero3.yaml',
  zero3Json: 'accelerate/deepspeed/zero3.json',
} as const;

const MACHINE = ['compute_environment: LOCAL_MACHINE', 'num_machines: 1', 'machine_rank: 0', "mixed_precision: 'no'", 'use_cpu: false'];

function yaml(lines: string[]): string {
  return lines.join('\n') + '\n';
}

/** The config files by path. */
export function accelerateConfigFiles(model: ModelConfig): Map<string, string> {
  const files = new Map<string, string>();
  files.set(ACCELERATE_CONFIG_FILES.singleGpu, yaml(["distributed_type: 'NO'", 'num_processes: 1', "gpu_ids: '0'", ...MACHINE]));
  files.set(ACCELERATE_CONFIG_FILES.multiGpu, yaml(['distributed_type: MULTI_GPU', 'num_processes: 2', 'gpu_ids: all', ...MACHINE]));
  files.set(
    ACCELERATE_CONFIG_FILES.fsdp,
    yaml([
      'distributed_type: FSDP',
      'num_processes: 2',
      ...MACHINE,
      'fsdp_config:',
      '  fsdp_version: 1',
      '  fsdp_sharding_strategy: FULL_SHARD',
      '  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP',
      `  fsdp_transformer_layer_cls_to_wrap: ${DECODER_LAYER_CLASSES[model.modelType]}`,
      '  fsdp_backward_prefetch: BACKWARD_PRE',
      '  fsdp_forward_prefetch: false',
      '  fsdp_offload_params: false',
      '  fsdp_state_dict_type: FULL_STATE_DICT',
      '  fsdp_cpu_ram_efficient_loading: true',
      '  fsdp_sync_module_states: true',
      '  fsdp_use_orig_params: false',
    ]),
  );
  files.set(
    ACCELERATE_CONFIG_FILES.deepspeedZero3,
    yaml([
      'distributed_type: DEEPSPEED',
      'num_processes: 2',
      ...MACHINE,
      'deepspeed_config:',
      `  deepspeed_config_file: ${ACCELERATE_CONFIG_FILES.zero3Json}`,
      '  zero3_init_flag: true',
    ]),
  );
  // "auto" values are filled in by transformers from TrainingArguments (train.py), so recipe.json stays the one
  // place of every setting; no optimizer block, so the Trainer's torch AdamW (or LoRA+'s groups) is used.
  const zero3 = {
    zero_optimization: {
      stage: 3,
      overlap_comm: true,
      contiguous_gradients: true,
      reduce_bucket_size: 'auto',
      stage3_prefetch_bucket_size: 'auto',
      stage3_param_persistence_threshold: 'auto',
      stage3_gather_16bit_weights_on_model_save: true,
    },
    gradient_accumulation_steps: 'auto',
    gradient_clipping: 'auto',
    train_batch_size: 'auto',
    train_micro_batch_size_per_gpu: 'auto',
    bf16: { enabled: false },
    fp16: { enabled: false },
  };
  files.set(ACCELERATE_CONFIG_FILES.zero3Json, JSON.stringify(zero3, null, 2) + '\n');
  return files;
}
