"""Trains the run exported by PEFT Studio on GPUs, with transformers, PEFT and Accelerate.

Every setting is in recipe.json next to this file (written once there; README.md explains each). The data pipeline
(token ids, loss masks, validation split, step count) is recipe_data.py, a port of the studio's. Launch with
    accelerate launch --config_file accelerate/single_gpu.yaml train.py [--output_dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig, Trainer, TrainingArguments

import recipe_data

HERE = Path(__file__).resolve().parent
RECIPE = json.loads((HERE / "recipe.json").read_text(encoding="utf-8"))
TRAINING = RECIPE["training"]
DTYPE = getattr(torch, RECIPE["dtype"])


class HfTokenizer:
    """recipe_data.Tokenizer over a Hugging Face tokenizer."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.eos_token_id = tokenizer.eos_token_id

    def encode(self, text: str, add_special_tokens: bool) -> list[int]:
        return self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]

    def render_chat(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def quantization_config() -> BitsAndBytesConfig | None:
    """The 4- or 8-bit base the studio trained on (recipe.json "quantization"), or None for a full-precision base."""
    q = RECIPE["quantization"]
    if q is None:
        return None
    if q["load_in_8bit"]:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=q["bnb_4bit_quant_type"],
        bnb_4bit_use_double_quant=q["bnb_4bit_use_double_quant"],
        bnb_4bit_compute_dtype=getattr(torch, q["bnb_4bit_compute_dtype"]),
        # The packed weights are stored in the dtype of the other parameters, so FSDP and ZeRO-3 can shard them
        # together with the rest (QLoRA under FSDP needs this); on one GPU it changes nothing.
        bnb_4bit_quant_storage=getattr(torch, q["bnb_4bit_quant_storage"]),
    )


def load_base():
    base = RECIPE["base"]
    tokenizer = AutoTokenizer.from_pretrained(base["name_or_path"], revision=base["revision"])
    quant = quantization_config()
    # torch_dtype rather than transformers 5's dtype: the bottleneck recipe runs on transformers 4.x, and 5.x still
    # takes torch_dtype.
    model = AutoModelForCausalLM.from_pretrained(
        base["name_or_path"], revision=base["revision"], torch_dtype=DTYPE, quantization_config=quant
    )
    if quant is not None:
        from peft import prepare_model_for_kbit_training

        # The studio trains without gradient checkpointing; the activations stay as they were.
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return model, tokenizer


def add_adapter(model):
    """The method's adapter, from the adapter_config.json object the studio exports (recipe.json "adapter_config")."""
    config = dict(RECIPE["adapter_config"])
    if RECIPE["method"] == "bottleneck":
        # Bottleneck adapters are AdapterHub's (the `adapters` library), not PEFT's.
        import adapters

        adapters.init(model)
        model.add_adapter(config["name"], config=adapters.AdapterConfig.load(config["config"]))
        model.train_adapter(config["name"])
        return model
    from peft import get_peft_config, get_peft_model

    # The exported file says inference_mode true (PEFT writes that on save); PEFT freezes such an adapter.
    config["inference_mode"] = False
    return get_peft_model(model, get_peft_config(config))


def examples(tokenizer) -> tuple[list[dict], list[dict]]:
    records = recipe_data.read_jsonl(str(HERE / RECIPE["data"]["records_file"]))
    tokenized, problems = recipe_data.tokenize_records(records, HfTokenizer(tokenizer), TRAINING["max_length"])
    if problems:
        listed = "\n  ".join(problems[:10])
        if not RECIPE["data"]["skip_bad_records"]:
            raise SystemExit(f"{len(problems)} record(s) have nothing to learn from (the studio stops too):\n  {listed}\n"
                             'set "skip_bad_records": true in recipe.json to leave them out and train on the rest')
        print(f"left out {len(problems)} record(s) with nothing to learn from, as the studio does:\n  {listed}")
    if not tokenized:
        raise SystemExit(f"no example is left to train on: every record is longer than max_length = {TRAINING['max_length']} "
                         "before its first counted token, or has none")
    return recipe_data.split_validation(tokenized, TRAINING["val_split"], TRAINING["seed"])


def check_positions(model, train: list[dict], validation: list[dict]) -> None:
    """GPT-2's positions are a learned table of n_positions rows, and prompt learning's virtual tokens take the first
    ones: the longest example behind them must fit, or the embedding lookup fails mid-run. Rotary models have no table."""
    limit = getattr(model.config, "n_positions", None)
    if limit is None:
        return
    virtual = RECIPE["adapter_config"].get("num_virtual_tokens") or 0
    needed = virtual + max(len(e["input_ids"]) for e in train + validation)
    if needed > limit:
        raise SystemExit(f"the longest example needs {needed} positions ({virtual} virtual tokens in front); the model has "
                         f"{limit} (n_positions): lower max_length in recipe.json")


