"""Export a DeepSpeed checkpoint (ZeRO 0-3) as a consolidated HF model directory plus the tokenizer, loadable
with `AutoModelForMaskedLM` / `AutoTokenizer`. Runs on CPU from the saved files alone, so it also works after
the training job is gone: `python -m training.export --checkpoint OUT/checkpoints --output OUT/hf`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch
from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint
from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer

from pipeline.errors import UserError
from training.checkpoint import latest_tag
from training.dlo import modeling as _dlo_modeling  # noqa: F401  (registers DLO auto classes)

log = logging.getLogger(__name__)

PREFIX = "mlm."  # parameter prefix of training.mlm.MaskedOnlyMLM
MODEL_CONFIG = "model_config"  # the HF config of the trained model, saved next to the checkpoints


def consolidated_state_dict(ckpt_dir: Path, tag: str) -> dict[str, torch.Tensor]:
    zero_files = list((ckpt_dir / tag).glob("*optim_states.pt"))
    if zero_files and any("zero" in p.name for p in zero_files):
        state = get_fp32_state_dict_from_zero_checkpoint(str(ckpt_dir), tag=tag)
    else:  # no ZeRO: the module state is stored whole
        state = torch.load(ckpt_dir / tag / "mp_rank_00_model_states.pt", weights_only=False)["module"]
    return {k.removeprefix(PREFIX): v.float() for k, v in state.items()}


def export_hf(ckpt_dir: str | Path, output: str | Path, tokenizer_dir: str | Path, tag: str | None = None) -> Path:
    ckpt_dir, output = Path(ckpt_dir), Path(output)
    tag = tag or latest_tag(ckpt_dir)
    if tag is None:
        raise UserError(f"no checkpoint in {ckpt_dir}")
    config = AutoConfig.from_pretrained(str(ckpt_dir / MODEL_CONFIG))
    model = AutoModelForMaskedLM.from_config(config)
    state = consolidated_state_dict(ckpt_dir, tag)
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = {"lm_head.decoder.weight", "lm_head.decoder.bias"}  # shared with the embeddings / lm_head.bias
    missing = [k for k in missing if k not in tied and not k.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"checkpoint does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.tie_weights()
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(output))
    AutoTokenizer.from_pretrained(str(tokenizer_dir)).save_pretrained(str(output))
    log.info("exported %s/%s to %s", ckpt_dir, tag, output)
    return output


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", required=True, help="the run's checkpoints/ directory")
    p.add_argument("--tokenizer", required=True, help="the extended tokenizer directory")
    p.add_argument("--output", required=True)
    p.add_argument("--tag", help="checkpoint tag (default: latest)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    try:
        export_hf(args.checkpoint, args.output, args.tokenizer, args.tag)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
