"""The markets file of `oracle-node backtest --markets FILE` (YAML or JSON), validated with pydantic.

    defaults:                 # optional: settings every market gets unless it sets its own
      levels: [0.01, 0.025]   # VaR/ES levels alpha, each in (0, 0.5): one task per market and level
      window: 500             # fit window (days, >= 50)
      test_days: 120          # scored out-of-sample days (>= 2), the last ones before `end`
      refit_every: 5          # days between refits (>= 1)
      sims: 200               # draws per day for the Acerbi-Szekely p-value (>= 0)
      ml: true                # the ML models (qgbm, mlp), trained before the test period
      ml_retrain_every: 90    # walked days between their retrains inside the walk (0: trained once;
                              # default DEFAULT_RETRAIN_EVERY of research.backtest.ml, as --ml-retrain-every)
    markets:
      - name: BTC-USD-2019    # also the output directory OUT/<name>/ (letters, digits, . _ -)
        prices: btc_usd_daily_2015_2026.csv.gz   # any price file `oracle-node backtest --prices` reads
        asset: BTC            # default: the name
        end: 2019-06-30       # cut the prices after this UTC day (default: the whole file)

`oracle-node retrain-policy --markets FILE` reads the same file (markets, prices, asset, end, funding)
and the `retrain:` section, in `defaults:` or a market (a market's keys override the defaults' ones):

      retrain: {alpha: 0.01, start: 2017-01-01, valid_end: 2018-12-31,
                every_grid: [30, 90, 180, 365], gap_grid: [30, 90, 180]}

(the study of docs/retrain-policy.md: its flags, plus the schedule periods and drift gaps it tries;
defaults: `retrain.run.StudyConfig`). `oracle-node train --markets FILE` reads the `train:` section
(test_start: the first out-of-sample day, required; walk_forward: true). Each command ignores the
other commands' keys.

Other settings: seed (0), hybrid (false: add hybrid_gjr and hybrid_gjr_q<hybrid_quantile>, needs
ml), hybrid_quantile (0.1), combo ({window: 500, members: [garch_t, gjr_skewt, fhs, qgbm], shrink: 0.0,
lead: null}, the CLI's defaults: add the
forecast combination, needs ml), funding (a daily funding CSV for the ML features). Relative paths
are relative to the markets file. Every problem is a `ConfigError` naming the file, line, field and
value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from oracle_node.configfile import Loc, file_origin, read_yaml, validation_error
from oracle_node.errors import ConfigError
from oracle_node.research.backtest.combination import CHOSEN_MEMBERS, CHOSEN_SHRINK, CHOSEN_WINDOW
from oracle_node.research.backtest.ml import DEFAULT_RETRAIN_EVERY
from oracle_node.research.retrain.run import StudyConfig

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # a market name is a directory name
Level = Annotated[float, Field(gt=0.0, lt=0.5)]


class ComboSettings(BaseModel):
    """The forecast combination (research.backtest.combination), as `--combo-*` on the CLI."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    window: int = Field(CHOSEN_WINDOW, ge=2)
    members: tuple[str, ...] = CHOSEN_MEMBERS  # empty: every other model of the run
    shrink: float = Field(CHOSEN_SHRINK, ge=0.0, le=1.0)
    lead: int | None = Field(None, ge=0)


STUDY = StudyConfig()  # the single-market command's defaults


class RetrainSettings(BaseModel):
    """`retrain-policy --markets`: the study's settings (research.retrain.run.StudyConfig)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    alpha: Level = STUDY.alpha
    start: date = date.fromisoformat(STUDY.start)
    valid_end: date = date.fromisoformat(STUDY.valid_end)
    every_grid: tuple[Annotated[int, Field(ge=1)], ...] = STUDY.every_grid
    gap_grid: tuple[Annotated[int, Field(ge=0)], ...] = STUDY.gap_grid

    @field_validator("every_grid", "gap_grid")
    @classmethod
    def _grid(cls, grid: tuple[int, ...]) -> tuple[int, ...]:
        if not grid or len(set(grid)) != len(grid):
            raise ValueError("list at least one value, each once")
        return grid

    def study(self) -> StudyConfig:
        return StudyConfig(
            self.alpha, self.start.isoformat(), self.valid_end.isoformat(), self.every_grid, self.gap_grid
        )


class TrainSettings(BaseModel):
    """`train --markets`: the served model's training (as `oracle-node train`'s flags)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    test_start: date | None = None  # first out-of-sample day; required by `train --markets`
    walk_forward: bool = True  # false: as --no-walk-forward


