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
# # Vera dataset audit
#
# The same figures and tables as `python -m datagen.audit DATASET` on a `datagen.vera_layers` run (HTML
# report), computed by the same functions in `datagen/audit/vera.py`: alpha statistics, composite
# residuals `|alpha * edit_rgb + (1 - alpha) * input - composite|` on the decoded videos, task / family
# balance and instruction lengths, contact sheets (input | edit over checkerboard | alpha | composite)
# and failures. Set `dataset` (a local runner output or an fsspec URL) and `limit` (clips to read;
# `None` = all) below, or inject them with papermill
# (`papermill notebooks/audit_vera.ipynb out.ipynb -p dataset /path/to/run -p limit 100`).

# %% tags=["parameters"]
dataset = "/tmp/vera_small"
limit = None  # number of clips to audit; None reads every finished shard
grid = 4  # clips shown as input | edit over checkerboard | alpha | composite contact sheets

# %%
# %matplotlib inline
from datagen import audit
from datagen.audit import vera as audit_vera

a = audit_vera.collect_vera(dataset, limit=limit, grid=grid)
print(f"{len(a.rows)} clips audited from {a.url}")

# %%
audit.show(audit_vera.section_overview(a))

# %%
audit.show(audit_vera.section_alpha(a))

# %%
audit.show(audit_vera.section_residuals(a))

# %%
audit.show(audit_vera.section_balance(a))

# %%
audit.show(audit_vera.section_samples(a))

# %%
audit.show(audit_vera.section_failures(a))

# %% [markdown]
# Every section in order (what the HTML report contains):

# %%
assert [fn.__name__ for fn in audit_vera.VERA_SECTIONS] == [
    "section_overview", "section_alpha", "section_residuals", "section_balance", "section_samples",
    "section_failures"]
