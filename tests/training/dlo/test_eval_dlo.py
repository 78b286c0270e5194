"""Pseudo-perplexity of a DLO model under each inference rule (training/evaluation/dlo.py): padded batches of
masked copies, so padding and <s> handling meet the real evaluation path."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer

from training.config import REPO
from training.dlo import state
from training.dlo.config import DloSection
from training.dlo.expand import expand_model
from training.evaluation.dlo import inference_rule, pppl_with_rule
from training.evaluation.pppl import pseudo_perplexity

pytestmark = pytest.mark.usefixtures("one_thread_per_process")
TEXTS = {"eng_Latn": ["Everyone has the right to life.", "All human beings are born free and equal."],
         "rus_Cyrl": ["Все люди рождаются свободными."]}


@pytest.fixture(scope="module")
def models(tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = AutoConfig.from_pretrained(str(REPO / "conf/model/tiny-xlmr.json"))
    config.update({"vocab_size": len(tok), "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0})
    torch.manual_seed(0)
    dense = AutoModelForMaskedLM.from_config(config).eval()
    dlo = expand_model(dense, DloSection(expand={"every": 1}, capacity=0.5)).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        for layer in state.routed(dlo):
            layer.router.weight.normal_(0, 0.5)
    return tok, dense, dlo


def test_dense_rule_reproduces_the_original_model(models):
    tok, dense, dlo = models
    ref = pseudo_perplexity(dense, tok, TEXTS, batch_size=8)
    got, fractions = pppl_with_rule(dlo, tok, TEXTS, "dense", batch_size=8)
    for label in TEXTS:
        assert got[label]["nll"] == pytest.approx(ref[label]["nll"], rel=1e-5)
    assert set(fractions.values()) == {1.0}


@pytest.mark.parametrize("rule", ["threshold", "topk"])
def test_routed_rules_skip_tokens_and_restore_the_rule(models, rule):
    tok, _, dlo = models
    got, fractions = pppl_with_rule(dlo, tok, TEXTS, rule, batch_size=8)
    assert all(r["nll"] > 0 for r in got.values())
    assert 0 < min(fractions.values()) < 1, fractions
    if rule == "topk":
        assert all(f == pytest.approx(0.5, abs=0.15) for f in fractions.values())
    assert dlo.roberta.routing_rule is None and dlo.roberta.gather
    with pytest.raises(ValueError, match="unknown DLO inference rule"), inference_rule(dlo, "sometimes"):
        pass
