"""Simulator settings from command-line flags, PAYHARNESS_SIM_* variables and one TOML file, checked and printed.

Precedence, highest first: flags, then environment variables, then the ``--config`` TOML file, then the
defaults of ``PayUConfig``, ``WompiConfig`` and ``EfectyConfig``. pydantic-settings merges and validates
the three sources; the flags are argparse options generated from the config dataclasses (the runners
already parse ``--only``, ``--json`` and ports with argparse) and handed to the settings as init values.

Usage::

    parser = argparse.ArgumentParser(); add_flags(parser, gateways=GATEWAYS)
    settings = load(parser.parse_args(argv))                       # SettingsError on a bad value
    config = build_config(settings, "payu")                       # a PayUConfig
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import tomllib
import typing
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, create_model
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

GATEWAYS = ("payu", "wompi", "efecty")
ENV_PREFIX = "PAYHARNESS_SIM_"
_CONFIG_CLASS = {
    "payu": "simulators.payu.config:PayUConfig",
    "wompi": "simulators.wompi.config:WompiConfig",
    "efecty": "simulators.efecty.config:EfectyConfig",
}
# Redacted when printed; like every credential, refused when empty.
SECRETS: dict[str, frozenset[str]] = {
    "payu": frozenset({"api_key", "webhook_secret"}),
    "wompi": frozenset({"private_key", "events_secret", "integrity_secret"}),
    "efecty": frozenset({"merchant_api_key", "point_key", "notify_secret"}),
}
# Identifiers a client must send: not secret, but an empty one is as useless as an empty key.
_IDENTIFIERS: dict[str, frozenset[str]] = {
    "payu": frozenset({"merchant_id", "api_login", "public_key", "accounts"}),
    "wompi": frozenset({"public_key"}),
    "efecty": frozenset({"convenio", "merchant_nit"}),
}
# Config fields that are plans or tables, set through the admin API or the Python factory instead.
_NOT_SETTINGS = frozenset({"seed", "faults", "chaos", "cash_limits"})
# Settings with a closed set of values (refused at start otherwise, not at the first webhook).
_CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "payu": {"webhook_signing": ("MD5", "SHA1", "SHA256", "HMAC_SHA256")},
}
# Flag spellings that the runners accepted before this module, kept working (gateway -> field -> flags).
_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "payu": {"default_confirmation_url": ("webhook-url", "confirmation-url"), "webhook_signing": ("signing",),
             "pending_card_delay_seconds": ("pending-card-delay",),
             "cash_confirmation_delay_seconds": ("cash-confirmation-delay",)},
    "wompi": {"events_url": ("webhook-url",), "finalize_delay_seconds": ("finalize-delay",),
              "regenerate_event_signature_on_retry": ("regenerate-signature-on-retry",)},
    "efecty": {"notify_url": ("webhook-url",)},
}


class SettingsError(ValueError):
    """A setting that cannot be used; the message is one line naming it and where it can be set."""


def config_class(gateway: str) -> type:
    module, name = _CONFIG_CLASS[gateway].split(":")
    cls: type = getattr(importlib.import_module(module), name)
    return cls


def _settable_fields(gateway: str) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(config_class(gateway)) if f.name not in _NOT_SETTINGS]


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[operator]


@cache
def gateway_model(gateway: str) -> type[BaseModel]:
    """The pydantic model of one gateway's settings: its config's fields (types and defaults) plus ``port``."""
    hints = typing.get_type_hints(config_class(gateway))
    definitions: dict[str, Any] = {"port": (int | None, Field(None, ge=0, le=65535))}
    for f in _settable_fields(gateway):
        if f.name in SECRETS[gateway]:
            definitions[f.name] = (SecretStr, Field(SecretStr(_default(f)), min_length=1))
        elif f.name in _IDENTIFIERS[gateway]:
            definitions[f.name] = (hints[f.name], Field(_default(f), min_length=1))
        elif f.name in _CHOICES.get(gateway, {}):
            definitions[f.name] = (typing.Literal[_CHOICES[gateway][f.name]], _default(f))
        else:
            definitions[f.name] = (hints[f.name], _default(f))
    strict = ConfigDict(extra="forbid", validate_default=True)
    model: type[BaseModel] = create_model(f"{gateway.capitalize()}Settings", __config__=strict, **definitions)
    return model


class _Settings(BaseSettings):
    """Base of the merged settings; ``load`` gives it its fields and the TOML file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="_", env_nested_max_split=1, extra="forbid"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The order is the precedence: flags (init values), environment, TOML file.
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)


