"""Per-language metrics, checked against counts computed independently word by word, and the written report."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from tests.tokenizer.conftest import write_dataset
from tokenizer.config import ReportConfig
from tokenizer.metrics import count, metrics
from tokenizer.report import compare, run_report


@pytest.fixture(scope="module")
def toks(extended):
    out, _ = extended
    return AutoTokenizer.from_pretrained(str(out / "base_tokenizer")), AutoTokenizer.from_pretrained(str(out))


def test_counts_match_word_by_word_tokenization(toks, udhr_split):
    base, _ = toks
    texts = udhr_split["eval"]["fra_Latn"][:8]
    c = count(base, texts)
    words = [w for t in texts for w in t.split()]
    per_word = [base.tokenize(w) for w in words]
    assert c.words == len(words)
    assert c.tokens == sum(len(base.tokenize(t)) for t in texts)
    assert c.words_split == sum(1 for p in per_word if len(p) > 1)
    m = metrics(c, per_char=False)
    assert m["fertility"] == pytest.approx(c.tokens / len(words))
    assert m["bytes_per_token"] == pytest.approx(
        sum(len(" ".join(t.split()).encode()) for t in texts) / c.tokens
    )


def test_unk_rate_counts_characters_not_collapsed_tokens(toks, udhr_split):
    """Ethiopic is unseen by the stand-in base: runs of unknown letters collapse into few <unk> tokens, so the
    token-level rate understates what the character-level rate shows."""
    base, ext = toks
    texts = udhr_split["eval"]["amh_Ethi"]
    b = metrics(count(base, texts), per_char=False)
    x = metrics(count(ext, texts), per_char=False)
    assert b["unk_rate"] > 0.5
    assert b["unk_rate"] > b["unk_token_rate"]
    assert x["unk_rate"] < 0.05  # only syllables absent from the training articles remain unknown


def test_unspaced_scripts_use_tokens_per_character(toks, udhr_split):
    _, ext = toks
    texts = udhr_split["eval"]["cmn_Hans"]
    c = count(ext, texts)
    assert metrics(c, per_char=True)["fertility"] == pytest.approx(
        c.tokens / sum(1 for t in texts for ch in t if not ch.isspace())
    )


def test_compare_groups_head_and_tail_and_parity(extended, udhr_split, head_labels, tmp_path):
    out, _ = extended
    (tmp_path / "head.txt").write_text("\n".join(head_labels) + "\n")
    cfg = ReportConfig(head_languages=str(tmp_path / "head.txt"))
    rep = compare(udhr_split["eval"], str(out / "base_tokenizer"), str(out), cfg)
    langs = rep["languages"]
    assert {lb for lb, e in langs.items() if e["group"] == "head"} == set(head_labels)
    assert rep["summary"]["tail"]["languages"] == len(udhr_split["eval"]) - len(head_labels)
    assert langs["eng_Latn"]["base"]["parity"] == 1.0 == langs["eng_Latn"]["extended"]["parity"]
    ratio = langs["rus_Cyrl"]["extended"]["tokens"] / langs["eng_Latn"]["extended"]["tokens"]
    assert langs["rus_Cyrl"]["extended"]["parity"] == pytest.approx(ratio)
    assert langs["jpn_Jpan"]["unit"] == "char" and langs["rus_Cyrl"]["unit"] == "word"
    tail = rep["summary"]["tail"]
    assert tail["median_unk_rate_extended"] < 0.01 < tail["median_unk_rate_base"]
    # tail languages in a script the base knows are segmented more compactly once their pieces are added;
    # for unseen scripts, base fertility is flattered by <unk> runs, which is why the UNK rate is reported
    known = [e for e in langs.values() if e["group"] == "tail" and e["base"]["unk_rate"] < 0.01]
    assert known
    assert all(e["extended"]["fertility"] < e["base"]["fertility"] for e in known)


def test_run_report_writes_json_markdown_plot(extended, udhr_split, head_labels, tmp_path):
    out, _ = extended
    (tmp_path / "head.txt").write_text("\n".join(head_labels) + "\n")
    held = write_dataset(
        {lb: udhr_split["eval"][lb] for lb in ("eng_Latn", "amh_Ethi", "tha_Thai")}, tmp_path / "test"
    )
    cfg = ReportConfig(extended=str(out), head_languages=str(tmp_path / "head.txt"), max_segments_per_label=4)
    rep = run_report(str(held), str(tmp_path / "rep"), cfg)
    assert rep["base"].endswith("base_tokenizer")
    assert set(rep["languages"]) == {"eng_Latn", "amh_Ethi", "tha_Thai"}
    assert all(e["base"]["segments"] == 4 for e in rep["languages"].values())
    assert rep["input"]["used"] + rep["input"]["over_cap"] == rep["input"]["rows_read"]
    saved = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert saved["summary"] == rep["summary"]
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| amh_Ethi | tail | word |" in md and "## Head vs tail" in md
    assert (tmp_path / "rep" / "fertility.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
