"""Checks bench/c/recent.c's float32 loops against the reference implementations in float64.

A one-off check, not run by CI or by bench/rules.mjs (which needs no Python): runs
`bench/c/bin/recent --trace=K` (K steps from a fresh state on a small shape, with the K gradients
it prints: a common direction plus fresh noise, so signs change between steps), takes the same K steps with each reference in float64 from the same
W and G, and prints per rule the worst |W_c - W_ref| / max|W_ref - W0| and the worst state error
relative to the state's largest entry.

References (checked out beside the project, never copied into it; put them on PYTHONPATH):
  lion, lion_cautious     lucidrains/lion-pytorch (lion_pytorch.Lion, lion_pytorch.cautious_lion.Lion)
  ademamix                apple/ml-ademamix (its pytorch/ directory: ademamix.AdEMAMix)
  sf_adamw, sf_sgd        facebookresearch/schedule_free (schedulefree.AdamWScheduleFree, SGDScheduleFree)
  prodigy                 konstmish/prodigy (prodigyopt.Prodigy)
  lamb                    optax's lamb, written out below in float64 numpy from optax/_src (jax is not
                          installed here): scale_by_adam, add_decayed_weights, scale_by_trust_ratio, lr
  adamw (the control)     torch.optim.AdamW
  *_cautious (others)     torch.optim's Adam/AdamW/SGD and the rules above, with the cautious mask of
                          cautious_lion.py (factor 0) written out below in float64 numpy

Usage (torch CPU):
  gcc -O3 -march=native -fno-math-errno -pthread -o bench/c/bin/recent bench/c/recent.c -lm
  PYTHONPATH=LION:ADEMAMIX/pytorch:SCHEDULE_FREE:PRODIGY python3 bench/c/recent_check.py [--steps K] [--rows R --cols C]
"""

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "bin", "recent")


def run_torch(make, w0, gs, names, train=False):
    dtype = torch.float64 if w0.dtype == np.float64 else torch.float32
    p = torch.nn.Parameter(torch.tensor(w0, dtype=dtype))
    opt = make([p])
    if train:
        opt.train()
    for g in gs:
        p.grad = torch.tensor(g, dtype=dtype)
        opt.step()
    st = opt.state[p]
    return p.detach().numpy().copy(), {k: st[v].detach().numpy().reshape(w0.shape).copy() for k, v in names.items()}


def cautious(u, g):
    s = (u * g > 0).astype(u.dtype)
    return s / max(s.mean(), u.dtype.type(1e-5))


def lamb_np(w0, gs, masked, lr=1e-3, b1=0.9, b2=0.999, eps=1e-6, wd=0.0):
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(gs, 1):
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * g**2 + b2 * v
        u = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps) + wd * w
        if masked:
            u = u * cautious(u, g)
        pn, un = np.linalg.norm(w), np.linalg.norm(u)
        r = 1.0 if pn == 0 or un == 0 else pn / un
        w = w + (-lr) * (u * r)
    return w, {"m": m, "v": v}


def ademamix_cautious_np(w0, gs, lr=1e-3, b1=0.9, b2=0.999, b3=0.9999, alpha=2.0, eps=1e-8):
    w, m1, m2, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(gs, 1):
        m1 = b1 * m1 + (1 - b1) * g
        m2 = b3 * m2 + (1 - b3) * g
        v = b2 * v + (1 - b2) * g * g
        u = (m1 / (1 - b1**t) + alpha * m2) / (np.sqrt(v) / math.sqrt(1 - b2**t) + eps)
        w = w - lr * u * cautious(u, g)
    return w, {"m1": m1, "m2": m2, "v": v}


