"""The runner's pure helpers: the defect environment, KEY=VALUE parsing and the defaults (no processes started)."""

from __future__ import annotations

import argparse

import pytest

from load.runner import build_parser, defect_environment, parse_env


def test_defect_names_and_env_merge() -> None:
    args = build_parser().parse_args(
        [
            "--defect",
            "no_row_lock",
            "--defect-env",
            "PAYHARNESS_DEFECTS=always_200",
            "--defect-env",
            "PAYHARNESS_X=1",
            "--defect",
            "no_row_lock",
        ]
    )
    env = defect_environment(args)
    assert env == {"PAYHARNESS_DEFECTS": "always_200,no_row_lock", "PAYHARNESS_X": "1"}


def test_env_pairs_must_have_a_key_and_a_value_sign() -> None:
    assert parse_env(["A=b=c"]) == {"A": "b=c"}
    with pytest.raises(SystemExit):
        parse_env(["novalue"])


def test_defaults_drive_every_user_class() -> None:
    args: argparse.Namespace = build_parser().parse_args([])
    assert set(args.users) == {"WompiWebhookUser", "PayUWebhookUser", "WompiGatewayUser", "CheckoutUser", "EfectyUser"}
    assert (args.rate, args.duration, args.workers) == (100.0, 30.0, 0)
