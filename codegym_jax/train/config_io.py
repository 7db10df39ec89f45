"""Experiment configs in and out: a config module or a resolved `config.json` in, `a.b.c=value`
overrides parsed to each field's declared type, the resolved config out as JSON."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import pathlib
import types
import typing
from typing import Any, Literal

from codegym_jax.run_paths import RunPaths
from codegym_jax.train.config import ConfigError, ExperimentConfig, check_config, run_paths


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"tuple of {_type_name(typing.get_args(tp)[0])}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _first_arm(convert, value: Any, tp: Any, key: str) -> Any:
    """`convert(value, arm, key)` for the first non-None arm of the union `tp` that accepts it."""
    for arm in typing.get_args(tp):
        if arm is type(None):
            continue
        try:
            return convert(value, arm, key)
        except ConfigError:
            continue  # the next arm may accept it
    raise ConfigError(f"{key}: {value!r} is not {_type_name(tp)}")


def _parse_scalar(text: str, tp: Any, key: str) -> Any:
    """Parses one override string to `tp` (bool/int/float/str/Literal/Optional)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in typing.get_args(tp) and text.strip().lower() in ("none", "null"):
            return None
        return _first_arm(_parse_scalar, text, tp, key)
    if origin is Literal:
        allowed = typing.get_args(tp)
        for a in allowed:
            if str(a) == text:
                return a
        raise ConfigError(f"{key}: {text!r} is not allowed; expected {_type_name(tp)}")
    if tp is bool:
        low = text.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key}: {text!r} is not a bool (use true/false)")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{key}: {text!r} is not an int") from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{key}: {text!r} is not a float") from None
    if tp is str:
        return text
    raise ConfigError(f"{key}: fields of type {_type_name(tp)} cannot be overridden from text")


def _parse_override_value(text: str, tp: Any, key: str) -> Any:
    if typing.get_origin(tp) is tuple:
        (elem_tp, *_rest) = typing.get_args(tp)
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                items = json.loads(stripped)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{key}: {text!r} is not a JSON list ({e})") from None
            return _coerce(items, tp, key)
        if not stripped:
            return ()
        return tuple(_parse_scalar(part.strip(), elem_tp, key) for part in stripped.split(","))
    if dataclasses.is_dataclass(tp):
        raise ConfigError(
            f"{key} is a group of fields, not a value; set one of: "
            + ", ".join(f"{key}.{f}" for f in _field_types(tp))
        )
    return _parse_scalar(text, tp, key)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Checks a JSON value against `tp`, converting lists to tuples and dicts to dataclasses."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected an object for {tp.__name__}, got {value!r}")
        return _from_dict(tp, value, key)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):
            return None
        return _first_arm(_coerce, value, tp, key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list ({_type_name(tp)}), got {value!r}")
        (elem_tp, *_rest) = typing.get_args(tp)
        return tuple(_coerce(v, elem_tp, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{key}: {value!r} is not allowed; expected {_type_name(tp)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected a bool, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an int, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a float, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported field type {_type_name(tp)}")


def _from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    types_by_name = _field_types(cls)
    unknown = sorted(set(data) - set(types_by_name))
    if unknown:
        where = prefix or cls.__name__
        raise ConfigError(
            f"unknown field(s) {unknown} in {where}; allowed: {sorted(types_by_name)}"
        )
    kwargs = {
        name: _coerce(value, types_by_name[name], f"{prefix}.{name}" if prefix else name)
        for name, value in data.items()
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{prefix or cls.__name__}: {e}") from None


def config_from_dict(data: dict) -> ExperimentConfig:
    """Builds an ExperimentConfig from a (possibly partial) nested dict, strictly checked."""
    return _from_dict(ExperimentConfig, data)


def config_to_dict(config: ExperimentConfig) -> dict:
    """A JSON-ready nested dict (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def apply_overrides(config: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """Applies `a.b.c=value` overrides in order; each value is parsed to its field's type."""
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form a.b.c=value")
        config = _replace_path(config, key.split("."), text, key)
    return config


def _replace_path(node: Any, path: list[str], text: str, full_key: str) -> Any:
    types_by_name = _field_types(type(node))
    name = path[0]
    if name not in types_by_name:
        where = ".".join(full_key.split(".")[: -len(path)]) or type(node).__name__
        raise ConfigError(
            f"unknown config key {full_key!r}: {where} has no field {name!r}; "
            f"allowed: {sorted(types_by_name)}"
        )
    tp = types_by_name[name]
    if len(path) == 1:
        value = _parse_override_value(text, tp, full_key)
    else:
        child = getattr(node, name)
        if not dataclasses.is_dataclass(child):
            raise ConfigError(
                f"unknown config key {full_key!r}: {name!r} is a value ({_type_name(tp)}), not a group"
            )
        value = _replace_path(child, path[1:], text, full_key)
    try:
        return dataclasses.replace(node, **{name: value})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{full_key}: {e}") from None



def load_config(path: str | pathlib.Path) -> ExperimentConfig:
    """Loads a config module (`get_config()`) or a resolved `config.json`."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ConfigError(f"config file {str(path)!r} is not valid JSON: {e}") from None
        return config_from_dict(data)
    if path.suffix != ".py":
        raise ConfigError(f"config file {str(path)!r} must be a .py module or a .json file")
    spec = importlib.util.spec_from_file_location(f"_experiment_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    get_config = getattr(module, "get_config", None)
    if get_config is None:
        raise ConfigError(f"config module {str(path)!r} has no get_config() function")
    config = get_config()
    if not isinstance(config, ExperimentConfig):
        raise ConfigError(
            f"{str(path)!r}: get_config() returned {type(config).__name__}, not ExperimentConfig"
        )
    return config


def save_config(config: ExperimentConfig, path: str | pathlib.Path) -> None:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config_to_dict(config), indent=2, sort_keys=True) + "\n")



def load_run(run_dir: str | pathlib.Path) -> tuple[ExperimentConfig, RunPaths]:
    """The config a run directory was made with (its `config.json`) and the run's paths."""
    config = load_config(RunPaths(pathlib.Path(run_dir)).config_file)
    return config, run_paths(config, run_dir)


def resolve_config(config_path: str | pathlib.Path, overrides: list[str]) -> ExperimentConfig:
    """The config a run uses: the file, then each override in order, then `check_config`."""
    return check_config(apply_overrides(load_config(config_path), overrides))