@cache
def settings_model(toml_file: Path | None = None) -> type[_Settings]:
    """All three gateways' settings under ``payu``/``wompi``/``efecty``, plus the shared ``seed``."""
    fields: dict[str, Any] = {"seed": (int | None, None)}
    for gateway in GATEWAYS:
        model = gateway_model(gateway)
        fields[gateway] = (model, Field(default_factory=model))
    config = SettingsConfigDict(**{**_Settings.model_config, "toml_file": toml_file})
    model_cls: type[_Settings] = create_model("SimulatorSettings", __base__=_Settings, **fields)
    model_cls.model_config = config
    return model_cls


# -- flags ------------------------------------------------------------------------------------------------


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def _csv(text: str) -> list[str]:
    """``60,300`` -> ["60", "300"]; pydantic turns the items into numbers and refuses what is not one."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _pairs(text: str) -> dict[str, str]:
    """``512321=CO,512322=AR`` -> {"512321": "CO", "512322": "AR"}."""
    pairs = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key or not value:
            raise argparse.ArgumentTypeError(f"expected ACCOUNT=COUNTRY pairs separated by commas, got {text!r}")
        pairs[key] = value
    return pairs


def _dest(gateway: str, name: str) -> str:
    return f"sim__{gateway}__{name}"


def add_flags(parser: argparse.ArgumentParser, *, gateways: Sequence[str], prefixed: bool = True) -> None:
    """Add ``--config``, ``--seed`` and one flag per setting (``--payu-api-key``; ``--api-key`` unprefixed).

    Flags left out are absent from the namespace, so they do not hide the environment or the file.
    """
    parser.set_defaults(sim_prefixed_flags=prefixed)  # so an error names the flag as this runner spells it
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="TOML file of settings (flags > PAYHARNESS_SIM_* > this file > defaults)")
    parser.add_argument("--seed", type=int, default=argparse.SUPPRESS, dest=_dest("", "seed"), metavar="N",
                        help="seed the ids and random choices (reproducible); default: fresh per start")
    for gateway in gateways:
        group = parser.add_argument_group(f"{gateway} settings (env {ENV_PREFIX}{gateway.upper()}_<NAME>, "
                                          f"TOML [{gateway}])")
        model = gateway_model(gateway)
        for name, info in model.model_fields.items():
            if name == "port" and not prefixed:
                continue  # the one-gateway runners keep their own --port with its own default
            spellings = [name, *(a.replace("-", "_") for a in _ALIASES[gateway].get(name, ()))]
            flags = [f"--{gateway}-{_kebab(s)}" if prefixed else f"--{_kebab(s)}" for s in spellings]
            group.add_argument(*flags, **_flag_options(gateway, name, info.annotation))


def _port(text: str) -> int:
    """An argparse type: a TCP port 0..65535, refused at parse time otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port 0..65535 (0: a free one), got {text}")
    return value


def _flag_options(gateway: str, name: str, annotation: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"dest": _dest(gateway, name), "default": argparse.SUPPRESS}
    default = gateway_model(gateway).model_fields[name].get_default(call_default_factory=True)
    if name == "port":
        options.update(type=_port, metavar="PORT", help="TCP port on 127.0.0.1; 0 (the default) picks a free one")
        return options
    if annotation is bool:
        options["action"] = argparse.BooleanOptionalAction
    elif typing.get_origin(annotation) is tuple:
        options.update(type=_csv, metavar="SECONDS,...")
    elif typing.get_origin(annotation) is dict:
        options.update(type=_pairs, metavar="ACCOUNT=COUNTRY,...")
    else:
        options["metavar"] = "VALUE"
    if name in _CHOICES.get(gateway, {}):
        options["choices"] = _CHOICES[gateway][name]
    if name in SECRETS[gateway]:
        options["help"] = "secret (redacted when printed); default: the simulator's test value"
    else:
        options["help"] = f"default: {_printable(default)}"
    return options