def collate(pad_token_id: int):
    """Right padding to the longest example of the batch: attention mask 0 and label -100 on the padding."""

    def collate_batch(batch: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(e["input_ids"]) for e in batch)
        pad = [width - len(e["input_ids"]) for e in batch]
        return {
            "input_ids": torch.tensor([e["input_ids"] + [pad_token_id] * p for e, p in zip(batch, pad)]),
            "attention_mask": torch.tensor([[1] * len(e["input_ids"]) + [0] * p for e, p in zip(batch, pad)]),
            "labels": torch.tensor([e["labels"] + [recipe_data.IGNORE_INDEX] * p for e, p in zip(batch, pad)]),
        }

    return collate_batch


def per_device_batches() -> tuple[int, int]:
    """Per-GPU batch size and accumulation that keep the studio's examples per optimizer step on every GPU count."""
    batch, accum = TRAINING["per_device_train_batch_size"], TRAINING["gradient_accumulation_steps"]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return batch, accum
    if batch % world == 0:
        return batch // world, accum
    if accum % world == 0:
        return batch, accum // world
    print(f"warning: neither the batch size {batch} nor the accumulation {accum} divides by {world} GPUs; "
          f"each optimizer step now sees {batch * accum * world} examples instead of {batch * accum}")
    return batch, accum


def optimizer(model):
    """LoRA+ (PEFT's create_loraplus_optimizer) when the studio used it; otherwise the Trainer's own AdamW."""
    ratio = TRAINING["loraplus_lr_ratio"]
    if ratio == 1:
        return None
    from peft.optimizers import create_loraplus_optimizer

    return create_loraplus_optimizer(
        model, torch.optim.AdamW, lr=TRAINING["learning_rate"], loraplus_lr_ratio=ratio,
        weight_decay=TRAINING["weight_decay"], betas=(TRAINING["adam_beta1"], TRAINING["adam_beta2"]),
        eps=TRAINING["adam_epsilon"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default=str(HERE / "output"), help="where checkpoints and the adapter go")
    args = parser.parse_args()

    model, tokenizer = load_base()
    train, validation = examples(tokenizer)
    check_positions(model, train, validation)
    batch, accum = per_device_batches()
    steps = recipe_data.total_steps(
        len(train), TRAINING["max_steps"], TRAINING["num_train_epochs"],
        TRAINING["per_device_train_batch_size"], TRAINING["gradient_accumulation_steps"],
    )
    print(f"{len(train)} training and {len(validation)} validation examples; {steps} optimizer steps")
    model = add_adapter(model)

    eval_steps, save_steps = TRAINING["eval_steps"], TRAINING["save_steps"]
    training_args = TrainingArguments(
        output_dir=args.output_dir,
        learning_rate=TRAINING["learning_rate"],
        lr_scheduler_type=TRAINING["lr_scheduler_type"],
        warmup_steps=TRAINING["warmup_steps"],
        # Always a step count: the studio's own count for epochs (recipe_data.total_steps), which differs from
        # transformers' when the accumulation does not divide the batches of an epoch.
        max_steps=steps,
        per_device_train_batch_size=batch,
        per_device_eval_batch_size=batch,
        gradient_accumulation_steps=accum,
        max_grad_norm=TRAINING["max_grad_norm"],
        weight_decay=TRAINING["weight_decay"],
        adam_beta1=TRAINING["adam_beta1"],
        adam_beta2=TRAINING["adam_beta2"],
        adam_epsilon=TRAINING["adam_epsilon"],
        optim="adamw_torch",
        seed=TRAINING["seed"],
        eval_strategy=("steps" if eval_steps > 0 else "no") if validation else "no",
        eval_steps=eval_steps if eval_steps > 0 else None,
        save_strategy="steps" if save_steps > 0 else "no",
        save_steps=save_steps if save_steps > 0 else 500,
        gradient_checkpointing=TRAINING["gradient_checkpointing"],
        # Non-reentrant checkpointing: the frozen embeddings need no requires_grad for the adapter's gradients.
        gradient_checkpointing_kwargs={"use_reentrant": False},
        logging_steps=1,
        remove_unused_columns=False,
        # The studio's loss is the mean over the counted tokens of each micro-batch, averaged over micro-batches;
        # per-device means, not tokens summed across devices.
        average_tokens_across_devices=False,
        report_to="none",
    )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train,
        eval_dataset=validation or None,
        data_collator=collate(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id),
        optimizers=(optimizer(model), None),
    )
    # Without this, transformers divides the summed token losses of all micro-batches by their total token count;
    # the studio (and transformers before 4.46) averages the micro-batches' own means: loss / accumulation.
    trainer.model_accepts_loss_kwargs = False
    trainer.train()
    if validation:
        print(trainer.evaluate())

    adapter_dir = Path(args.output_dir) / "adapter"
    if RECIPE["method"] == "bottleneck":
        if trainer.is_world_process_zero():
            model.save_adapter(str(adapter_dir), RECIPE["adapter_config"]["name"], use_safetensors=True)
    else:
        trainer.save_model(str(adapter_dir))
    if trainer.is_world_process_zero():
        print(f"adapter saved to {adapter_dir}; import it in the studio (Export step -> Import) "
              f"or use it with: peft-studio generate --adapter {adapter_dir}")


if __name__ == "__main__":
    main()
