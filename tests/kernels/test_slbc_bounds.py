"""The weight-aware low-field bound (kernels/slbc_bounds.py): exact at its edge, one step more
is not, and extreme weights fall back to the scheme's worst case."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from tests.kernels.test_slbc import run_slbc

from mcumixq.ir.builder import GraphBuilder
from mcumixq.ir.graph import Graph
from mcumixq.kernels import slbc
from mcumixq.kernels.geometry import ConvGeometry, conv_geometry
from mcumixq.kernels.slbc_bounds import runs_fit, step_ranges, weight_steps
from mcumixq.numerics import a_range, w_range
from mcumixq.packing.fields import two_field_dot
from mcumixq.packing.schemes import Scheme, window
from mcumixq.packing.weights import lane_weights


def conv1x1(seed: int, cin: int, cout: int, w_bits: int, a_bits: int) -> Graph:
    b = GraphBuilder(np.random.default_rng(seed), (2, 4, cin), a_bits=a_bits)
    b.conv2d(cout, kernel=1, w_bits=w_bits, a_bits=4, relu=True, name="op")
    return b.build()


def _geo(g: Graph) -> tuple[ConvGeometry, Scheme]:
    geo = conv_geometry(g, g.ops[-1])
    scheme = slbc.layer_scheme(geo, force=True)
    assert scheme is not None
    return geo, scheme


def _edge_input(geo: ConvGeometry, c: int, top: bool) -> np.ndarray:
    """Per input channel: the activation driving low channel c's field to its top (or bottom)."""
    w = geo.weight[c].reshape(-1).astype(np.int64)
    lo, hi = a_range(geo.in_bits)
    up = w > 0 if top else w < 0
    return np.where(up, hi, lo)


@pytest.mark.parametrize(("w_bits", "a_bits"), [(4, 4), (4, 3), (2, 8), (3, 4)])
def test_bound_lies_between_the_worst_case_and_the_window(w_bits, a_bits) -> None:
    g = conv1x1(w_bits * a_bits, 64, 16, w_bits, a_bits)
    geo, scheme = _geo(g)
    worst = dataclasses.replace(scheme, steps=_range_steps(scheme))
    total = geo.k // 2
    assert worst.steps <= scheme.steps
    assert scheme.steps == weight_steps(geo, worst)
    assert scheme.steps <= total or scheme.steps == worst.steps


@pytest.mark.parametrize(("w_bits", "a_bits"), [(2, 8), (4, 2), (4, 4), (8, 2)])
def test_extreme_weights_keep_the_worst_case(w_bits, a_bits) -> None:
    """Constant weights at the range end that binds the worst case reach the range-wide bound
    exactly (one step more breaks it): nothing is gained, nothing lost; the bound is tight at
    either end."""
    fam = "chpar" if w_bits < 8 else "pxpar"
    found = []
    for end in w_range(w_bits):
        g = conv1x1(1, 256, 8, w_bits, a_bits)
        op = g.ops[-1]
        g = dataclasses.replace(
            g, ops=(dataclasses.replace(op, weight=np.full_like(op.weight, end)),)
        )
        geo = conv_geometry(g, g.ops[-1])
        scheme = slbc.layer_scheme(geo, family=fam, force=True)
        assert scheme is not None
        lo_r, hi_r = step_ranges(geo, scheme)
        win = window(scheme.spacing, scheme.low_signed)
        assert runs_fit(lo_r, hi_r, scheme.steps, win)
        assert scheme.steps >= lo_r.shape[1] or not runs_fit(lo_r, hi_r, scheme.steps + 1, win)
        found.append(scheme)
    # the end that binds the range-wide bound of its scheme (spacing, shift) reaches it exactly
    assert any(sc.steps == _range_steps(sc) for sc in found)
    assert all(sc.steps >= _range_steps(sc) for sc in found)


def _range_steps(scheme: Scheme) -> int:
    """The scheme's range-wide bound (packing.schemes.two_field_scheme, same spacing/shifts)."""
    from mcumixq.packing.schemes import two_field_scheme

    cand = two_field_scheme(
        scheme.family, scheme.w_bits, scheme.a_bits, scheme.spacing,
        (scheme.a_lo, scheme.a_hi), (scheme.w_lo, scheme.w_hi),
    )  # fmt: skip
    assert cand is not None and cand.low_signed == scheme.low_signed
    return cand.steps


