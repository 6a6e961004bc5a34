# PyTorch CPU on the operations bench/run.mjs and bench/optim.mjs measure, as a peer (run by hand:
# `python3 bench/peers/torch_cpu.py` with a CPU build of torch installed; not part of npm run bench).
# The Newton-Schulz function is written here from ALGORITHMS.md (KellerJordan/Muon semantics).
import time, torch
torch.manual_seed(0)
def best(f, r=7):
    b = 1e9
    for _ in range(r):
        t = time.perf_counter(); f(); b = min(b, time.perf_counter() - t)
    return b * 1e3
n = 4096
p = torch.nn.Parameter(torch.randn(n, n) * 0.02)
p.grad = torch.randn(n, n) * 1e-3
for impl in ['foreach', 'fused', 'single']:
    kw = {'foreach': impl == 'foreach', 'fused': impl == 'fused'} if impl != 'single' else {'foreach': False}
    try:
        opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=0.01, **kw)
        opt.step()
        print(f'torch AdamW 4096^2 ({impl}) ms', round(best(opt.step), 2))
    except Exception as e:
        print(impl, 'failed', e)
a = torch.randn(2048, 2048); b = torch.randn(2048, 2048)
ms = best(lambda: a @ b)
print('torch matmul 2048 ms', round(ms, 2), 'GFLOP/s', round(2 * 2048**3 / ms / 1e6, 1))
def ns(G, steps=5):
    a_, b_, c_ = (3.4445, -4.7750, 2.0315)
    X = G / (G.norm() + 1e-7)
    if G.size(-2) > G.size(-1): X = X.mT
    for _ in range(steps):
        A = X @ X.mT; B = b_ * A + c_ * A @ A; X = a_ * X + B @ X
    if G.size(-2) > G.size(-1): X = X.mT
    return X
G = torch.randn(1024, 4096)
print('torch Newton-Schulz float32 1024x4096 ms', round(best(lambda: ns(G), 5), 1))
print('torch Newton-Schulz bfloat16 1024x4096 ms', round(best(lambda: ns(G.bfloat16()), 3), 1))
S = torch.randn(1024, 1024); S = S @ S.T
print('torch eigh 1024 ms', round(best(lambda: torch.linalg.eigh(S), 3), 1))
A = torch.randn(2048, 1024)
print('torch svd 2048x1024 ms', round(best(lambda: torch.linalg.svd(A, full_matrices=False), 3), 1))
