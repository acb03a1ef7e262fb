"""The newcomer's path: every CLI mistake is one line on stderr and exit code 2, before any work."""

from __future__ import annotations

import pytest
import torch

from gradfree import __version__
from gradfree.cli import main


def _fails(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize("setting, match", [
    ("foo=1", "has no option 'foo'"),
    ("digits_train=abc", "digits_train"),
    ("digits_train=-5", "digits_train=-5: must be >= 1"),
    ("parts=paper,nonsense", "parts"),
])
def test_set_is_checked_against_declared_options(capsys, tmp_path, setting, match):
    _fails(capsys, ["run", "wuxing-mnist", "--quick", "--set", setting, "--out", str(tmp_path)], match)
    assert not (tmp_path / "results.json").exists()


def test_experiment_without_options_refuses_any(capsys, tmp_path):
    _fails(capsys, ["run", "ncm-split", "--quick", "--set", "foo=1", "--out", str(tmp_path)], "takes none")


def test_run_help_lists_the_experiments_options(capsys):
    assert main(["run", "wuxing-mnist", "--help"]) == 0
    out = capsys.readouterr().out
    assert "digits_train=<int, >= 1>" in out and "--quick" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and __version__ in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("command", [["bench", "--quick"], ["run", "ncm-split", "--quick"]])
def test_cuda_without_cuda_is_refused_up_front(capsys, tmp_path, command):
    _fails(capsys, [*command, "--device", "cuda", "--out", str(tmp_path / "o")], "CUDA is not available")
    assert not (tmp_path / "o" / "checkpoints").exists()


@pytest.mark.parametrize("command", [["bench", "--quick"], ["run", "ncm-split", "--quick"]])
def test_out_that_is_a_file_is_one_line(capsys, tmp_path, command):
    f = tmp_path / "file"
    f.write_text("x")
    _fails(capsys, [*command, "--out", str(f)], "is a file")
    _fails(capsys, [*command, "--out", str(f / "below")], "cannot be written")


def test_run_without_name(capsys):
    _fails(capsys, ["run"], "needs an experiment NAME")


@pytest.mark.parametrize("argv, match", [
    (["run", "wuxing-mnist", "--quick", "--set", "epochs"], "expects KEY=VALUE"),
    (["run", "wuxing-mnist", "--quick", "--set", "data_dir=/tmp"], "only a full run reads it"),
    (["run", "wuxing-mnist", "--set", "digits_train=5"], "only a quick run reads it"),
    (["run", "ncm-split", "--quick", "--threads", "0"], "--threads must be >= 1"),
    (["bench", "--quick", "--threads", "0"], "--threads must be >= 1"),
])
def test_every_usage_error_exits_2(capsys, tmp_path, argv, match):
    _fails(capsys, [*argv, "--out", str(tmp_path / "o")], match)
    assert not (tmp_path / "o" / "checkpoints").exists()


def test_argparse_usage_errors_exit_2(capsys):
    for argv in (["run", "ncm-split", "--threads", "x"], ["nonsense"], ["run", "--seeds"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
