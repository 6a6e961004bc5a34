"""Reference Python optimizers on PyTorch CPU, one step over a transformer block's matrices.

Peer figures for issue 4's speed point: ms per optimizer step of the *reference* implementations of
SOAP, Shampoo, Muon and GaLore-AdamW, run unchanged on PyTorch's CPU build, over exactly the six
matrices bench/optim.mjs uses (4 x 768x768, 768x3072, 3072x768; float32; gradients random normal,
seeded), and each as a fraction of the torch sgemm rate at 2048^3 measured in the same run.
Run by hand; not part of `npm run bench`.

None of the reference code is in this repository: the harness imports it from a directory given
with --refs, laid out as below. From the git mirrors (no work tree) it can be extracted with

    R=/tmp/refs; mkdir -p $R/SOAP $R/Muon $R/GaLore $R/optimizers
    for p in nikhilvyas+SOAP:SOAP KellerJordan+Muon:Muon jiaweizzhao+GaLore:GaLore \
             facebookresearch+optimizers:optimizers; do
      m=/work/.mirror/${p%%:*}/repo; d=$R/${p##*:}
      git -C $m archive HEAD | tar -x -C $d; git -C $m rev-parse HEAD > $d/COMMIT
    done

    DIR/SOAP/soap.py                          nikhilvyas/SOAP            class SOAP
    DIR/Muon/muon.py                          KellerJordan/Muon          class SingleDeviceMuon
    DIR/GaLore/galore_torch/adamw.py          jiaweizzhao/GaLore         class AdamW (+ galore_projector.py)
    DIR/optimizers/distributed_shampoo/       facebookresearch/optimizers  class DistributedShampoo

(DIR/<name>/COMMIT, if present, is copied into the JSON.) Then

    python3 bench/peers/reference_optimizers.py --refs /tmp/refs --json /tmp/ref-opt.json

needs torch (CPU build) and, for GaLore's adamw.py, `transformers` (it calls
transformers.utils.versions.require_version). galore_torch/__init__.py also imports adamw8bit
(bitsandbytes) and adamw.py imports galore_projector_tensor (tensorly); neither is used for 2-D
parameters, so the harness loads galore_torch.adamw without running the package __init__ and, if
tensorly (or transformers) is not installed, puts a stub module in its place; the JSON says which.

What is timed: opt.step() alone (wall clock, perf_counter), with p.grad refreshed before each step
outside the timer from a pool of three seeded N(0, 1e-3^2) gradient sets (Muon's step writes into
p.grad). Parameters are N(0, 0.02^2), seeded. torch.set_num_threads(--threads, default 2).
  soap     defaults (lr 3e-3, betas (0.95, 0.95), weight_decay 0.01, precondition_frequency 10,
           max_precond_dim 10000, so the 3072 sides are preconditioned too). The first call only
           sets up the eigenbases (eigh) and does not move the weights; it is reported on its own.
           Adam steps 10, 20, ... refresh the bases (power iteration + QR). After one warm-up period
           of 10 steps, --soap-periods periods of 10 consecutive steps are timed: "amortised" is
           the mean over a period (9 steps between refreshes + 1 refresh step), best / median over
           periods; "between" and "refresh" are best / median over the steps of each kind.
  shampoo  DistributedShampoo with its constructor defaults for one device, which are also the
           values asked for: lr 1e-2, betas (0.9, 1.0), epsilon 1e-12, max_preconditioner_dim 1024,
           precondition_frequency 1 (its default; the README's examples use 100), grafting_config
           None, root inverse by eigh (DefaultShampooConfig, exponent -1/4 for 2-D). Note that it
           *blocks* a parameter into pieces of at most 1024 per side: 768x3072 becomes three
           768x1024 blocks, each with a 768^2 and a 1024^2 factor. Every step recomputes every root.
           An extra row "shampoo-pf100" times the steps between roots (precondition_frequency 100,
           so start_preconditioning_step 100: steps 1..99 precondition with the initial identity
           roots, the same work as a step between root recomputations; the reference refuses
           start_preconditioning_step < precondition_frequency).
  muon     SingleDeviceMuon defaults (lr 0.02, momentum 0.95, nesterov, 5 Newton-Schulz steps), as
           is: its zeropower_via_newtonschulz5 casts to bfloat16 on every device, so on CPU the NS
           runs in bfloat16. "muon fp32" is the same step with Tensor.bfloat16 patched to a float32
           cast for the duration of that row (the only change), since bf16 GEMM is slower than
           sgemm on many CPUs; the run prints the bf16 GEMM rate too.
  galore   galore_torch.AdamW with all six matrices in one GaLore group: rank 128,
           update_proj_gap 200, scale 0.25, proj_type std, lr 0.01 (README), other defaults
           (betas (0.9, 0.999), eps 1e-6, weight_decay 0). The projector (a thin SVD per matrix) is
           computed when the step count is 0, 200, 400, ...: the first call (also allocating state)
           is reported on its own, then --galore-periods periods of 200 calls; "refresh" is the
           calls at steps 200, 400, ...; amortised = (refresh + 199 x between) / 200 with medians.
The whole sequence runs --repeat times (default 2, the second in reverse rule order); all are
printed and kept in the JSON.

FLOP convention (matrix work the reference code executes, per matrix m x n, elementwise work not
counted): GEMM (m x k)(k x n) = 2mkn, including the Gram matrices G G^T the references form with
tensordot (a full GEMM, not a syrk); eigh with eigenvectors 9k^3 (Golub & Van Loan, symmetric QR
algorithm); QR with Q formed 8k^3/3 (geqrf 4k^3/3 + orgqr 4k^3/3); thin SVD with U, S, V
14 M k^2 + 8 k^3 (R-SVD, M = max side, k = min side). Same primitives as BLOCK_FLOPS in
bench/optim.mjs; REF_FLOPS below counts what each *reference* does, which is sometimes more than the
algorithm needs (SOAP rotates exp_avg back and forth every step; Shampoo blocks at 1024).
"""
import argparse
import gc
import importlib
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import time
import types
import warnings

