"""The probe of what the CPU multiplies fast: measured once, cached in the process and on disk."""

from __future__ import annotations

import json

from core.model import hardware


def test_profile_measures_both_rates_and_caches_them_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("GLOSSLAB_CACHE", str(tmp_path))
    calls = []

    def rate(dtype):
        calls.append(dtype)
        return 90.0 if str(dtype).endswith("float32") else 1.25

    monkeypatch.setattr(hardware, "_rate", rate)
    hardware.profile.cache_clear()
    try:
        found = hardware.profile()
        assert found["bf16_native"] is False and found["slowdown"] == 72.0 and len(calls) == 2
        stored = json.loads((tmp_path / "hardware.json").read_text())
        assert list(stored.values()) == [found]
        hardware.profile.cache_clear()
        assert hardware.profile() == found and len(calls) == 2  # read back, not measured again
        assert not hardware.bf16_native("cpu")
        line = hardware.describe()
        assert "NOT native (about 72 times slower than float32)" in line and "float32 90, bfloat16 1.2" in line
    finally:
        hardware.profile.cache_clear()


def test_a_real_probe_is_short_and_positive():
    rate = hardware._rate(hardware.torch.float32)
    assert rate > 0.1
