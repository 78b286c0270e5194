"""training.mixture on relative corpus paths: pyarrow raises ArrowInvalid for a non-URI, which must fall back
to the local filesystem (pyarrow.fs has no ArrowInvalid: catching it there crashed with AttributeError)."""

import json

import pyarrow as pa
import pyarrow.parquet as pq

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
