# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # VOID dataset audit
#
# The same figures and tables as `python -m datagen.audit DATASET` (HTML report), computed by the
# same functions in `datagen/audit/void.py`. Set `dataset` (a local runner output or an fsspec URL) and
# `limit` (samples to read; `None` = all) below, or inject them with papermill
# (`papermill notebooks/audit_void.ipynb out.ipynb -p dataset /path/to/run -p limit 100`).

# %% tags=["parameters"]
dataset = "/tmp/void_small"
limit = None  # number of samples to audit; None reads every finished shard
grid = 4  # samples shown as input | target | quadmask | |A-B| contact sheets

# %%
# %matplotlib inline
from datagen import audit

a = audit.collect_void(dataset, limit=limit, grid=grid)
print(f"{len(a.rows)} samples audited from {a.url}")

# %%
audit.show(audit.section_overview(a))

# %%
audit.show(audit.section_quadmask_balance(a))

# %%
audit.show(audit.section_masked_pairs(a))

# %%
audit.show(audit.section_areas(a))

# %%
audit.show(audit.section_divergence(a))

# %%
audit.show(audit.section_balance(a))

# %% [markdown]
# The effects family's carriers, and how every pair's effect pixels split by the light path that carries them
# (shadow, reflection, transmission, illumination), with one sample grid per carrier:

# %%
audit.show(audit.section_effect_categories(a))

# %%
audit.show(audit.section_displacement(a))

# %%
audit.show(audit.section_samples(a))

# %%
audit.show(audit.section_failures(a))

# %% [markdown]
# Every section in order (what the HTML report contains):

# %%
assert [fn.__name__ for fn in audit.VOID_SECTIONS] == [
    "section_overview", "section_quadmask_balance", "section_masked_pairs", "section_areas",
    "section_divergence", "section_balance", "section_effect_categories", "section_displacement",
    "section_samples", "section_failures"]
