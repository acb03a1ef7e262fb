"""Experiments as three pure steps: run -> results.json; report(results) and figures(results) rebuild
report.md and the figures byte for byte (`gradfree report DIR`)."""

from __future__ import annotations

from gradfree.cli import main


def test_gradfree_report_rebuilds_report_and_figures_byte_identically(tmp_path, capsys):
    out = tmp_path / "ncm"
    assert main(["run", "ncm-split", "--quick", "--seeds", "1", "--no-progress", "--out", str(out)]) == 0
    written = {p.name: p.read_bytes() for p in [out / "report.md", *out.glob("*.png")]}
    assert len(written) >= 2
    for name in written:
        (out / name).unlink()
    assert main(["report", str(out)]) == 0
    assert {p.name: p.read_bytes() for p in [out / "report.md", *out.glob("*.png")]} == written


def test_report_of_a_folder_without_results_is_a_usage_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "results.json" in capsys.readouterr().err


def test_report_of_damaged_results_names_the_file_and_field(tmp_path, capsys):
    import json

    path = tmp_path / "results.json"
    for config, results, field in [
            ({"experiment": "ncm-split", "quick": True, "device": "cpu", "options": {}, "seeds": "0"}, {},
             "config.seeds"),
            ({"experiment": "ncm-split", "quick": True, "device": "cpu", "options": {}, "seeds": [0]},
             {"digits": 3}, "'results'")]:
        path.write_text(json.dumps({"config": config, "results": results}))
        assert main(["report", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert str(path) in err and field in err
