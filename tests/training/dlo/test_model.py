"""DLO model properties on a tiny random XLM-R: function preservation at expansion, capacity 1.0 equals dense,
gather/scatter equals masked compute, routing rules (<s>, padding, at least one token), save/load round trip."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModelForMaskedLM

from pipeline.errors import UserError
from training.config import REPO, ModelSection
from training.dlo import state
from training.dlo.config import DloSection
from training.dlo.expand import expand_model, layout
from training.dlo.modeling import DloXLMRobertaForMaskedLM
from training.mlm import MaskedOnlyMLM

pytestmark = pytest.mark.usefixtures("one_thread_per_process")
VOCAB = 300


def dense_model(dropout: float = 0.0):
    config = AutoConfig.from_pretrained(str(REPO / "conf/model/tiny-xlmr.json"))
    config.update({"vocab_size": VOCAB, "hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout})
    torch.manual_seed(0)
    return AutoModelForMaskedLM.from_config(config).eval()


def batch(padded: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, VOCAB, (3, 24), generator=g)
    ids[:, 0] = 0  # <s>
    ids[2, 10] = 0  # a packed second sequence
    att = torch.ones_like(ids)
    if padded:
        att[1, 15:] = 0
        ids[1, 15:] = 1
    return ids, att


def randomise_routers(model: DloXLMRobertaForMaskedLM, std: float = 0.5) -> None:
    torch.manual_seed(3)
    with torch.no_grad():
        for layer in state.routed(model):
            layer.router.weight.normal_(0, std)
            layer.router.bias.fill_(0.1)


def logits(model, ids, att) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=att).logits


def test_layout_every_and_after():
    assert layout(4, DloSection(expand={"every": 2})) == [(0, False), (1, False), (1, True), (2, False),
                                                          (3, False), (3, True)]
    assert layout(2, DloSection(expand={"after": [0]})) == [(0, False), (0, True), (1, False)]
    with pytest.raises(UserError, match="do not exist"):
        layout(2, DloSection(expand={"after": [5]}))
    with pytest.raises(ValueError, match="exactly one"):
        DloSection(expand={"every": 2, "after": [1]})
    with pytest.raises(ValueError, match="fixed_capacities"):
        DloSection(router="random")
    assert ModelSection(config="x.json", dlo={"expand": {"every": 1}}).dlo.capacity == 0.9


@pytest.mark.parametrize("section", [
    {"expand": {"every": 1}, "is_dlo": False},  # the dense expanded model (b)
    {"expand": {"every": 1}, "routed": "all", "inference": "dense"},  # DLO run densely (d)
])
def test_expansion_preserves_the_function(section):
    dense = dense_model()
    ids, att = batch()
    model = expand_model(dense, DloSection(**section)).eval()
    assert model.config.num_hidden_layers == 4 and model.config.dlo_gated == [1, 3]
    assert torch.equal(logits(model, ids, att), logits(dense, ids, att))
    # the new layers are copies of the ones before them
    for j, i in ((1, 0), (3, 1)):
        a = model.roberta.encoder.layer[j].output.dense.weight
        assert torch.equal(a, dense.roberta.encoder.layer[i].output.dense.weight)


def test_gate_opens_the_new_layer():
    dense = dense_model()
    model = expand_model(dense, DloSection(expand={"every": 1}, is_dlo=False)).eval()
    ids, att = batch()
    with torch.no_grad():
        model.roberta.encoder.layer[1].dlo_gate.fill_(0.5)
    assert not torch.allclose(logits(model, ids, att), logits(dense, ids, att))


def test_capacity_one_equals_dense_in_training_mode():
    """Routing at capacity 1.0 (the start of annealing) runs every token: exactly the dense computation,
    while the routers already receive gradient through the rescale."""
    dense = dense_model()
    model = expand_model(dense, DloSection(expand={"every": 1}, capacity=0.5, anneal_steps=10))
    randomise_routers(model)
    ids, _ = batch(padded=False)
    model.train()
    state.begin_step(model, 0)
    out = model(input_ids=ids).logits
    assert torch.equal(out, logits(dense, ids, None))
    assert set(state.executed_fractions(model).values()) == {1.0}
    out.sum().backward()
    grads = {layer.layer_idx: float(layer.router.weight.grad.abs().sum()) for layer in state.routed(model)}
    assert grads[0] > 0 and grads[2] > 0, grads  # new layers' routers wait for their gate to open
    assert all(float(model.roberta.encoder.layer[j].dlo_gate.grad) != 0 for j in (1, 3))


def test_annealed_capacity_and_topk_over_batch():
    model = expand_model(dense_model(), DloSection(expand={"every": 1}, capacity=0.5, anneal_steps=10)).train()
    randomise_routers(model)
    ids, _ = batch(padded=False)
    state.begin_step(model, 5)  # halfway: capacity 0.75
    model(input_ids=ids)
    n = ids.numel()
    for frac in state.executed_fractions(model).values():
        assert frac == round(0.75 * n) / n
    state.begin_step(model, 20)  # annealed: the layer capacity
    model(input_ids=ids)
    for frac in state.executed_fractions(model).values():
        assert frac == round(0.5 * n) / n


@pytest.mark.parametrize("rule", ["threshold", "topk"])
def test_gather_scatter_equals_masked_compute(rule):
    model = expand_model(dense_model(), DloSection(expand={"every": 1}, capacity=0.6, inference=rule)).eval()
    randomise_routers(model)
    ids, att = batch()
    model.roberta.gather = False
    masked = logits(model, ids, att)
    fractions = state.executed_fractions(model)
    model.roberta.gather = True
    gathered = logits(model, ids, att)
    assert state.executed_fractions(model) == fractions
    assert 0 < min(fractions.values()) < 1, fractions  # tokens really were skipped
    valid = att.bool()
    torch.testing.assert_close(gathered[valid], masked[valid], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(masked, logits(dense_model(), ids, att), atol=1e-3)  # and skipping changes the output


def test_rules_keep_bos_skip_padding_and_run_one_token():
    from training.dlo import routing

    valid = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    forced = torch.zeros_like(valid)
    forced[:, 0] = True
    low = torch.full(valid.shape, -5.0)
    sel = routing.threshold(low, valid, forced)
    assert sel[:, 0].all() and int(sel.sum()) == 2  # only <s>
    none_forced = torch.zeros_like(valid)
    assert int(routing.threshold(low, valid, none_forced).sum()) == 1  # never an empty layer
    high = torch.full(valid.shape, 5.0)
    assert torch.equal(routing.threshold(high, valid, forced), valid)  # padding never runs
    scores = torch.arange(12, dtype=torch.float).view(2, 6)
    sel = routing.topk_per_sequence(scores, valid, forced, 0.5)
    assert sel.sum(1).tolist() == [2, 3] and sel[:, 0].all() and not (sel & ~valid).any()
    sel = routing.topk_over_batch(scores, valid, forced, 0.5)
    assert int(sel.sum()) == 5 and sel[:, 0].all() and not (sel & ~valid).any()


def test_router_loss_labels_match_capacity():
    from training.dlo.labels import cos_global_labels

    g = torch.Generator().manual_seed(0)
    cos = [torch.rand(2, 8, generator=g) for _ in range(3)]
    mask = torch.ones(2, 8, dtype=torch.bool)
    mask[1, 5:] = False
    labels = cos_global_labels(cos, mask, 0.7)
    total = 3 * int(mask.sum())
    assert int(sum(lab.sum() for lab in labels)) == round(0.7 * total)
    assert all(float(lab[~mask].sum()) == 0 for lab in labels)
    run = torch.cat([c[mask][lab[mask] == 1] for c, lab in zip(cos, labels, strict=True)])
    skip = torch.cat([c[mask][lab[mask] == 0] for c, lab in zip(cos, labels, strict=True)])
    assert run.max() <= skip.min()  # the most changed pairs run

    model = expand_model(dense_model(), DloSection(expand={"every": 1}, capacity=0.7, loss_coef=0.5)).train()
    wrapper = MaskedOnlyMLM(model).train()
    ids, _ = batch(padded=False)
    labels_mlm = torch.full_like(ids, -100)
    labels_mlm[:, 3] = ids[:, 3]
    loss, n, aux = wrapper(ids, labels_mlm)
    assert int(n) == 3 and torch.isfinite(aux) and float(aux.detach()) > 0
    counts = torch.stack([layer.label_counts for layer in state.routed(model)])
    n_pairs = int(ids.numel() - (ids == 0).sum())  # the <s> tokens (always run) are not labelled
    assert counts[:, 1].tolist() == [n_pairs] * 4
    assert float(counts[:, 0].sum()) == round(0.7 * 4 * n_pairs)
    state.sync_capacities(model)  # the EMA moves each capacity towards its label rate
    rates = (counts[:, 0] / counts[:, 1]).tolist()
    for layer, rate in zip(state.routed(model), rates, strict=True):
        assert float(layer.dlo_capacity) == pytest.approx(0.9 * 0.7 + 0.1 * rate, abs=1e-6)


def test_save_load_round_trip(tmp_path):
    model = expand_model(dense_model(), DloSection(expand={"every": 2}, capacity=0.6, inference="topk")).eval()
    randomise_routers(model)
    with torch.no_grad():
        model.roberta.encoder.layer[2].dlo_gate.fill_(0.3)
        state.routed(model)[1].dlo_capacity.fill_(0.42)
    ids, att = batch()
    before = logits(model, ids, att)
    model.save_pretrained(str(tmp_path))
    loaded = AutoModelForMaskedLM.from_pretrained(str(tmp_path)).eval()
    assert type(loaded) is DloXLMRobertaForMaskedLM and loaded.config.dlo_inference == "topk"
    assert float(state.routed(loaded)[1].dlo_capacity) == pytest.approx(0.42)
    assert float(loaded.roberta.encoder.layer[2].dlo_gate.detach()) == pytest.approx(0.3)
    assert torch.equal(logits(loaded, ids, att), before)


def test_random_router_baseline_uses_fixed_capacities():
    section = DloSection(expand={"every": 1}, router="random", fixed_capacities=[1.0, 0.5, 0.5, 0.25])
    model = expand_model(dense_model(), section).eval()
    assert not any(hasattr(layer, "router") for layer in state.routed(model))
    ids, _ = batch(padded=False)
    logits(model, ids, None)
    fr = state.executed_fractions(model)
    assert fr[0] == 1.0 and fr[1] == pytest.approx(0.5, abs=0.05) and fr[3] == pytest.approx(0.25, abs=0.05)
    with pytest.raises(UserError, match="3 routed layers|4 routed layers"):
        expand_model(dense_model(), DloSection(expand={"every": 1}, router="random", fixed_capacities=[1.0]))


@pytest.mark.parametrize("name", ["dlo_test.yaml", "dlo_demo.yaml"])
def test_shipped_configs_validate(name):
    from training.config import load_train_config

    cfg = load_train_config(f"conf/train/{name}")
    assert cfg.model.dlo is not None and cfg.model.dlo.is_dlo and cfg.model.dlo.expand is not None


def test_flops_count_the_executed_ffn_and_the_head():
    from training.dlo.flops import flops_per_token

    config = dense_model().config  # hidden 64, FFN 128, 2 layers, vocabulary 300
    dense = flops_per_token(config, 10)
    layer = 2 * 4 * 64 * 64 + 2 * 2 * 10 * 64 + 2 * 2 * 64 * 128
    assert dense["encoder"] == 2 * layer and dense["head"] == 2 * 64 * 64 + 2 * 64 * 300
    half = flops_per_token(config, 10, {1: 0.5}, routed=[1])
    assert half["encoder"] == dense["encoder"] - 0.5 * 2 * 2 * 64 * 128 + 2 * 64


def test_optimizer_groups_gates_routers_and_new_layers():
    from training.config import TrainConfig
    from training.train import make_optimizer

    section = {"expand": {"every": 1}, "gate_lr": 0.05, "router_lr": 0.02, "new_layers_lr": 0.003}
    cfg = TrainConfig.model_validate({"corpus": "-", "tokenizer": "-", "max_steps": 10, "optim": {"lr": 1e-3},
                                      "model": {"config": "conf/model/tiny-xlmr.json", "dlo": section}})
    wrapper = MaskedOnlyMLM(expand_model(dense_model(), cfg.model.dlo))
    opt, _ = make_optimizer(wrapper, cfg)
    ids = {id(p): g for g in opt.param_groups for p in g["params"]}
    assert len(ids) == sum(1 for p in wrapper.parameters() if p.requires_grad)  # each parameter once
    names = dict(wrapper.named_parameters())
    layer = "mlm.roberta.encoder.layer"
    assert ids[id(names[f"{layer}.1.dlo_gate"])]["lr"] == 0.05
    assert ids[id(names[f"{layer}.0.router.weight"])]["lr"] == 0.02
    assert ids[id(names[f"{layer}.3.output.dense.weight"])]["lr"] == 0.003
    assert ids[id(names[f"{layer}.3.output.dense.weight"])]["weight_decay"] == cfg.optim.weight_decay
    assert ids[id(names[f"{layer}.3.output.LayerNorm.weight"])]["weight_decay"] == 0.0
    assert ids[id(names[f"{layer}.2.output.dense.weight"])]["lr"] == 1e-3  # an original layer