class Settings(BaseModel):
    """A market's backtest settings; `defaults:` holds these, a market may override any of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    levels: tuple[Level, ...] = (0.01,)
    window: int = Field(1000, ge=50)
    test_days: int = Field(800, ge=2)
    refit_every: int = Field(1, ge=1)
    sims: int = Field(1000, ge=0)
    seed: int = 0
    ml: bool = True
    ml_retrain_every: int = Field(DEFAULT_RETRAIN_EVERY, ge=0)
    hybrid: bool = False
    hybrid_quantile: float = Field(0.1, gt=0.0, lt=1.0)
    combo: ComboSettings | None = None
    end: date | None = None
    funding: Path | None = None
    retrain: RetrainSettings = RetrainSettings()
    train: TrainSettings = TrainSettings()

    @field_validator("levels")
    @classmethod
    def _distinct(cls, levels: tuple[float, ...]) -> tuple[float, ...]:
        if not levels:
            raise ValueError("list at least one level")
        if len(set(levels)) != len(levels):
            raise ValueError("levels must be distinct")
        return levels


class MarketEntry(Settings):
    name: str
    prices: Path
    asset: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not NAME_PATTERN.match(name):
            raise ValueError("must be 1-64 letters, digits, '.', '_' or '-' (it names the output directory)")
        return name


class MarketsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    defaults: Settings = Settings()
    markets: list[MarketEntry] = Field(min_length=1)


@dataclass(frozen=True)
class MarketSpec:
    """One market with its settings resolved (defaults merged, paths made absolute)."""

    name: str
    asset: str
    prices: Path
    settings: Settings


@dataclass(frozen=True)
class MarketsPlan:
    source: Path
    markets: tuple[MarketSpec, ...]

    @property
    def n_tasks(self) -> int:
        return sum(len(m.settings.levels) for m in self.markets)


def load_markets(path: Path) -> MarketsPlan:
    """The validated markets file, or ConfigError (one line per problem, each with file:line)."""
    source = str(path)
    if not path.is_file():
        raise ConfigError(f"markets file {path} does not exist", source)
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    if not any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
        raise ConfigError("the markets file is empty: list markets under 'markets:'", source)
    data, lines = read_yaml(path)
    try:
        parsed = MarketsFile.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, source, lines, {}) from None
    specs = [_resolve(parsed.defaults, m, i, path, lines) for i, m in enumerate(parsed.markets)]
    _check_unique(specs, source, lines)
    return MarketsPlan(path, tuple(specs))


def _resolve(defaults: Settings, entry: MarketEntry, i: int, path: Path, lines: dict[Loc, int]) -> MarketSpec:
    own = entry.model_dump(include=entry.model_fields_set - {"name", "prices", "asset"})
    for section in ("retrain", "train"):  # a market's section: only the keys it sets
        if section in own:
            own[section] = getattr(entry, section).model_dump(
                include=getattr(entry, section).model_fields_set
            )
    merged: dict[str, Any] = {**defaults.model_dump(), **own}
    for section in ("retrain", "train"):  # key by key over the defaults' section
        if section in own:
            merged[section] = getattr(defaults, section).model_dump() | own[section]
    settings = Settings.model_validate(merged)
    base = path.parent

    def fail(field: str, value: object, why: str) -> ConfigError:
        where = file_origin(("markets", str(i), field), str(path), lines)
        return ConfigError([f"markets.{i}.{field} = {value!r}: {why}"], str(path), [where])

    prices = (base / entry.prices).resolve()
    if not prices.is_file():
        raise fail("prices", str(entry.prices), f"no such file ({prices})")
    if settings.funding is not None:
        funding = (base / settings.funding).resolve()
        if not funding.is_file():
            raise fail("funding", str(settings.funding), f"no such file ({funding})")
        settings = settings.model_copy(update={"funding": funding})
    r = settings.retrain
    if r.start >= r.valid_end:  # checked once merged: start may come from defaults, valid_end from the market
        raise fail("retrain.valid_end", r.valid_end.isoformat(), f"must be after retrain.start {r.start}")
    if not settings.ml and (settings.hybrid or settings.combo is not None):
        raise fail("ml", False, "hybrid and combo need the ML models (ml: true)")
    return MarketSpec(entry.name, entry.asset or entry.name, prices, settings)


def _check_unique(specs: list[MarketSpec], source: str, lines: dict[Loc, int]) -> None:
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        key = spec.name.lower()  # one output directory per market, also on case-insensitive disks
        if key in seen:
            where = file_origin(("markets", str(i), "name"), source, lines)
            raise ConfigError(
                [
                    f"markets.{i}.name = {spec.name!r}: already used by markets.{seen[key]}; names must be unique"
                ],
                source,
                [where],
            )
        seen[key] = i