@pytest.mark.parametrize(("w_bits", "a_bits", "seed"), [(4, 4, 0), (4, 4, 1), (2, 8, 2)])
def test_one_step_more_overflows_an_adversarial_input(w_bits, a_bits, seed) -> None:
    """Negative control on the NumPy model of the core (packing.fields.two_field_dot): the run
    that breaks n + 1, filled with its edge activations, gives the exact low total with blocks
    of n steps and a wrong one with blocks of n + 1."""
    g = conv1x1(seed, 256, 8, w_bits, a_bits)
    geo, scheme = _geo(g)
    n = scheme.steps
    lo_r, hi_r = step_ranges(geo, scheme)
    assert n < lo_r.shape[1], "the layer must not fit the whole window"
    win = window(scheme.spacing, scheme.low_signed)
    zero = np.zeros((lo_r.shape[0], 1), np.int64)
    phi = np.concatenate([zero, np.cumsum(hi_r, 1)], 1)
    plo = np.concatenate([zero, np.cumsum(lo_r, 1)], 1)
    over_hi = phi[:, n + 1 :] - phi[:, : -(n + 1)] > win[1]
    over_lo = plo[:, n + 1 :] - plo[:, : -(n + 1)] < win[0]
    top = bool(over_hi.any())
    c, t0 = np.argwhere(over_hi if top else over_lo)[0]
    lw = lane_weights(geo.weight, geo.in_bits)
    w0, w1 = lw[2 * c, 2 * t0 :], lw[2 * c + 1, 2 * t0 :]
    a_lo, a_hi = scheme.a_lo, scheme.a_lo + (1 << geo.in_bits) - 1
    a = np.where((w0 > 0) == top, a_hi, a_lo)  # shifted activations at the edge
    exact = int((a * w0).sum())
    assert two_field_dot(w0, w1, a, scheme, steps=n)[0] == exact
    assert two_field_dot(w0, w1, a, scheme, steps=n + 1)[0] != exact


@pytest.mark.parametrize(("w_bits", "a_bits", "cin"), [(4, 4, 64), (4, 3, 128), (3, 4, 192)])
@pytest.mark.parametrize("top", [True, False])
def test_edge_inputs_stay_bit_exact(w_bits, a_bits, cin, top) -> None:
    """A 1x1 layer whose weight-aware bound covers the whole window (no extraction) with the
    input that drives its largest low field to the edge: bit-exact on the host."""
    g = conv1x1(7, cin, 16, w_bits, a_bits)
    geo, scheme = _geo(g)
    assert scheme.steps >= geo.k // 2 > _range_steps(scheme)
    lo_r, hi_r = step_ranges(geo, scheme)
    c = int(np.argmax(hi_r.sum(1) if top else -lo_r.sum(1)))
    x = np.broadcast_to(_edge_input(geo, 2 * c, top), (2, 4, cin))
    run_slbc(g, seed=0, x=np.ascontiguousarray(x))


@pytest.mark.parametrize(("w_bits", "a_bits"), [(2, 8), (5, 4), (4, 6)])
def test_greedy_cuts_make_the_fewest_exact_blocks(w_bits, a_bits) -> None:
    """Every block between the cuts fits the window, no block could take one more step, there
    are no more blocks than the uniform schedule has, and the straight-line body extracts
    exactly at the cuts (bit-exact on the host)."""
    from mcumixq.kernels.slbc_bounds import greedy_cuts

    g = conv1x1(w_bits + a_bits, 64, 8, w_bits, a_bits)
    geo, scheme = _geo(g)
    lo, hi = step_ranges(geo, scheme)
    total = lo.shape[1]
    win = window(scheme.spacing, scheme.low_signed)
    cuts = greedy_cuts(geo, scheme)
    bounds = [0, *cuts, total]
    for a, b in itertools.pairwise(bounds):
        assert runs_fit(lo[:, a:b], hi[:, a:b], b - a, win)
        if b < total:
            assert not runs_fit(lo[:, a : b + 1], hi[:, a : b + 1], b + 1 - a, win)
    assert len(cuts) <= (total - 1) // scheme.steps
    p = slbc.plan(geo, scheme)
    assert p.full and p.cuts == cuts and p.extractions == len(cuts)
    body = slbc.full_body(p, scheme.low_signed).split()
    marks = [body[:i].count("MQ_SLBC_STEP") + 1 for i, x in enumerate(body) if "XTR" in x]
    assert tuple(marks) == cuts
    run_slbc(g, seed=1)