def adam_cautious_np(w0, gs, wd, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(gs, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        u = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        w = w * (1 - lr * wd) - lr * u * cautious(u, g)
    return w, {"m": m, "v": v}


def sgd_cautious_np(w0, gs, lr=1e-3, mu=0.9):
    w, b = w0.copy(), None
    for g in gs:
        b = g.copy() if b is None else mu * b + g
        w = w - lr * b * cautious(b, g)
    return w, {"b": b}


def references():
    from lion_pytorch import Lion
    from lion_pytorch.cautious_lion import Lion as CautiousLion
    from ademamix import AdEMAMix
    from schedulefree import AdamWScheduleFree, SGDScheduleFree
    from prodigyopt import Prodigy

    return {
        "lion": lambda w0, gs: run_torch(lambda ps: Lion(ps), w0, gs, {"m": "exp_avg"}),
        "lion_cautious": lambda w0, gs: run_torch(lambda ps: CautiousLion(ps, cautious_factor=0.0), w0, gs, {"m": "exp_avg"}),
        "lamb": lambda w0, gs: lamb_np(w0, gs, False),
        "lamb_cautious": lambda w0, gs: lamb_np(w0, gs, True),
        "ademamix": lambda w0, gs: run_torch(
            lambda ps: AdEMAMix(ps), w0, gs, {"m1": "exp_avg_fast", "m2": "exp_avg_slow", "v": "exp_avg_sq"}
        ),
        "ademamix_cautious": ademamix_cautious_np,
        "sf_adamw": lambda w0, gs: run_torch(
            lambda ps: AdamWScheduleFree(ps, foreach=False), w0, gs, {"z": "z", "v": "exp_avg_sq"}, train=True
        ),
        "sf_sgd": lambda w0, gs: run_torch(lambda ps: SGDScheduleFree(ps, foreach=False), w0, gs, {"z": "z"}, train=True),
        "prodigy": lambda w0, gs: run_torch(
            lambda ps: Prodigy(ps), w0, gs, {"m": "exp_avg", "v": "exp_avg_sq", "s": "s", "p0": "p0"}
        ),
        "adam_cautious": lambda w0, gs: adam_cautious_np(w0, gs, 0.0),
        "adamw_cautious": lambda w0, gs: adam_cautious_np(w0, gs, 1e-2),
        "sgd_momentum_cautious": sgd_cautious_np,
        "adamw": lambda w0, gs: run_torch(
            lambda ps: torch.optim.AdamW(ps, foreach=False), w0, gs, {"m": "exp_avg", "v": "exp_avg_sq"}
        ),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--rows", type=int, default=7)
    ap.add_argument("--cols", type=int, default=13)
    args = ap.parse_args()
    eps32 = float(np.finfo(np.float32).eps)
    refs = references()
    out = subprocess.run(
        [BIN, f"--trace={args.steps}", f"--rows={args.rows}", f"--cols={args.cols}", "all"],
        check=True, capture_output=True, text=True,
    ).stdout
    worst, failed = 0.0, []
    print(
        "Errors against the reference in float64: |W - W64| / max|W64 - W0| and max over the state arrays of\n"
        "|s - s64| / max|s64|, for recent.c's loops (C) and for the same reference run in float32 (ref32).\n"
        "A rule passes when C's error is within 2x ref32's + 4 float32 epsilons (float32 rounding, not formula).\n"
    )
    print(f"{'rule':24s} {'W: C':>9s} {'W: ref32':>9s} {'state: C':>9s} {'state: ref32':>12s}")
    for line in out.splitlines():
        rec = json.loads(line)
        shape = (rec["rows"], rec["cols"])
        w0 = np.array(rec["w0"], dtype=np.float64).reshape(shape)
        gs = [np.array(x["g"], dtype=np.float64).reshape(shape) for x in rec["gs"]]
        ref = refs[rec["rule"]]
        w_ref, st_ref = ref(w0, gs)
        w32, st32 = ref(w0.astype(np.float32), [g.astype(np.float32) for g in gs])
        moved = np.abs(w_ref - w0).max()
        c_state = {k: np.array(rec["state"][k], dtype=np.float64).reshape(shape) for k in st_ref}

        def state_err(st):
            return max(np.abs(st[k].astype(np.float64) - r).max() / max(np.abs(r).max(), 1e-300) for k, r in st_ref.items())

        werr = np.abs(np.array(rec["w"], dtype=np.float64).reshape(shape) - w_ref).max() / moved
        w32err = np.abs(w32.astype(np.float64) - w_ref).max() / moved
        serr, s32err = state_err(c_state), state_err(st32)
        ok = werr <= 2 * w32err + 4 * eps32 and serr <= 2 * s32err + 4 * eps32
        print(f"{rec['rule']:24s} {werr:9.2e} {w32err:9.2e} {serr:9.2e} {s32err:12.2e}{'' if ok else '  FAIL'}")
        worst = max(worst, werr, serr)
        if not ok:
            failed.append(rec["rule"])
    print(f"worst C error {worst:.2e} ({args.steps} steps, {args.rows}x{args.cols})")
    if failed:
        print("FAILED: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