def _printable(value: Any) -> str:
    if isinstance(value, SecretStr):
        return redact(value.get_secret_value())
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" if isinstance(v, int | float) else str(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return "-" if value is None else str(value)


def _flag_values(namespace: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for dest, value in vars(namespace).items():
        if not dest.startswith("sim__"):
            continue
        _, gateway, name = dest.split("__")
        if gateway:
            values.setdefault(gateway, {})[name] = value
        else:
            values[name] = value
    return values


# -- loading ----------------------------------------------------------------------------------------------


def parse_runner_args(gateway: str, argv: Sequence[str] | None, *, doc: str | None,
                      default_port: int) -> argparse.Namespace:
    """A one-gateway runner's flags (``--port`` and the gateway's settings, unprefixed) plus the merged
    settings as ``args.settings`` and the port to serve on as ``args.serve_port``: ``--port``, else the
    setting ``port`` (environment or file), else ``default_port``. A bad setting exits 2 with one line."""
    parser = argparse.ArgumentParser(prog=f"python -m simulators.{gateway}", description=doc,
                                     usage="%(prog)s [--port N] [--config FILE] [--seed N] [--<setting> VALUE ...]")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port on 127.0.0.1 (0 picks a free one; default {default_port})")
    add_flags(parser, gateways=(gateway,), prefixed=False)
    args = parser.parse_args(argv)
    args.settings = load_or_exit(parser, args)
    chosen = [p for p in (args.port, getattr(args.settings, gateway).port) if p is not None]
    args.serve_port = int(chosen[0]) if chosen else default_port
    return args


def load_or_exit(parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> BaseModel:
    """``load``, or exit 2 with one line ``<prog>: error: <what is wrong>`` (no usage dump)."""
    try:
        return load(namespace)
    except SettingsError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")


def settings_lines(config: Any, gateway: str) -> list[str]:
    """The start-up printout of every setting, secrets redacted, aligned."""
    rows = [("seed", str(config.seed)), *describe(config, gateway)]
    width = max(len(name) for name, _ in rows) + 2
    return [f"  {name:<{width}}{value}" for name, value in rows]


def _where(loc: tuple[Any, ...], *, prefixed: bool) -> str:
    """How to set the setting at a validation error's location, all three ways."""
    if len(loc) >= 2 and loc[0] in GATEWAYS:
        gateway, name = str(loc[0]), str(loc[1])
        flag = f"--{gateway}-{_kebab(name)}" if prefixed else f"--{_kebab(name)}"
        return (f"{gateway}.{name} ({flag}, {ENV_PREFIX}{gateway.upper()}_{name.upper()}, "
                f"[{gateway}] {name})")
    name = ".".join(str(part) for part in loc)
    return f"{name} (--{_kebab(name)}, {ENV_PREFIX}{name.upper()}, top-level {name})"


def _unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """PAYHARNESS_SIM_* variables that name no setting (a typo would otherwise be ignored)."""
    known = {f"{ENV_PREFIX}SEED"}
    for gateway in GATEWAYS:
        known |= {f"{ENV_PREFIX}{gateway.upper()}_{name.upper()}" for name in gateway_model(gateway).model_fields}
    return sorted(k for k in environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)


def load(namespace: argparse.Namespace) -> BaseModel:
    """Merge flags (from ``add_flags``), PAYHARNESS_SIM_* variables and the ``--config`` file; check them.

    Raises ``SettingsError`` with one line naming the first bad setting.
    """
    unknown = _unknown_environment(os.environ)
    if unknown:
        raise SettingsError(f"{unknown[0]}: no such setting (see simulators/README.md, 'Configure')")
    path: Path | None = getattr(namespace, "config", None)
    if path is not None:
        if not path.is_file():
            raise SettingsError(f"--config {path}: no such file")
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"--config {path}: not valid TOML: {exc}") from None
    model = settings_model(path.resolve() if path is not None else None)
    try:
        return model(**_flag_values(namespace))
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            key = f"[{loc[0]}] {loc[1]}" if len(loc) == 2 else ".".join(map(str, loc))
            raise SettingsError(f"--config {path}: {key}: no such setting") from None
        message = "must not be empty" if error["type"] in ("too_short", "string_too_short") else error["msg"]
        prefixed = getattr(namespace, "sim_prefixed_flags", True)
        raise SettingsError(f"setting {_where(loc, prefixed=prefixed)}: {message}") from None


def build_config(settings: BaseModel, gateway: str) -> Any:
    """The gateway's config dataclass from the merged settings (secrets unwrapped, ``port`` left out).

    Without a seed in the settings the config draws a fresh one, so ids differ from one start to the next.
    """
    section: BaseModel = getattr(settings, gateway)
    values = {name: getattr(section, name) for name in type(section).model_fields if name != "port"}
    values = {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in values.items()}
    seed = getattr(settings, "seed")  # noqa: B009 - a field of a generated model
    return config_class(gateway)(**values, **({} if seed is None else {"seed": seed}))


def child_environment(config: Any, gateway: str) -> dict[str, str]:
    """``config`` as PAYHARNESS_SIM_* variables: what a parent hands a ``python -m simulators.<gateway>`` child.

    Every setting and the seed, so the child runs exactly the config the parent resolved and printed
    (without the seed a child would draw its own). Strings as they are, everything else as JSON (lists,
    tables, booleans and numbers, which is how the environment source reads them); unset (None) left out.
    """
    env = {f"{ENV_PREFIX}SEED": str(config.seed)}
    for f in _settable_fields(gateway):
        value = getattr(config, f.name)
        if value is None:
            continue
        if isinstance(value, Decimal):
            value = str(value)
        text = value if isinstance(value, str) else json.dumps(list(value) if isinstance(value, tuple) else value)
        env[f"{ENV_PREFIX}{gateway.upper()}_{f.name.upper()}"] = text
    return env


def environment_without_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default ``os.environ``) without any PAYHARNESS_SIM_* variable: the base environment of a
    simulator child whose settings a parent decides.

    Why: a child reads PAYHARNESS_SIM_* as its settings (over its defaults), so a user's own, meant for
    ``payharness simulators``, would reach a child whose parent configured it otherwise — a stack's core
    expecting the defaults, or a runner that printed what it resolved — and the two would disagree. Matched
    regardless of case, as pydantic-settings reads the environment.

    Usage: ``env = environment_without_settings() | child_environment(config, "payu")``
    """
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if not k.upper().startswith(ENV_PREFIX)}


def redact(value: str) -> str:
    """A secret as printed: its last four characters when long enough to keep the rest hidden."""
    return f"****{value[-4:]}" if len(value) >= 16 else "****"


def describe(config: Any, gateway: str) -> list[tuple[str, str]]:
    """Every setting of ``config`` as (name, printable value), secrets redacted."""
    rows = []
    for f in _settable_fields(gateway):
        value = getattr(config, f.name)
        rows.append((f.name, redact(str(value)) if f.name in SECRETS[gateway] else _printable(value)))
    return rows


def printable(config: Any, gateway: str) -> dict[str, Any]:
    """What a runner prints at start: the seed, the client's credentials and every setting, secrets redacted."""
    own = config.credentials() if hasattr(config, "credentials") else {}
    creds = {k: redact(str(v)) if k in SECRETS[gateway] else str(v) for k, v in own.items()}
    settings = {"seed": str(config.seed), **dict(describe(config, gateway))}
    return {"seed": config.seed, "credentials": creds, "settings": settings}


def settings_table() -> str:
    """The README's settings table (markdown): name, flag, environment variable, TOML key, default."""
    lines = ["| Setting | Flag (`payharness simulators`) | Environment | TOML | Default |", "|---|---|---|---|---|",
             f"| seed | `--seed` | `{ENV_PREFIX}SEED` | `seed` | fresh per start |"]
    for gateway in GATEWAYS:
        for name, info in gateway_model(gateway).model_fields.items():
            default = info.get_default(call_default_factory=True)
            shown = "(test value)" if name in SECRETS[gateway] else _printable(default)
            shown = "0 (a free port)" if name == "port" else shown
            lines.append(f"| {gateway}.{name} | `--{gateway}-{_kebab(name)}` | "
                         f"`{ENV_PREFIX}{gateway.upper()}_{name.upper()}` | `[{gateway}] {name}` | {shown} |")
    return "\n".join(lines)
