import pytest

from supportflow.cli.main import main


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--metrics-port", "99999"],
        ["run", "--workers", "0"],
        ["bench", "--tickets", "-5"],
        ["demo", "--workers", "0"],
        ["demo", "--timeout", "-1"],
        ["eval", "golden", "--rate", "-1"],
        ["serve", "--port", "70000"],
    ],
)
def test_cli_impossible_number_refused_before_anything_starts(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error: argument" in capsys.readouterr().err
