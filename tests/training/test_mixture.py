"""training.mixture on relative corpus paths: pyarrow raises ArrowInvalid for a non-URI, which must fall back
to the local filesystem (pyarrow.fs has no ArrowInvalid: catching it there crashed with AttributeError)."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training.mixture import has_split, open_fs, read_mixture, split_files


def test_relative_corpus_path(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    part = corpus / "splits" / "train" / "label=x_Latn"
    part.mkdir(parents=True)
    pq.write_table(pa.table({"text": ["a"]}), part / "part-0.parquet")
    (corpus / "mixture.json").write_text(json.dumps({"alpha": 0.3, "languages": {"x_Latn": {"probability": 1}}}))
    monkeypatch.chdir(tmp_path)
    fs, path = open_fs("corpus")
    assert path == "corpus" and fs.get_file_info("corpus/mixture.json").is_file
    assert read_mixture("corpus").labels == ["x_Latn"]
    assert split_files("corpus", "train", ["x_Latn"]) == {"x_Latn": ["corpus/splits/train/label=x_Latn/part-0.parquet"]}
    assert has_split("corpus/", "train") and not has_split("corpus", "dev")


def test_replay_share_and_relative_weights():
    from pipeline.errors import UserError
    from training.mixture import Mixture, with_replay

    mix = Mixture(["a", "b", "c", "d"], [0.1, 0.3, 0.2, 0.4], 0.3)
    out = with_replay(mix, {"a", "b"}, 0.6)
    assert out.labels == mix.labels
    assert abs(out.probs[0] + out.probs[1] - 0.6) < 1e-12
    assert abs(sum(out.probs) - 1) < 1e-12
    assert abs(out.probs[1] / out.probs[0] - 3) < 1e-9  # within each side, α-sampling's weights stay
    assert abs(out.probs[3] / out.probs[2] - 2) < 1e-9
    assert with_replay(mix, {"a"}, 0) == mix
    for labels in ({"x"}, {"a", "b", "c", "d"}):
        with pytest.raises(UserError, match="replay"):
            with_replay(mix, labels, 0.5)
