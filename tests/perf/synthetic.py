"""A real `Predictor` with hand-set coefficients for every registry family: tests that need
cycle predictions without a multi-minute calibration use it (no test asserts its accuracy)."""

from __future__ import annotations

from mcumixq.kernels.registry import families
from mcumixq.perf.features import KINDS
from mcumixq.perf.predictor import FamilyFit, Predictor

COLUMNS = ("const", "steps", "extract", "words2", "words4", "words8", "out2", "out4", "out8",
           "read2", "read4", "read8")  # fmt: skip
COEF = (200.0, 2.2, 4.0, 2.0, 3.0, 4.0, 2.0, 3.0, 5.0, 1.0, 1.0, 1.0)


def synthetic_predictor() -> Predictor:
    fits = {}
    for fam in families():
        for kind in KINDS:
            g = f"{fam.NAME}/{kind}"
            fits[g] = FamilyFit(group=g, columns=COLUMNS, coef=COEF, n_cases=0, train_mape=0.0)
    return Predictor(fits=fits)