import torch

SHAPES = [(768, 768)] * 4 + [(768, 3072), (3072, 768)]


# ---------------------------------------------------------------------------------------------
# FLOP conventions
def gemm(m, k, n):
    return 2 * m * k * n


def eigh(k):
    return 9 * k**3


def qr(k):
    return 8 * k**3 / 3


def svd_thin(m, n):
    big, k = max(m, n), min(m, n)
    return 14 * big * k * k + 8 * k**3


def _blocks(d, b):
    return [min(b, d - i) for i in range(0, d, b)]


def _soap(m, n, h):
    sides = [k for k in (m, n) if k <= h['max_precond_dim']]
    assert len(sides) == 2, 'this count assumes both sides are preconditioned'
    rot = gemm(m, m, n) + gemm(m, n, n)  # Q_L^T G Q_R (or back): two tensordots
    # per step: project(grad), project_back(adam direction), and in update_preconditioner
    # project_back(exp_avg) + project(exp_avg), plus the two Gram matrices (tensordot = GEMM).
    between = 4 * rot + gemm(m, n, m) + gemm(n, m, n)
    # every precondition_frequency Adam steps, per side k: diag(o^T m o) as two GEMMs, m @ o, QR.
    refresh = sum(2 * gemm(k, k, k) + gemm(k, k, k) + qr(k) for k in sides)
    first = gemm(m, n, m) + gemm(n, m, n) + sum(eigh(k) for k in sides)
    return {'between': between, 'refresh': refresh, 'period': h['precondition_frequency'], 'first': first}


def _shampoo(m, n, h):
    b = h['max_preconditioner_dim']
    per_root = 0
    per_step = 0
    for p in _blocks(m, b):
        for q in _blocks(n, b):
            # factor update L += G G^T, R += G^T G; precondition L^-1/4 G R^-1/4 (tensordots)
            per_step += gemm(p, q, p) + gemm(q, p, q) + gemm(p, p, q) + gemm(p, q, q)
            # root inverse per factor: eigh, then Q diag(l^-1/4) Q^T (one GEMM)
            per_root += eigh(p) + gemm(p, p, p) + eigh(q) + gemm(q, q, q)
    pf = h['precondition_frequency']
    if pf == 1:
        return {'between': per_step + per_root, 'refresh': 0, 'period': 1}
    return {'between': per_step, 'refresh': per_root, 'period': pf}


