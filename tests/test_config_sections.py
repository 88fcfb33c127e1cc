"""Config sections: one source of default values (the YAML), dataclasses with the YAML keys' exact names,
and a run's data identity (``config_hash``) unchanged by code moves."""
from __future__ import annotations

import dataclasses

import pytest

from datagen.core.sections import SectionError, yaml_section
from datagen.runner.config import config_hash, load_config, to_plain
from datagen.scene.spec import RenderSpec
from datagen.vera.tasks import FoldConfig
from datagen.void.human_scene import HumotoConfig
from datagen.void.pairs import MaskConfig

SECTIONS = [MaskConfig, FoldConfig, HumotoConfig]


@pytest.mark.parametrize("cls", SECTIONS, ids=lambda c: c.__name__)
def test_dataclass_fields_are_the_yaml_keys(cls):
    config, key = cls.SECTION
    assert [f.name for f in dataclasses.fields(cls)] == list(yaml_section(config, key))
    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(cls)), "defaults live in the YAML"


@pytest.mark.parametrize("cls", SECTIONS, ids=lambda c: c.__name__)
def test_defaults_come_from_the_composed_run_config(cls):
    config, key = cls.SECTION
    composed = load_config(config, ["out=/tmp/x"])
    from omegaconf import OmegaConf

    assert cls.from_section(OmegaConf.select(composed, key)) == cls.defaults()


def test_a_renamed_or_missing_key_is_a_one_line_error():
    good = dataclasses.asdict(MaskConfig.defaults())
    with pytest.raises(SectionError, match=r"void.mask.mask_rule is not an option"):
        MaskConfig.from_section({**good, "mask_rule": "pixel"})
    del good["dilation"]
    with pytest.raises(SectionError, match=r"void.mask.dilation is missing"):
        MaskConfig.from_section(good)
    assert MaskConfig.defaults(dilation=3).dilation == 3


def test_render_spec_defaults_are_the_base_render_section():
    base = yaml_section("base", "render")
    spec = RenderSpec()
    assert (spec.width, spec.height, spec.spp, spec.device) == (base["width"], base["height"], base["spp"],
                                                                base["device"])
    assert spec.threads == 0 and spec.gpus == () and base["threads"] is None and base["gpus"] is None


# The data identity of the default configs. A dataset resumes only into the same config_hash, so these
# change only when what a default run makes changes, on purpose: the layout change (issue 14) kept them
# (a dataset written before it validated and resumed after it); the real assets (issue 15, the `assets`
# section) changed the VOID and Vera ones (before: void df2e68449f8700a9, humoto e40ec1ee715b4831, vera
# 190156439a05f59f); the clean renders (issue 25: render.spp 8, render.denoise, adaptive sampling keys, region
# rendering of VOID's passes, vera.fold.min_component) changed all four (before: void 456dd780f2c15d47, humoto
# 8c84234873c24c0f, vera 42778ca8569ec67b, toy 405509f0e0225bf7; the toy generator reads none of the new render
# keys, but they are in its base section); the effects family and effect categories (issue 26: void.families.effects,
# void.effects, void.mask.categories/category_budget) changed the two VOID ones (before: void f5fb840593420d60,
# humoto 7e7c63e3547ddc83); people in Vera's data (issue 27: vera.subjects, vera.person) changed Vera's (before: 34f52144091a2f1f).
HASHES = {("void_counterfactuals",): "83ea947227e71a45", ("void_counterfactuals", "source=humoto"): "4cbb82f4215bdc20",
          ("vera_layers",): "128a26030488ec7d", ("toy_shapes",): "809f7e1b2b02400d"}


@pytest.mark.parametrize("name", sorted(HASHES), ids="-".join)
def test_default_data_configs_hash_as_before(name):
    assert config_hash(to_plain(load_config(name[0], ["out=/tmp/x", *name[1:]]))) == HASHES[name]


def test_keys_added_later_hash_only_when_they_change_the_data():
    """assets.materials=keep and assets.hdris=null make what datasets written before them hold, so they keep
    the hashes above; assets.data_dir only says where the archives are read from."""
    base = ["out=/tmp/x", "assets.library=/m/GSO.json"]
    same = config_hash(to_plain(load_config("void_counterfactuals", base)))
    assert config_hash(to_plain(load_config("void_counterfactuals", [*base, "assets.data_dir=/data/gso"]))) == same
    for change in ("assets.materials=random", "assets.hdris=/data/hdris"):
        assert config_hash(to_plain(load_config("void_counterfactuals", [*base, change]))) != same


# ---------------------------------------------------------------------------------------- the trainers

def _training_sections():
    from training.core import sections as T

    return [T.DataConfig, T.FlowConfig, T.OptimConfig, T.EmaConfig, T.ValidateConfig, T.TrainerConfig,
            T.InferConfig]


@pytest.mark.parametrize("cls", _training_sections(), ids=lambda c: c.__name__)
def test_training_sections_are_the_yaml_keys_and_compose(cls):
    from omegaconf import OmegaConf

    from training.core.config import CONFIG_DIR
    from training.core.config import load_config as train_config

    config, key = cls.SECTION
    raw = OmegaConf.select(OmegaConf.load(CONFIG_DIR / f"{config}.yaml"), key)
    assert [f.name for f in dataclasses.fields(cls)] == list(raw), "the dataclass mirrors the YAML"
    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(cls)), "defaults live in the YAML"
    composed = OmegaConf.select(train_config(["data.path=/d", "infer.input=/i", "infer.out=/o"], name="infer"), key)
    assert cls.from_section(composed) is not None


def test_training_values_are_checked_in_one_line():
    from training.core.config import load_config as train_config
    from training.core.sections import train_sections
    from training.inference.runner import Settings
    from training.trainer.checks import check_config

    run = train_sections(train_config(["data.path=/d"]))
    assert isinstance(run.optim.betas, tuple) and run.trainer.ema.decay == 0.999 and run.trainer.validate.clips == 2
    for bad, key in (("trainer.max_steps=0", "trainer.max_steps"), ("trainer.validate_every=-1", "validate_every"),
                     ("trainer.fsdp=maybe", "trainer.fsdp"), ("data.batch_size=0", "data.batch_size"),
                     ("flow.sampling=beta", "flow.sampling"), ("optim.betas=[0.9]", "optim.betas"),
                     ("trainer.ema.decay=2", "trainer.ema.decay"), ("trainer.validate.clips=0", "validate.clips"),
                     ("+trainer.typo=1", "trainer.typo is not an option"), ("model.size=7B", "model.size")):
        with pytest.raises(ValueError, match=key) as e:
            check_config(train_config(["data.path=/d", bad]))
        assert "\n" not in str(e.value)
    assert Settings.defaults().window == 21  # validation samples in inference's windows (one default)
