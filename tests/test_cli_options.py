"""Every command's parser is built from one vocabulary (``deltaprop.cli.options``).

An option that two commands take has the same flags, type, default and choices;
where a command deliberately starts elsewhere (``serve``'s small network, the demo's
seed experiment, explain's learning rate of 0.5 and network-given penalty), the option is
listed here and the command's help says so.
"""

import itertools

import pytest

from deltaprop.cli import demo, serve
from deltaprop.cli.main import build_parser, main
from deltaprop.cli.options import OPTIONS

#: (command, option) pairs whose default differs from the other commands' on purpose.
OWN_DEFAULTS = {
    **{("serve", name): "serve's default" for name in serve.OWN_DEFAULTS},
    **{("demo", name): "demo's default" for name in demo.OWN_DEFAULTS},
    ("explain", "learning_rate"): "default 0.5, as Python's explain and serve",
    ("explain", "alpha"): "default: the network's own",
}


def _commands():
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    return subparsers.choices


def _options(parser):
    """dest -> action of each option (not the positionals, not --help)."""
    return {
        a.dest: a
        for a in parser._actions
        if a.option_strings and a.dest != "help" and a.help != "==SUPPRESS=="
    }


def test_the_deliberate_defaults_are_the_ones_listed():
    assert set(serve.OWN_DEFAULTS) == {
        "hidden", "activation", "solver", "learning_rate", "batch_size", "max_iter",
        "validation_fraction", "alpha",
    }  # fmt: skip
    assert set(demo.OWN_DEFAULTS) == {"hidden", "learning_rate", "max_iter", "target_loss"}


def test_shared_options_have_one_spelling_type_default_and_choices():
    commands = {name: _options(parser) for name, parser in _commands().items()}
    n_shared = 0
    for (name_a, a), (name_b, b) in itertools.combinations(commands.items(), 2):
        for dest in set(a) & set(b):
            n_shared += 1
            first, second = a[dest], b[dest]
            where = (name_a, name_b, dest)
            assert dest in OPTIONS, where
            assert first.option_strings == second.option_strings == list(OPTIONS[dest].flags)
            assert first.type is second.type, where
            assert first.choices == second.choices, where
            assert type(first) is type(second), where  # store, store_true, count
            own = {(name_a, dest), (name_b, dest)} & set(OWN_DEFAULTS)
            if not own:
                assert first.default == second.default, where
    assert n_shared > 20


def test_no_two_options_share_a_flag_with_different_meanings():
    flags = {}
    for name, option in OPTIONS.items():
        for flag in (*option.flags, *option.aliases):
            assert flags.setdefault(flag, name) == name, flag


@pytest.mark.parametrize(("command", "dest"), sorted(OWN_DEFAULTS))
def test_a_deliberate_default_is_said_in_help(command, dest):
    action = _options(_commands()[command])[dest]
    assert OWN_DEFAULTS[command, dest] in action.help
    assert action.default != OPTIONS[dest].settings.get("default"), (command, dest)


def test_serve_help_says_its_defaults_differ(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "differ from train's" in out
    for name in serve.OWN_DEFAULTS:
        assert "--" + name.replace("_", "-") in out


def test_serve_still_takes_optimizer_with_a_note(capsys):
    parser = _commands()["serve"]
    args = parser.parse_args(["d.csv", "--target", "y", "--optimizer", "adam"])
    assert args.solver == "adam"
    err = capsys.readouterr().err
    assert err == "deltaprop: note: --optimizer is deprecated; write --solver\n"
    assert parser.parse_args(["d.csv", "--target", "y"]).solver == "sgd"


@pytest.mark.parametrize("command", ["train", "serve", "demo"])
@pytest.mark.parametrize("text", ["none", "0"])
def test_hidden_none_and_0_mean_no_hidden_layer_everywhere(command, text):
    argv = {"train": ["d.csv", "--target", "y"], "serve": ["d.csv", "--target", "y"]}
    args = _commands()[command].parse_args([*argv.get(command, []), "--hidden", text])
    assert args.hidden == ()