def _muon(m, n, h):
    a, b = min(m, n), max(m, n)
    # per NS step: A = X X^T (2a^2b), A @ A (2a^3), B @ X (2a^2b)
    return {'between': h['ns_steps'] * (4 * a * a * b + 2 * a**3), 'refresh': 0, 'period': 1}


def _galore(m, n, h):
    r = min(h['rank'], m, n)
    # project (G P^T or P^T G) and project back: 2mnr each; projector: thin SVD of G
    return {'between': 2 * gemm(m, n, r), 'refresh': svd_thin(m, n), 'period': h['update_proj_gap']}


REF_FLOPS = {
    'soap': _soap,
    'shampoo': _shampoo,
    'muon': _muon,
    'galore-adamw': _galore,
}
HYPER = {
    'soap': {'max_precond_dim': 10000, 'precondition_frequency': 10},
    'shampoo': {'max_preconditioner_dim': 1024, 'precondition_frequency': 1},
    'shampoo-pf100': {'max_preconditioner_dim': 1024, 'precondition_frequency': 100},
    'muon': {'ns_steps': 5},
    'galore-adamw': {'rank': 128, 'update_proj_gap': 200},
}


def block_flops(rule):
    f = REF_FLOPS['shampoo' if rule.startswith('shampoo') else rule.replace(' fp32', '')]
    h = HYPER[rule.replace(' fp32', '')]
    parts = [f(m, n, h) for m, n in SHAPES]
    between = sum(p['between'] for p in parts)
    refresh = sum(p['refresh'] for p in parts)
    period = parts[0]['period']
    return {'between': between, 'refresh_extra': refresh, 'period': period,
            'amortised': between + refresh / period}


# ---------------------------------------------------------------------------------------------
# loading the references
def _load_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _commit(d):
    try:
        with open(os.path.join(d, 'COMMIT')) as f:
            return f.read().strip()
    except OSError:
        return None


def load_refs(refs):
    out = {'stubs': [], 'commits': {}}
    for name in ('SOAP', 'Muon', 'GaLore', 'optimizers'):
        out['commits'][name] = _commit(os.path.join(refs, name))
    out['soap'] = _load_file('ref_soap', os.path.join(refs, 'SOAP', 'soap.py'))
    out['muon'] = _load_file('ref_muon', os.path.join(refs, 'Muon', 'muon.py'))
    # galore_torch: skip its __init__ (imports adamw8bit -> bitsandbytes); stub what 2-D never uses.
    try:
        import transformers.utils.versions  # noqa: F401
    except ImportError:
        t = types.ModuleType('transformers')
        tu = types.ModuleType('transformers.utils')
        tv = types.ModuleType('transformers.utils.versions')
        tv.require_version = lambda *a, **k: None
        t.utils, tu.versions = tu, tv
        sys.modules.update({'transformers': t, 'transformers.utils': tu, 'transformers.utils.versions': tv})
        out['stubs'].append('transformers.utils.versions.require_version (no-op)')
    try:
        import tensorly  # noqa: F401
    except ImportError:
        def _missing(*a, **k):
            raise RuntimeError('tensorly stub: not installed')
        tl = types.ModuleType('tensorly')
        td = types.ModuleType('tensorly.decomposition')
        tt = types.ModuleType('tensorly.tenalg')
        td.tucker = _missing
        tl.decomposition, tl.tenalg = td, tt
        sys.modules.update({'tensorly': tl, 'tensorly.decomposition': td, 'tensorly.tenalg': tt})
        out['stubs'].append('tensorly (only GaLoreProjectorTensor uses it, for >2-D params)')
    pkg = types.ModuleType('galore_torch')
    pkg.__path__ = [os.path.join(refs, 'GaLore', 'galore_torch')]
    sys.modules['galore_torch'] = pkg
    out['galore'] = importlib.import_module('galore_torch.adamw')
    sys.path.insert(0, os.path.join(refs, 'optimizers'))
    try:
        out['shampoo'] = importlib.import_module('distributed_shampoo')
    except Exception as e:  # report, keep going
        out['shampoo'] = None
        out['shampoo_error'] = f'{type(e).__name__}: {e}'
    return out


