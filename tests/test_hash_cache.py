"""The data version's hash is computed once per file content: later runs read only the files' metadata."""

from __future__ import annotations

import os

from drivelab import lineage
from drivelab.hash_cache import HashCache


def counting_md5(calls):
    def compute(path):
        calls.append(path.name)
        return lineage.file_md5(path)
    return compute


def test_an_unchanged_file_is_not_read_again_and_a_changed_one_is(tmp_path):
    data = tmp_path / "windows" / "a.npy"
    data.parent.mkdir()
    data.write_bytes(b"x" * 1000)
    calls = []
    cache = HashCache(tmp_path / "cache.json")
    first = cache.md5(data, counting_md5(calls))
    cache.save()
    again = HashCache(tmp_path / "cache.json")
    assert again.md5(data, counting_md5(calls)) == first == lineage.file_md5(data)
    assert calls == ["a.npy"]
    stat = os.stat(data)
    data.write_bytes(b"y" * 1000)  # rewritten with the same size
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # a rewrite moves the mtime, however fast
    assert again.md5(data, counting_md5(calls)) == lineage.file_md5(data) != first
    assert calls == ["a.npy", "a.npy"]


def test_the_data_version_is_the_same_with_a_cold_warm_or_broken_cache(tmp_path, monkeypatch):
    folder = tmp_path / "windows"
    (folder / "train").mkdir(parents=True)
    (folder / "train" / "history.npy").write_bytes(b"1" * 4096)
    (folder / "windows.json").write_text("{}")
    monkeypatch.setenv("DRIVELAB_CACHE_DIR", str(tmp_path / "cache"))
    cold = lineage.dvc_dir_md5(folder)
    assert (tmp_path / "cache" / "file_md5.json").is_file()
    assert lineage.dvc_dir_md5(folder) == cold
    (tmp_path / "cache" / "file_md5.json").write_text("not json")
    assert lineage.dvc_dir_md5(folder) == cold
