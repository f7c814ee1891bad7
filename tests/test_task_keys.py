"""Every [task] key is documented where it is declared, and `--help` lists them from there: the
field's trailing comment (continued by comment-only lines under it) is the one source."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from rnnkit.cli import main
from rnnkit.io.keys import REQUIRED, Key, keys
from rnnkit.tasks import TASKS


@dataclass(frozen=True)
class Base:
    path: str = "here"              # where the data is
    size: int = 3                   # how many, at most ...
                                    # ... and this line continues it

    # a block above a field without a comment of its own
    # documents it
    depth: float = 0.5
    names: tuple[str, ...] = ("a", "b")   # a tuple: a TOML array

    def method(self) -> int:
        hidden: int = 1             # not a field
        return hidden


@dataclass(frozen=True)
class Child(Base):
    path: str = "there"             # the child's own words win
    pair: tuple[float, float] = (1.0, 2.0)
    required: int = dataclasses.field(default=0)    # a field() default
    flag: bool = True               # on or off


def test_keys_read_types_defaults_and_comments_from_the_source() -> None:
    found = {k.name: k for k in keys(Child)}
    assert list(found) == ["path", "size", "depth", "names", "pair", "required", "flag"]
    assert found["path"] == Key("path", "str", '"there"', "the child's own words win")
    assert found["size"] == Key("size", "int", "3", "how many, at most ... ... and this line continues it")
    assert found["depth"].comment == "a block above a field without a comment of its own documents it"
    assert found["names"] == Key("names", "[str, ...]", '["a", "b"]', "a tuple: a TOML array")
    assert found["pair"] == Key("pair", "[float, float]", "[1.0, 2.0]", "")
    assert (found["required"].default, found["flag"].default, found["flag"].type) == ("0", "true", "bool")


def test_a_field_without_a_default_and_a_class_without_source() -> None:
    NoSource = dataclasses.make_dataclass("NoSource", [("x", int), ("y", str, dataclasses.field(default="a"))])
    assert keys(NoSource) == [Key("x", "int", REQUIRED, ""), Key("y", "str", '"a"', "")]


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_key_is_documented(name: str) -> None:
    undocumented = [k.name for k in keys(TASKS[name]) if not k.comment]
    assert not undocumented, f"{name}: add a trailing comment to {undocumented} (it is what --help shows)"


def help_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_train_help_lists_every_task_with_types_defaults_and_comments(monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "200")                   # one line per key
    out = help_text(["train", "--help"], capsys)
    for name in TASKS:
        assert f"\n  {name}:\n" in out
    lines = out.splitlines()
    line = lambda start: next(s for s in lines if s.strip().startswith(start + ":"))
    comment = lambda task, key: next(k.comment for k in keys(TASKS[task]) if k.name == key)
    assert line("task.text_column").split() == ["task.text_column:", "str", "=", '"text"',
                                                *comment("text_classification", "text_column").split()]
    assert line("task.holdout").split()[:4] == ["task.holdout:", "int", "=", "2"]
    assert comment("forecasting", "holdout") in line("task.holdout")
    assert "task.column: str = \"\"" in out and "task.input_column" in out and "task.series" in out
    assert "rnnkit train configs/lm_word.toml --task.path=my_corpus/" in out       # the worked example


def test_command_helps_list_their_own_tasks(monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    classify = help_text(["classify", "train", "--help"], capsys)
    assert "text_classification:" in classify and "sequence_classification:" in classify
    assert "task.text_column" in classify and "forecasting:" not in classify
    forecast = help_text(["forecast", "train", "--help"], capsys)
    assert "forecasting:" in forecast and "task.holdout: int = 2" in forecast and "language_modeling" not in forecast


def test_narrow_terminals_put_the_comment_under_its_key(monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "70")
    out = help_text(["forecast", "train", "--help"], capsys)
    lines = out.splitlines()
    i = lines.index("    task.holdout: int = 2")
    assert lines[i + 1].startswith("        horizons held out at the end")
    comments = [s for s in lines[lines.index("  forecasting:"):] if s.startswith("        ")]
    assert comments and max(map(len, comments)) <= 70                         # key lines with long defaults may not