# ---------------------------------------------------------------------------------------------
# timing
def make_problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(m, n, generator=g) * 0.02) for m, n in SHAPES]
    pool = [[torch.randn(m, n, generator=g) * 1e-3 for m, n in SHAPES] for _ in range(3)]
    for p, gr in zip(params, pool[0]):
        p.grad = gr.clone()
    return params, pool


def timed_steps(opt, params, pool, count, counter, on_step=None):
    times = []
    for _ in range(count):
        src = pool[counter[0] % len(pool)]
        counter[0] += 1
        for p, gr in zip(params, src):
            p.grad.copy_(gr)
        gc.disable()
        t = time.perf_counter()
        opt.step()
        dt = time.perf_counter() - t
        gc.enable()
        times.append(dt)
        if on_step:
            on_step(dt)
    return times


def bm(xs):
    return {'best_ms': min(xs) * 1e3, 'median_ms': statistics.median(xs) * 1e3, 'n': len(xs)}


def gemm_rate(dtype=torch.float32, n=2048, reps=8):
    g = torch.Generator().manual_seed(7)
    a = torch.randn(n, n, generator=g).to(dtype)
    b = torch.randn(n, n, generator=g).to(dtype)
    c = torch.empty(n, n, dtype=dtype)
    torch.matmul(a, b, out=c)
    best = min(_t(lambda: torch.matmul(a, b, out=c)) for _ in range(reps))
    return 2 * n**3 / best / 1e9, best * 1e3


