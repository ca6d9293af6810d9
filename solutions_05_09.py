# %% [markdown]
# # Worked solutions, chapters 5-9
#
# Run from the `notebooks/` folder, top to bottom in a fresh kernel.

# %%
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

import gmm_explorer as gx
import gmm_helpers as gh

np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## Chapter 5

# %% [markdown]
# **Exercise 5.1.** Walk up the slider's grid and stop at the first separation where the best of
# ten restarts puts every fitted mean within 0.5 of its true centre.


# %%
def worst_mean_error(s):
    X, _ = gh.sample_seed_data(s, 2000, rng=0)
    fit = gh.fit_restarts(X, 3, n_init=10, rng=0)[0]
    true_means = gh.seed_parameters(s)[1]
    order = gh.align_components(true_means, fit.means)
    return np.linalg.norm(fit.means[order] - true_means, axis=1).max()


answer = next(s for s in np.arange(0.0, 8.125, 0.25) if worst_mean_error(s) < 0.5)
print("smallest separation that recovers the clusters:", answer)
_ = gh.check_answer("5.1", answer)

# %% [markdown]
# **Exercise 5.2.** On the floor the spike's variance is the smoothing, and its point's term is
# $-\log(2\pi\sigma^2)$. Going from $\sigma^2 = 10^{-6}$ to $3 \times 10^{-7}$ multiplies
# $\sigma^2$ by $0.3$, which adds $-\log 0.3 = \log(10/3) \approx 1.20$ to the gain. The table's
# row at $10^{-6}$ says $+7.19$, so the prediction is about $8.39$.

# %%
curves = gx.collapse_curves()
row = np.flatnonzero(np.isclose(curves["smoothing"], 1e-6))[0]
answer = curves["gain"][row] + np.log(1e-6 / 3e-7)
print(f"predicted gain at 3e-7: {answer:.2f}")
_ = gh.check_answer("5.2", answer)

# %% [markdown]
# **Exercise 5.3.** The covariance that `gh.fit_gmm` computes is
# $\frac{1}{N_k}\sum_n \gamma_{nk} \mathbf{y}_n \mathbf{y}_n^\top - \mathbf{m}_k \mathbf{m}_k^\top$
# (chapter 9, Eq. (9.2)), with $\mathbf{y}_n$ the points shifted to the data's mean. For the
# spike, both terms are about $\lVert \mathbf{y}_0 \rVert^2$, a few tens, and each carries a
# rounding error of about $10^{-16}$ of that, a few times $10^{-15}$. The true scatter of one point
# is zero, so what the M-step returns is this rounding noise plus the smoothing. Once the smoothing
# falls below about $10^{-14}$ the noise dominates: the entries stop shrinking and stay around
# $10^{-14}$, off-diagonal entries included.

# %%
for s in (1e-14, 1e-15, 1e-16):
    cov = gx.collapse_fit(s)[0].covariances[3]
    print(f"smoothing {s:.0e}: largest |entry| of the spike's covariance {np.abs(cov).max():.0e}")

# %% [markdown]
# At $10^{-20}$ the smoothing adds nothing a double can see next to noise of $10^{-14}$: the
# covariance is pure rounding noise, which need not be positive definite. Depending on how the
# roundings fall (on the CPU and BLAS), the fit then stops with the same `ValueError` as at
# smoothing 0, or returns a covariance of size $10^{-14}$ that means nothing. The centred sum of
# Eq. (3.5) would not lose these digits, because it subtracts the mean before squaring; chapter 9
# shows the same loss, and the shift that limits it, on data far from the origin.

# %%
print(gx.collapse_fit(1e-20)[1] or "no error this time: the covariance is rounding noise")

# %% [markdown]
# **Exercise 5.4.** At $s = 3$ the clusters are still round, so spherical covariances describe
# them as well as full ones while spending fewer parameters: its BIC is lowest. A richer covariance
# always reaches at least the same log-likelihood at its maximum, but the BIC charges $\log N$ for
# every extra parameter, and the correlations and unequal variances that `"full"` and `"diag"` can
# express buy almost nothing on round clusters.

# %%
X3, _ = gh.sample_seed_data(3.0, 2000, rng=0)
for t in gh.COVARIANCE_TYPES:
    fit = gh.fit_gmm(X3, 3, covariance_type=t, rng=0)
    print(f"{t:>9}: log-likelihood {fit.log_likelihood:9.1f}, BIC {gh.bic(X3, fit):8.1f}")

