"""Reading the node's YAML file and explaining what is wrong with a config, as an operator needs it.

* the file is read as UTF-8 (a BOM is accepted); bytes that are not UTF-8, an unreadable file or an
  empty one are a `ConfigError` naming the file (and line), never a traceback;
* a key given twice in one mapping is refused, naming the key and both lines (PyYAML would silently
  keep the last one);
* every validation problem names where its value came from: `node.yaml:12` for the file, or the
  `ORACLE_...` environment variable that set it (environment wins over the file);
* values are shown with every part that can hold a secret masked (`logs.safe_value`): passwords, API
  keys, tokens, private keys, URL credentials, paths and queries;
* an unquoted `0x...` address (YAML reads it as an integer) is shown in hex with the fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_settings import SettingsError
from yaml.constructor import ConstructorError

from oracle_node.errors import ConfigError
from oracle_node.logs import safe_value, scrub_text

ENV_PREFIX = "ORACLE_"
ENV_DELIMITER = "__"
MAX_SHOWN = 80
MAX_DEPTH = 32
Loc = tuple[str, ...]


class DuplicateKeyError(ConstructorError):
    """A mapping names the same key twice."""


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated in one mapping (merge keys `<<:` may still be overridden)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                seen = first.setdefault(key, line)
            except TypeError:  # an unhashable key: let SafeLoader report it
                continue
            if seen != line:
                raise DuplicateKeyError(
                    None,
                    None,
                    f"duplicate key {key!r}, first given on line {seen}; keep one of them",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[Loc, int]]:
    """The file's top-level mapping and the line of every key and list item (ConfigError otherwise)."""
    source = str(path)
    if path.is_dir():
        raise ConfigError("is a directory, expected a YAML file", source)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist", source)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the file ({exc.strerror or exc})", source) from None
    text = _decode(raw, source)
    node, data = _parse(text, source)
    if data is None or data == {}:
        raise ConfigError(
            "the file is empty (or only comments): nothing to run; start from examples/node.yaml", source
        )
    if not isinstance(data, dict):
        raise ConfigError(f"top level must be a mapping, got {type(data).__name__}", source)
    return data, key_lines(node)


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        bad = raw[exc.start : exc.start + 4]
        raise ConfigError(
            f"not UTF-8 text (bytes {bad!r}); save the file as UTF-8", f"{source}:{line}"
        ) from None


def _parse(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    loader = UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = scrub_text(str(getattr(exc, "problem", None) or "syntax error"))
        if isinstance(exc, DuplicateKeyError):
            raise ConfigError(problem, where) from None
        raise ConfigError(f"not valid YAML ({problem})", where) from None
    finally:
        loader.dispose()


def key_lines(node: yaml.Node | None, path: Loc = (), lines: dict[Loc, int] | None = None) -> dict[Loc, int]:
    """(key path) -> 1-based line, for every mapping key and sequence item under `node`."""
    lines = {} if lines is None else lines
    if len(path) > MAX_DEPTH:  # a recursive alias (&a [*a]) would never end
        return lines
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            here = (*path, str(key_node.value))
            if here not in lines:
                lines[here] = key_node.start_mark.line + 1
                key_lines(value_node, here, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            here = (*path, str(i))
            if here not in lines:
                lines[here] = item.start_mark.line + 1
                key_lines(item, here, lines)
    return lines


def env_origin(loc: Loc, environ: Mapping[str, str]) -> str | None:
    """The ORACLE_ variable that set the value at `loc` (or one of its parents, as JSON), if any."""
    names = {k.upper(): k for k in environ if k.upper().startswith(ENV_PREFIX)}
    for i in range(len(loc), 0, -1):
        name = ENV_PREFIX + ENV_DELIMITER.join(loc[:i]).upper()
        if name in names:
            return names[name]
    return None


def file_origin(loc: Loc, source: str | None, lines: Mapping[Loc, int]) -> str | None:
    for i in range(len(loc), 0, -1):
        if loc[:i] in lines:
            return f"{source}:{lines[loc[:i]]}"
    return source


def validation_error(
    err: ValidationError, source: str | None, lines: Mapping[Loc, int], environ: Mapping[str, str]
) -> ConfigError:
    """One problem per pydantic error, `field = value: why`, with its origin (file:line or env var)."""
    problems: list[str] = []
    origins: list[str | None] = []
    for e in err.errors():
        loc = tuple(str(p) for p in e["loc"])
        where = ".".join(loc) or "(top level)"
        env = env_origin(loc, environ)
        origins.append(f"environment variable {env}" if env else file_origin(loc, source, lines))
        problems.append(_problem(where, e))
    return ConfigError(problems, source, origins)


def _problem(where: str, e: Any) -> str:
    value = e.get("input")
    if e["type"] == "string_type" and isinstance(value, int) and not isinstance(value, bool):
        digits = 40 if "address" in where else 0
        return (
            f"{where} = 0x{value:0{digits}x}: must be a quoted '0x...' string; YAML reads an unquoted "
            f'0x... as a number (write {where.rsplit(".", 1)[-1]}: "0x...")'
        )
    text = repr(safe_value(value, where))
    if len(text) > MAX_SHOWN:
        text = text[: MAX_SHOWN - 3] + "..."
    return f"{where} = {text}: {scrub_text(e['msg'])}"


def settings_error(exc: SettingsError, environ: Mapping[str, str]) -> ConfigError:
    """pydantic-settings could not decode an environment variable's JSON: name the variable, not its value."""
    text = str(exc)
    field = text.split('field "', 1)[1].split('"', 1)[0] if 'field "' in text else ""
    prefix = (ENV_PREFIX + field).upper()
    under = sorted(k for k in environ if k.upper() == prefix or k.upper().startswith(prefix + ENV_DELIMITER))
    structured = [
        k for k in under if environ[k].lstrip().startswith(("{", "[")) and _json_problem(environ[k])
    ]
    whole = [k for k in under if k.upper() == prefix and _json_problem(environ[k])]
    bad = structured or whole or under
    why = _json_problem(environ[bad[0]]) if bad else None
    problem = f"{field or '(unknown field)'}: not valid JSON" + (f" ({why})" if why else "")
    origin = f"environment variable {', '.join(bad)}" if bad else "environment"
    return ConfigError([problem], "environment", [origin])


def _json_problem(value: str) -> str | None:
    try:
        json.loads(value)
    except json.JSONDecodeError as exc:
        return f"{exc.msg}: line {exc.lineno} column {exc.colno}"
    return None
