"""Vol shocks, inference side: serving = offline prediction, DAO bounds, fallback, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from oracle_node import cli
from oracle_node.errors import ConfigError, DataError, ModelError
from oracle_node.options.shock_features import build_features
from oracle_node.options.shock_params import MANIFEST_FILE, MODEL_FILE, read_artifact
from oracle_node.options.shocks import (
    FIXED_DOWN,
    FIXED_UP,
    ShockBounds,
    ShockModel,
    bundled_inputs,
    to_fractions,
)
from oracle_node.research.shocks.models import fit
from oracle_node.research.shocks.train import write_artifact
from oracle_node.research.shocks.walkforward import candidate_fitter, train_rows, walk_forward
from tests.unit.shock_fixtures import LS, QR, synthetic_inputs

WIDE = ShockBounds()


@pytest.fixture(scope="module")
def frame():
    return build_features(synthetic_inputs())


@pytest.mark.parametrize("candidate", [LS, QR], ids=lambda c: c.name)
def test_served_model__from_its_files__equals_the_walk_forward_forecast(candidate, frame, tmp_path) -> None:
    rows = np.flatnonzero(frame.ok)[-30:]
    refit_day = int(frame.day[rows[0]])
    up, down = walk_forward(frame, rows, candidate_fitter(candidate, 0.99, 1), refit_every=1000)
    train = train_rows(frame, refit_day)
    write_artifact(tmp_path, fit(candidate, frame.x[train], frame.y[train], 0.99, 1), "test")
    model = ShockModel.load(tmp_path)
    for k in (0, 17, 29):
        shock = model.predict_frame(frame, WIDE, row=int(rows[k]))
        assert shock.fallback is None
        want_up, want_down = to_fractions(float(up[k]), float(down[k]))
        assert shock.vol_up == pytest.approx(want_up, rel=1e-12)
        assert shock.vol_down == pytest.approx(want_down, rel=1e-12)
        assert 0.0 < shock.vol_up < 1.0 and 0.0 < shock.vol_down < 1.0


def test_bundled_model__history_cut_at_a_day__same_shock_as_that_row_of_the_full_history() -> None:
    model = ShockModel.load()
    inputs = bundled_inputs()
    full = build_features(inputs, model.params.horizon_days)
    row = int(np.flatnonzero(full.day == np.datetime64("2024-08-05", "D").astype(int))[0])
    served = model.predict(inputs.until(int(full.day[row])), WIDE)
    q_up, q_down = model.params.log_quantiles(full.x[row : row + 1])
    assert served.day == "2024-08-05"
    assert (served.vol_up, served.vol_down) == to_fractions(float(q_up[0]), float(q_down[0]))
    calm = model.predict(inputs.until(int(full.day[row - 20])), WIDE)
    assert served.vol_up > calm.vol_up  # the 2024-08-05 crash widens the next day's up-shock
    latest = model.predict(inputs, WIDE)
    assert latest.fallback is None and latest.day == "2025-11-12"
    assert 0.03 < latest.vol_up < FIXED_UP * 0.7


def test_bounds__floor_and_ceiling__clip_and_say_which(frame, tmp_path) -> None:
    train = train_rows(frame, int(frame.day[-1]))
    write_artifact(tmp_path, fit(LS, frame.x[train], frame.y[train], 0.99, 1), "test")
    model = ShockModel.load(tmp_path)
    free = model.predict_frame(frame, WIDE)
    floor = model.predict_frame(
        frame, ShockBounds(up_floor=free.raw_up + 0.1, down_ceiling=free.raw_down / 2)
    )
    assert floor.vol_up == pytest.approx(free.raw_up + 0.1)
    assert floor.vol_down == pytest.approx(free.raw_down / 2)
    assert floor.clipped == ("up_floor", "down_ceiling")
    assert (floor.raw_up, floor.raw_down) == (free.raw_up, free.raw_down)
    cap = model.predict_frame(frame, ShockBounds(up_ceiling=free.raw_up / 2, down_floor=free.raw_down + 0.05))
    assert cap.vol_up == pytest.approx(free.raw_up / 2)
    assert cap.vol_down == pytest.approx(free.raw_down + 0.05)
    assert cap.clipped == ("up_ceiling", "down_floor")
    assert free.clipped == ()


def test_out_of_training_range__falls_back_to_the_fixed_shock_inside_the_bounds(frame, tmp_path) -> None:
    train = train_rows(frame, int(frame.day[-1]))
    write_artifact(tmp_path, fit(LS, frame.x[train], frame.y[train], 0.99, 1), "test")
    model = ShockModel.load(tmp_path)
    x = frame.x.copy()
    x[-1, 3] = 5.0  # log_vov = 5: a vol-of-vol of e^5 per day, far outside anything seen
    wild = type(frame)(frame.day, x, frame.y, frame.horizon)
    shock = model.predict_frame(wild, WIDE)
    assert shock.fallback is not None and "log_vov" in shock.fallback
    assert (shock.vol_up, shock.vol_down) == (FIXED_UP, FIXED_DOWN)
    capped = model.predict_frame(wild, ShockBounds(up_ceiling=0.3))
    assert capped.vol_up == 0.3 and capped.clipped == ("up_ceiling",)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"up_floor": 0.5, "up_ceiling": 0.2}, "up_floor = 0.5"),
        ({"down_ceiling": 1.0}, "down_ceiling = 1.0"),
        ({"down_floor": -0.1}, "down_floor = -0.1"),
        ({"up_ceiling": math.nan}, "up_ceiling = nan"),
    ],
)
def test_bounds__inconsistent__config_error_naming_the_field(kwargs, text) -> None:
    with pytest.raises(ConfigError, match=text):
        ShockBounds(**kwargs)


def _bundle(tmp_path: Path) -> Path:
    frame = build_features(synthetic_inputs())
    train = train_rows(frame, int(frame.day[-1]))
    write_artifact(tmp_path, fit(LS, frame.x[train], frame.y[train], 0.99, 1), "test")
    return tmp_path


def _rewrite(path: Path, edit) -> None:
    raw = json.loads(path.read_text())
    edit(raw)
    path.write_text(json.dumps(raw))
    manifest = path.parent / MANIFEST_FILE
    m = json.loads(manifest.read_text())
    from oracle_node.models.manifest import sha256_file  # noqa: PLC0415

    m["artifacts"][MODEL_FILE] = sha256_file(path)
    manifest.write_text(json.dumps(m))


def test_artifact__missing_file__model_error_naming_it(tmp_path) -> None:
    with pytest.raises(ModelError, match=r"manifest\.json: shock model file does not exist"):
        ShockModel.load(tmp_path)
    _bundle(tmp_path)
    (tmp_path / MODEL_FILE).unlink()
    with pytest.raises(ModelError, match=r"shock_model\.json: shock model file does not exist"):
        ShockModel.load(tmp_path)


def test_artifact__malformed_json__model_error_naming_the_file(tmp_path) -> None:
    _bundle(tmp_path)
    (tmp_path / MANIFEST_FILE).write_text('{"artifacts": {')
    with pytest.raises(ModelError, match=r"manifest\.json: not valid JSON"):
        ShockModel.load(tmp_path)


def test_artifact__edited_after_training__hash_mismatch(tmp_path) -> None:
    _bundle(tmp_path)
    path = tmp_path / MODEL_FILE
    path.write_text(path.read_text().replace('"level": 0.99', '"level": 0.9'))
    with pytest.raises(ModelError, match=r"shock_model\.json: sha256 .* does not match"):
        read_artifact(tmp_path)


@pytest.mark.parametrize(
    ("edit", "text"),
    [
        (lambda r: r.pop("center"), r"field 'center' is missing"),
        (lambda r: r["parts"]["log_scale"].update(coef=[1.0]), r"field parts\.log_scale\.'coef' must hold 4"),
        (lambda r: r["parts"].update(z_up="big"), r"field parts\.'z_up' = 'big' has the wrong type"),
        (lambda r: r.update(kind="lstm"), r"field 'kind' = 'lstm'"),
        (
            lambda r: r["features"].append("moon_phase"),
            r"field 'features' names unknown features \['moon_phase'\]",
        ),
        (lambda r: r["scale"].update(log_vov=0.0), r"field 'scale' has a value <= 0"),
    ],
)
def test_artifact__bad_field__model_error_naming_file_and_field(tmp_path, edit, text) -> None:
    _bundle(tmp_path)
    _rewrite(tmp_path / MODEL_FILE, edit)
    with pytest.raises(ModelError, match=r"shock_model\.json: " + text):
        ShockModel.load(tmp_path)


def test_dvol_file__missing_or_malformed__data_error_naming_file_and_field(tmp_path) -> None:
    with pytest.raises(DataError, match=r"nope\.json"):
        bundled_inputs(dvol=tmp_path / "nope.json")
    bad = tmp_path / "dvol.json"
    bad.write_text('[[1667692800000, 56.76], [1667779200000, "high"]]')
    with pytest.raises(DataError, match=r"dvol\.json: field '\[1\]\[1\]' value 'high': not a number"):
        bundled_inputs(dvol=bad)
    bad.write_text("[[1667692800000, 56.76], ")
    with pytest.raises(DataError, match=r"dvol\.json:1: .*not valid JSON"):
        bundled_inputs(dvol=bad)


def test_cli__missing_input_file__one_line_exit_2(tmp_path, capsys) -> None:
    rc = cli.main(["shock-backtest", "--dvol", str(tmp_path / "gone.json"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "gone.json" in err and "--dvol" in err and "does not exist" in err
    assert "Traceback" not in err
    rc = cli.main(["shock-train", "--horizon", "0", "--out", str(tmp_path / "o")])
    assert rc == 2 and "--horizon" in capsys.readouterr().err


def test_dvol_file__zero_or_two_values_a_day__data_error_naming_the_file(tmp_path) -> None:
    bad = tmp_path / "dvol.json"
    bad.write_text("[[1667692800000, 56.76], [1667779200000, 0]]")
    with pytest.raises(DataError, match=r"dvol\.json: field '\[1\]\[1\]' value 0\.0: DVOL must be > 0"):
        bundled_inputs(dvol=bad)
    bad.write_text("[[1667692800000, 56.76], [1667696400000, 57.1]]")
    with pytest.raises(DataError, match=r"dvol\.json: field 'date' .*second value on 2022-11-06"):
        bundled_inputs(dvol=bad)
