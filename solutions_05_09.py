# %% [markdown]
# # Worked solutions, chapters 5-9
#
# Run from the `notebooks/` folder, top to bottom in a fresh kernel.

# %%
import numpy as np

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
