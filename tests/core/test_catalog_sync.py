"""The built-in catalog holds what `plan` computes from each source config, for every model
in the fixture corpus that vLLM 0.33 serves."""

from __future__ import annotations

import pytest
from scripts.build_catalog import CARD_PARAMS_B, ENTRIES, LEFT_OUT

from tests.conftest import CONFIGS
from vllm_wizard.core.catalog import catalog_ids, catalog_metadata
from vllm_wizard.core.model_source import load_model_metadata


def _fixture(folder: str) -> str:
    return str(CONFIGS / folder.replace("__", "--", 1))


def test_every_fixture_is_catalogued_or_left_out_for_a_reason() -> None:
    folders = {p.name.replace("--", "__", 1) for p in CONFIGS.iterdir() if p.is_dir()}
    assert folders - set(ENTRIES) - set(LEFT_OUT) == set()
    assert len(catalog_ids()) == len(ENTRIES)


@pytest.mark.parametrize("folder", sorted(ENTRIES))
def test_catalog_entry_matches_its_config(folder: str) -> None:
    model_id = ENTRIES[folder][0]
    stored = catalog_metadata(model_id)
    assert stored is not None
    fresh = load_model_metadata(_fixture(folder), params_b=CARD_PARAMS_B.get(folder))
    skip = {"model_id", "source"}
    assert stored.model_dump(exclude=skip) == fresh.model_dump(exclude=skip)