def _t(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def run_soap(R, args):
    params, pool = make_problem()
    opt = R['soap'].SOAP(params, lr=3e-3, betas=(0.95, 0.95), weight_decay=0.01, precondition_frequency=10)
    ctr = [0]
    first = timed_steps(opt, params, pool, 1, ctr)[0]
    pf = 10
    timed_steps(opt, params, pool, pf, ctr)  # warm-up period (its last step is a refresh)
    st = opt.state[params[0]]
    assert st['step'] % pf == 0, st['step']
    between, refresh, periods = [], [], []
    for _ in range(args.soap_periods):
        ts = timed_steps(opt, params, pool, pf, ctr)
        assert st['step'] % pf == 0
        between += ts[:-1]
        refresh.append(ts[-1])
        periods.append(sum(ts) / pf)
    return {'first_ms': first * 1e3, 'between': bm(between), 'refresh': bm(refresh),
            'amortised': bm(periods), 'period': pf}


def run_shampoo(R, args, pf=1):
    if R['shampoo'] is None:
        return {'error': R.get('shampoo_error')}
    S = R['shampoo']
    params, pool = make_problem()
    kw = dict(lr=1e-2, betas=(0.9, 1.0), epsilon=1e-12, weight_decay=0.0, max_preconditioner_dim=1024,
              precondition_frequency=pf, grafting_config=None)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        opt = S.DistributedShampoo(params, **kw)
    ctr = [0]
    first = timed_steps(opt, params, pool, 1, ctr)[0]
    timed_steps(opt, params, pool, 1, ctr)
    ts = timed_steps(opt, params, pool, args.shampoo_steps, ctr)
    return {'first_ms': first * 1e3, 'between': bm(ts), 'amortised': bm(ts), 'period': pf}


def run_muon(R, args, fp32=False):
    params, pool = make_problem()
    opt = R['muon'].SingleDeviceMuon(params, lr=0.02, weight_decay=0, momentum=0.95)
    orig = torch.Tensor.bfloat16
    if fp32:
        torch.Tensor.bfloat16 = lambda self, *a, **k: self.to(torch.float32)
    try:
        ctr = [0]
        first = timed_steps(opt, params, pool, 1, ctr)[0]
        timed_steps(opt, params, pool, 1, ctr)
        ts = timed_steps(opt, params, pool, args.muon_steps, ctr)
        # what dtype did the NS run in: check the orthogonalised output of the function the step calls
        ns_dtype = str(R['muon'].zeropower_via_newtonschulz5(pool[0][0], 1).dtype)
    finally:
        torch.Tensor.bfloat16 = orig
    return {'first_ms': first * 1e3, 'between': bm(ts), 'amortised': bm(ts), 'period': 1, 'ns_dtype': ns_dtype}


def run_galore(R, args):
    params, pool = make_problem()
    gap = 200
    groups = [{'params': params, 'rank': 128, 'update_proj_gap': gap, 'scale': 0.25, 'proj_type': 'std'}]
    opt = R['galore'].AdamW(groups, lr=0.01, no_deprecation_warning=True)
    ctr = [0]
    first = timed_steps(opt, params, pool, 1, ctr)[0]
    st = opt.state[params[0]]
    between, refresh = [], []
    for _ in range(args.galore_periods):
        ts = timed_steps(opt, params, pool, gap - 1, ctr)
        between += ts
        assert st['step'] % gap == 0, st['step']
        refresh += timed_steps(opt, params, pool, 1, ctr)  # projector recomputed (SVD) in this call
    b, r = statistics.median(between), statistics.median(refresh)
    bb, rb = min(between), min(refresh)
    amort = {'best_ms': (rb + (gap - 1) * bb) / gap * 1e3, 'median_ms': (r + (gap - 1) * b) / gap * 1e3,
             'n': len(between) + len(refresh)}
    return {'first_ms': first * 1e3, 'between': bm(between), 'refresh': bm(refresh), 'amortised': amort,
            'period': gap}


RULES = {
    'soap': run_soap,
    'shampoo': run_shampoo,
    'shampoo-pf100': lambda R, a: run_shampoo(R, a, pf=100),
    'muon': run_muon,
    'muon fp32': lambda R, a: run_muon(R, a, fp32=True),
    'galore-adamw': run_galore,
}


def loadavg():
    try:
        with open('/proc/loadavg') as f:
            return f.read().split()[0]
    except OSError:
        return '?'


def cpu_sample():
    """(busy jiffies of the whole machine, steal jiffies, this process's CPU seconds, wall seconds)."""
    try:
        with open('/proc/stat') as f:
            v = [int(x) for x in f.readline().split()[1:]]
        busy, steal = sum(v) - v[3] - v[4], v[7] if len(v) > 7 else 0
    except OSError:
        busy = steal = 0
    return busy, steal, time.process_time(), time.perf_counter()


def others_busy(a, b):
    """CPUs kept busy by other processes between two samples (0..threads), and steal as % of wall x CPUs."""
    hz = os.sysconf('SC_CLK_TCK')
    wall = b[3] - a[3]
    ncpu = os.cpu_count() or 1
    other = max(0.0, ((b[0] - a[0]) / hz - (b[2] - a[2])) / wall) if wall > 0 else 0.0
    steal = 100 * (b[1] - a[1]) / hz / wall / ncpu if wall > 0 else 0.0
    return round(other, 2), round(steal, 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--refs', required=True, help='directory with SOAP/, Muon/, GaLore/, optimizers/')
    ap.add_argument('--json', help='write results here')
    ap.add_argument('--rules', default=','.join(RULES), help='comma-separated subset of ' + ', '.join(RULES))
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--repeat', type=int, default=2)
    ap.add_argument('--soap-periods', type=int, default=3)
    ap.add_argument('--shampoo-steps', type=int, default=7)
    ap.add_argument('--muon-steps', type=int, default=7)
    ap.add_argument('--galore-periods', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    R = load_refs(args.refs)
    rules = [r.strip() for r in args.rules.split(',') if r.strip()]
    for r in rules:
        if r not in RULES:
            sys.exit(f'unknown rule {r}')

    meta = {
        'torch': torch.__version__, 'python': platform.python_version(), 'threads': torch.get_num_threads(),
        'cpu': _cpu_name(), 'blas': _blas(), 'ref_commits': R['commits'], 'stubs': R['stubs'],
        'shampoo_import_error': R.get('shampoo_error'), 'shapes': SHAPES,
        'argv': sys.argv[1:],
    }
    print(f"torch {meta['torch']} ({meta['blas']}), {meta['threads']} threads, {meta['cpu']}, python {meta['python']}")
    print('reference commits:', ', '.join(f'{k} {(v or "?")[:12]}' for k, v in R['commits'].items()))
    if R['stubs']:
        print('stubbed (not installed, unused on this path):', '; '.join(R['stubs']))
    if R.get('shampoo_error'):
        print('distributed_shampoo did not import:', R['shampoo_error'])

    runs = []
    for rep in range(args.repeat):
        order = rules if rep % 2 == 0 else list(reversed(rules))
        la0 = loadavg()
        peak0, _ = gemm_rate()
        bf16_rate, _ = gemm_rate(torch.bfloat16, reps=4)
        res = {}
        for rule in order:
            gc.collect()
            c0 = cpu_sample()
            try:
                res[rule] = RULES[rule](R, args)
            except Exception as e:  # keep the other rules
                res[rule] = {'error': f'{type(e).__name__}: {e}'}
            c1 = cpu_sample()
            res[rule]['wall_s'] = c1[3] - c0[3]
            res[rule]['other_cpus_busy'], res[rule]['steal_pct'] = others_busy(c0, c1)
            print(f'  run {rep + 1}: {rule} done in {res[rule]["wall_s"]:.0f} s; other processes kept '
                  f'{res[rule]["other_cpus_busy"]} CPUs busy, steal {res[rule]["steal_pct"]}%', file=sys.stderr, flush=True)
        peak1, _ = gemm_rate()
        peak = max(peak0, peak1)
        run = {'order': order, 'gemm_gflops_start': peak0, 'gemm_gflops_end': peak1, 'gemm_gflops': peak,
               'bf16_gemm_gflops': bf16_rate, 'loadavg_start': la0, 'loadavg_end': loadavg(), 'rules': res}
        for rule, r in res.items():
            if 'error' in r:
                continue
            fl = block_flops(rule)
            r['flops'] = fl
            # flops matching the 'amortised' timing (shampoo-pf100 times only the steps between roots)
            f = fl['amortised'] if ('refresh' in r or fl['period'] == 1) else fl['between']
            r['peak_fraction_median'] = f / (r['amortised']['median_ms'] / 1e3) / (peak * 1e9)
            r['peak_fraction_best'] = f / (r['amortised']['best_ms'] / 1e3) / (peak * 1e9)
        runs.append(run)
        print_table(rep + 1, run, rules)

    if len(runs) > 1:
        print_summary(runs, rules)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'meta': meta, 'flop_convention': FLOP_CONVENTION, 'runs': runs}, f, indent=1)
        print(f'\nwrote {args.json}')


FLOP_CONVENTION = ('matrix work only, per matrix m x n: GEMM 2mkn (Gram matrices by tensordot count as GEMMs); '
                   'eigh with vectors 9k^3; QR with Q 8k^3/3; thin SVD 14Mk^2+8k^3 (M max side, k min side). '
                   'Counts what the reference code executes; see REF_FLOPS in bench/peers/reference_optimizers.py.')


def fmt(x):
    return f'{x:.0f}' if x >= 100 else f'{x:.1f}' if x >= 10 else f'{x:.2f}'


def print_table(k, run, rules):
    peak = run['gemm_gflops']
    print(f"\n### Run {k}: reference optimizers on PyTorch CPU, transformer block (4 x 768², 768x3072, 3072x768)\n")
    print('| rule | step | ms best | ms median | GFLOP / step | of GEMM peak (median) | notes |')
    print('|---|---|--:|--:|--:|--:|---|')
    for rule in rules:
        r = run['rules'][rule]
        if 'error' in r:
            print(f'| {rule} | — | — | — | — | — | did not run: {r["error"]} |')
            continue
        fl = r['flops']
        rows = []
        per = r['period']
        if 'refresh' in r:
            rows.append(('between refreshes', r['between'], fl['between'], ''))
            rows.append((f'refresh (every {per})', r['refresh'], fl['between'] + fl['refresh_extra'], ''))
            rows.append((f'amortised over {per}', r['amortised'], fl['amortised'], ''))
        elif rule == 'shampoo-pf100':
            rows.append(('between roots', r['between'], fl['between'], 'precondition_frequency 100: steps without eigh'))
        else:
            rows.append(('every step', r['between'], fl['between'], ''))
        note = {
            'soap': f"first call (eigh setup, no update) {fmt(r['first_ms'])} ms; 3072 sides preconditioned",
            'shampoo': f"first step {fmt(r['first_ms'])} ms; roots (eigh) every step; blocks of ≤1024 per side",
            'muon': f"NS dtype {r.get('ns_dtype')} (reference casts to bf16); first step {fmt(r['first_ms'])} ms",
            'muon fp32': f"same step, Tensor.bfloat16 patched to float32; NS dtype {r.get('ns_dtype')}",
            'galore-adamw': f"first step (SVDs + state) {fmt(r['first_ms'])} ms",
        }.get(rule, '')
        for i, (kind, t, f, extra) in enumerate(rows):
            frac = f / (t['median_ms'] / 1e3) / (peak * 1e9)
            n = extra or (note if i == len(rows) - 1 else '')
            if i == len(rows) - 1 and r.get('other_cpus_busy', 0) >= 0.2:
                n += f"; other processes kept {r['other_cpus_busy']} CPUs busy meanwhile"
            print(f"| {rule} | {kind} | {fmt(t['best_ms'])} | {fmt(t['median_ms'])} | {f / 1e9:.1f} | {100 * frac:.0f}% | {n} |")
    print(f"\nGEMM peak: torch.matmul 2048³ float32, best of 8, {run['gemm_gflops_start']:.0f} GFLOP/s before and "
          f"{run['gemm_gflops_end']:.0f} after the rules (the larger is used); bfloat16 2048³: "
          f"{run['bf16_gemm_gflops']:.0f} GFLOP/s. Load average {run['loadavg_start']} → {run['loadavg_end']}. "
          f"Order: {', '.join(run['order'])}.")


def _rows(rule, r):
    """(kind, timing dict, flops) rows of one rule's result."""
    fl = r['flops']
    if 'refresh' in r:
        per = r['period']
        return [('between refreshes', r['between'], fl['between']),
                (f'refresh (every {per})', r['refresh'], fl['between'] + fl['refresh_extra']),
                (f'amortised over {per}', r['amortised'], fl['amortised'])]
    return [('between roots' if rule == 'shampoo-pf100' else 'every step', r['between'], fl['between'])]


def print_summary(runs, rules):
    print(f'\n### All {len(runs)} runs: best of all runs, and each run\'s median\n')
    print('| rule | step | ms best (all runs) | ms median per run | GFLOP / step | of GEMM peak (best; per-run medians) |')
    print('|---|---|--:|--:|--:|--:|')
    for rule in rules:
        rs = [run['rules'][rule] for run in runs]
        if any('error' in r for r in rs):
            print(f"| {rule} | — | — | — | — | did not run: {next(r['error'] for r in rs if 'error' in r)} |")
            continue
        per_run = [_rows(rule, r) for r in rs]
        for i, (kind, _, f) in enumerate(per_run[0]):
            best = min(pr[i][1]['best_ms'] for pr in per_run)
            meds = [pr[i][1]['median_ms'] for pr in per_run]
            peak = max(run['gemm_gflops'] for run in runs) * 1e9
            fr = [100 * f / (m / 1e3) / (run['gemm_gflops'] * 1e9) for m, run in zip(meds, runs)]
            print(f"| {rule} | {kind} | {fmt(best)} | {' / '.join(fmt(m) for m in meds)} | {f / 1e9:.1f} | "
                  f"{100 * f / (best / 1e3) / peak:.0f}%; {' / '.join(f'{x:.0f}%' for x in fr)} |")
    print('\nGEMM peak per run (GFLOP/s, torch 2048³ float32): ' +
          ', '.join(f"{run['gemm_gflops']:.0f}" for run in runs) + '; "best" uses the largest.')


def _cpu_name():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _blas():
    import re
    cfg = torch.__config__.show()
    blas = (re.search(r'\bBLAS_INFO=([^,\s]+)', cfg) or [None, '?'])[1]
    lapack = (re.search(r'\bLAPACK_INFO=([^,\s]+)', cfg) or [None, '?'])[1]
    mkl = 'oneMKL ' + cfg.split('Math Kernel Library Version ')[1].split('-')[0] if 'Math Kernel Library Version ' in cfg else ''
    return f'BLAS {blas}, LAPACK {lapack}{", " + mkl if mkl else ""}'


if __name__ == '__main__':
    main()