# %% [markdown]
# %% [markdown]
# **Exercise 5.5.** Follow the mean of the component that ends on the small cluster at $(0, 5)$
# and print, for each iteration, its distance from $(5, 5)$ and the gain in log-likelihood. It
# does not jump: it drifts away from $(5, 5)$ over most of the fit, about a tenth to a quarter of
# a unit per iteration, and arrives at $(0, 5)$ (distance 5) only near the end. The curve shows it
# as a second rise: after the big first step the gains shrink while the component is on its way
# through the sparse region between the clusters, then grow again as it reaches the small cluster
# and takes its points over, and finally fall to almost nothing at convergence.

# %%
run = gx.em_run()
k = gh.align_components(gh.seed_parameters()[1], run.fit.means)[2]  # the small cluster's component
lls = run.fit.log_likelihoods
for it, (_, means, _) in enumerate(run.fit.history[:-1], start=1):
    gain = lls[it - 1] - lls[it - 2] if it > 1 else float("nan")
    dist = np.linalg.norm(means[k] - [5.0, 5.0])
    print(f"iteration {it:2d}: distance from (5, 5) {dist:4.1f}, log-likelihood gain {gain:7.1f}")

# %% [markdown]
# ## Chapter 6

# %% [markdown]
# **Exercise 6.1.** Solve $1 - e^{-k^2/2} = 0.95$ for $k$: $k = \sqrt{-2 \log 0.05} \approx 2.45$.
# scipy's chi-squared quantile gives the same, because $d^2$ is chi-squared with 2 degrees of
# freedom.

# %%
answer = np.sqrt(-2 * np.log(0.05))
print(f"k = {answer:.3f}; from chi2(2).ppf(0.95): {np.sqrt(chi2(2).ppf(0.95)):.3f}")
_ = gh.check_answer("6.1", answer)

# %% [markdown]
# **Exercise 6.2.** We need $(1 - p)^n < 10^{-6}$, that is $n > \log 10^{-6} / \log(1 - p)$
# (the logarithm of a number below 1 is negative, which flips the inequality). First $p$, as in
# the chapter: the share of 60 k-means++ starts that end within 0.01 of the best maximum.

# %%
X, _ = gh.sample_seed_data(5.0, 2000, rng=0)
N = len(X)
final = {
    init: np.array(
        [
            gh.fit_gmm(X, 3, init=init, tol=1e-4, max_iter=500, rng=s).log_likelihood / N
            for s in range(60)
        ]
    )
    for init in ("random", "kmeans++")
}
best = max(ll.max() for ll in final.values())
p = np.mean(final["kmeans++"] > best - 0.01)
answer = int(np.ceil(np.log(1e-6) / np.log(1 - p)))
print(f"p = {p:.3f}: n = {answer} restarts")
_ = gh.check_answer("6.2", answer)

# %% [markdown]
# **Exercise 6.3.** With $N_k = 1$ and $\mathbf{S}_k = 0$ the MAP formula leaves only the prior:
# $\boldsymbol{\Sigma} = \boldsymbol{\Psi} / (1 + \nu + D + 1) = \boldsymbol{\Psi} / 8$ for
# $\nu = D + 2 = 4$. That is a proper ellipse, a little wider than the prior's mode
# $\boldsymbol{\Psi} / 7$. Smoothing gives the same component $\mathbf{S}_k / N_k + \epsilon
# \mathbf{I} = 0.01 \mathbf{I}$: a tiny circle of standard deviation 0.1 around its one point,
# whatever the rest of the data look like.

# %%
X_small = X[::100]
D = 2
nu = D + 2
psi_small = np.cov(X_small.T) / 6 ** (2 / D)
answer = psi_small / (1 + nu + D + 1)
print("MAP covariance of a one-point component:\n", answer)
print("smoothing gives:\n", 1e-2 * np.eye(D))
_ = gh.check_answer("6.3", answer)

# %% [markdown]
# **Exercise 6.4.** Two fits with two components that share (almost) the same mean but differ in
# shape, say a narrow and a wide component both centred on the big cluster, as happens when one
# component models the core of a cluster and another its tails. The cost matrix on means has two
# (nearly) equal entries for those components, so the matching between them is arbitrary (or
# decided by rounding). A cost that sees the whole Gaussian resolves it, for instance the squared
# distance between means plus a distance between covariances,
# $\lVert \boldsymbol{\mu}_i - \boldsymbol{\mu}'_j \rVert^2 +
# \lVert \boldsymbol{\Sigma}_i - \boldsymbol{\Sigma}'_j \rVert_F^2$ (units permitting), or a
# divergence between the two Gaussians such as the symmetrised Kullback-Leibler divergence, or the
# negative overlap of the two fits' responsibilities on the data,
# $-\sum_n \gamma_{ni} \gamma'_{nj}$. Any of these goes into `linear_sum_assignment` unchanged.
# A sketch with the Kullback-Leibler divergence:


# %%
def kl_gaussians(m0, c0, m1, c1):
    """KL(N(m0, c0) || N(m1, c1)) for one pair of Gaussians."""
    D = len(m0)
    c1_inv = np.linalg.inv(c1)
    diff = m1 - m0
    return 0.5 * (
        np.trace(c1_inv @ c0)
        + diff @ c1_inv @ diff
        - D
        + np.log(np.linalg.det(c1) / np.linalg.det(c0))
    )


def align_by_kl(fit_a, fit_b):
    K = len(fit_a.weights)
    cost = np.array(
        [
            [
                kl_gaussians(
                    fit_a.means[i], fit_a.covariances[i], fit_b.means[j], fit_b.covariances[j]
                )
                + kl_gaussians(
                    fit_b.means[j], fit_b.covariances[j], fit_a.means[i], fit_a.covariances[i]
                )
                for j in range(K)
            ]
            for i in range(K)
        ]
    )
    return linear_sum_assignment(cost)[1]


# Two components on the same mean, one narrow and one wide, in opposite orders.
narrow, wide = 0.5 * np.eye(2), 4.0 * np.eye(2)
fit_a = SimpleNamespace(
    weights=np.array([0.5, 0.5]), means=np.zeros((2, 2)), covariances=np.array([narrow, wide])
)
fit_b = SimpleNamespace(
    weights=np.array([0.5, 0.5]), means=np.zeros((2, 2)), covariances=np.array([wide, narrow])
)
print("by means (any order is as good):", gh.align_components(fit_a.means, fit_b.means))
print("by symmetrised KL:              ", align_by_kl(fit_a, fit_b))

# %% [markdown]
# ## Chapter 7

# %% [markdown]
# **Exercise 7.1.** Eq. (7.1) for tied covariances: $K - 1 = 3$ weights, $KD = 12$ mean
# coordinates and one shared symmetric $3 \times 3$ matrix with $D(D+1)/2 = 6$ free entries,
# 21 in all.

# %%
K, D = 4, 3
answer = (K - 1) + K * D + D * (D + 1) // 2
print(answer, "parameters; gh.n_parameters:", gh.n_parameters(K, D, "tied"))
_ = gh.check_answer("7.1", answer)

# %% [markdown]
# **Exercise 7.2.** One more full component in $D = 2$ adds $\Delta p = 1 + 2 + 3 = 6$ parameters.
# BIC accepts it when $-2 \Delta \log L + \Delta p \log N < 0$, that is when it raises $\log L$ by
# more than $\Delta p \log N / 2$: about 18.0 for $N = 400$ against 22.8 for $N = 2000$. AIC's
# threshold is $\Delta p = 6$ at every $N$. BIC's penalty grows with $\log N$ because it
# approximates the evidence: the more data, the more sharply the likelihood peaks, and the more an
# extra dimension of parameter space costs in prior volume. Meanwhile a real structure's gain in
# $\log L$ grows like $N$, so BIC still finds it; a spurious one gains $O(1)$ and is rejected
# eventually. AIC estimates predictive accuracy, whose optimism per parameter does not depend on
# $N$.

# %%
dp = gh.n_parameters(4, 2) - gh.n_parameters(3, 2)
answer = dp * np.log(400) / 2
print(f"N = 400: {answer:.1f};  N = 2000: {dp * np.log(2000) / 2:.1f};  AIC: {dp}")
_ = gh.check_answer("7.2", answer)

# %% [markdown]
# **Exercise 7.3.** The same split as the chapter, one fit per covariance type, scored on the test
# points. Spherical predicts best, narrowly ahead of diag and full, and far ahead of tied: the same
# choice as BIC on the seed data. The seed clusters are round, so the extra parameters of full and
# diag only add estimation noise, while one shared shape cannot serve three clusters of different
# sizes.

# %%
X, _ = gh.sample_seed_data(5.0, 2000, rng=0)
perm = np.random.default_rng(1).permutation(len(X))
X_train, X_test = X[perm[:400]], X[perm[400:]]
answer = np.array(
    [
        gh.score(X_test, gh.fit_restarts(X_train, 3, n_init=5, rng=0, covariance_type=t)[0])
        for t in gh.COVARIANCE_TYPES
    ]
)
for t, sc in zip(gh.COVARIANCE_TYPES, answer, strict=True):
    print(f"{t:>9}: test score {sc:.4f}")
_ = gh.check_answer("7.3", answer)

# %% [markdown]
# ## Chapter 8
#
# The chapter's fit, rebuilt: standardise, best of five restarts at $K = 2$, components sorted by
# eruption duration, EM continued with smoothing $10^{-6}$, parameters in minutes.

# %%
X = np.loadtxt("../data/faithful.csv", delimiter=",", skiprows=1)
centre, scale = X.mean(axis=0), X.std(axis=0)
Z = (X - centre) / scale
fit = gh.fit_restarts(Z, 2, n_init=5, rng=0)[0]
order = np.argsort(fit.means[:, 0])
start = fit.weights[order], fit.means[order], fit.covariances[order]
ml_fit = gh.fit_gmm(Z, 2, init=start, smoothing=1e-6, tol=1e-8, max_iter=1000)
params = ml_fit.weights, centre + ml_fit.means * scale, ml_fit.covariances * np.outer(scale, scale)
log_p = gh.score_samples(X, params)

# %% [markdown]
# **Exercise 8.1.** The 5th percentile is a higher threshold than the 2nd, so more eruptions fall
# below it: about 5 % of 272, here 14.

# %%
answer = int(np.sum(log_p < np.percentile(log_p, 5)))
print(answer, "eruptions flagged")
_ = gh.check_answer("8.1", answer)

# %% [markdown]
# **Exercise 8.2.** The responsibility of component 1 (long) for the point, Eq. (3.2). A 3.5-minute
# eruption is long by duration, and although 65 minutes is a short-ish wait, the long component,
# with its larger weight and wider spread, explains the point almost entirely.

# %%
answer = gh.e_step(np.array([[3.5, 65.0]]), *params)[0][0, 1]
print(f"P(long) = {answer:.5f}")
_ = gh.check_answer("8.2", answer)

# %% [markdown]
# **Exercise 8.3.** Diagonal covariances save two parameters (one correlation per component), so
# BIC's penalty drops by $2 \log 272 \approx 11.2$. But both clumps are tilted: within each group a
# longer eruption comes with a longer wait, and an axis-aligned ellipse cannot express that. The
# loss in $\log L$ is larger than the saving, and the diagonal BIC is higher than the full one.

# %%
bic_full = gh.bic(Z, fit)
answer = gh.bic(Z, gh.fit_restarts(Z, 2, n_init=5, rng=0, covariance_type="diag")[0])
print(f"BIC diag {answer:.1f}, full {bic_full:.1f}: diag lower? {answer < bic_full}")
_ = gh.check_answer("8.3", answer)

# %% [markdown]
# ## Chapter 9
#
# The chapter's data, start and statistics, rebuilt.

# %%
X, _ = gh.sample_seed_data(n_samples=20_000, rng=0)
params = gh.initial_parameters(X, 3, rng=0)
shift = X[:5000].mean(axis=0)
whole = gh.sufficient_statistics(X, *params, shift=shift)

# %% [markdown]
# **Exercise 9.1.** The statistics were summed over $\mathbf{y}_n = \mathbf{x}_n - \mathbf{c}$, so
# $\mathbf{m}_k = \mathbf{s}_k / N_k$ is the mean relative to the shift, and
# $\boldsymbol{\mu}_k = \mathbf{c} + \mathbf{m}_k$.

# %%
answer = whole.shift + whole.sy / whole.nk[:, None]
print(answer)
_ = gh.check_answer("9.1", answer)

# %% [markdown]
# **Exercise 9.2.** Per component: $N_k$ (1 number), $\mathbf{s}_k$ ($D = 100$) and the upper
# triangle of $\mathbf{S}_k$, diagonal included ($D(D+1)/2 = 5050$); for $K = 10$ that is
# $10 \times 5151 = 51\,510$ numbers, plus one log-likelihood: 51 511 float64 numbers, 412 088
# bytes, about 0.4 MB, against $10 \times 100 \times 100 = 100\,000$ numbers for full matrices.

# %%
K, D = 10, 100
answer = 8 * (K + K * D + K * D * (D + 1) // 2 + 1)
print(answer, "bytes")
_ = gh.check_answer("9.2", answer)

# %% [markdown]
# **Exercise 9.3.** `np.load(..., mmap_mode="r")` returns an array backed by the file: the operating
# system reads pages as `fit_gmm_chunked` touches them, one chunk at a time, so the data never
# need to fit in memory. The fit is the same as on the in-memory array. The memory map must be
# released (`del`) before the temporary directory is removed.

# %%
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "X.npy"
    np.save(path, X)
    X_mapped = np.load(path, mmap_mode="r")
    answer = gh.fit_gmm_chunked(X_mapped, 3, chunk_size=4096, rng=0).means
    del X_mapped
print(answer)
_ = gh.check_answer("9.3", answer)
