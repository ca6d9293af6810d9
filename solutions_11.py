# %% [markdown]
# ## Chapter 11: Bayesian mixtures
#
# Worked solutions for the exercises of `11_bayesian_mixtures.ipynb`. The cells rebuild what
# they need from the notebook (the seed data, the priors, the held-out split), so they run on
# their own from `notebooks/`.

# %%
import numpy as np
from scipy.special import logsumexp, multigammaln
from scipy.stats import multivariate_t
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

import gmm_bayes as gb
import gmm_helpers as gh

X, labels = gh.sample_seed_data(rng=0)
X_small = X[::100]
K = 10

# %% [markdown]
# **Exercise 11.1.** With $N_k = 0$ every data term of Eq. (11.4) vanishes and the MAP covariance
# is the prior's mode $\boldsymbol{\Psi} / (\nu_0 + D + 2)$. The default $\boldsymbol{\Psi}$ is the
# data's covariance and $\nu_0 = D = 2$, so the empty component gets a sixth of the data's
# covariance: wide enough to be harmless, never a spike.

# %%
p = gb.make_priors(X, 3, "dirichlet_distribution")
D = X.shape[1]
answer = p.covariance_prior / (p.degrees_of_freedom_prior + D + 2)
print(answer)
_ = gh.check_answer("11.1", answer)

# %% [markdown]
# The same number from the M-step itself: responsibilities that give the third component nothing.

# %%
resp = np.zeros((len(X), 3))
resp[:, 0], resp[:, 1] = labels == 0, labels != 0
print("same as map_m_step:", np.allclose(gb.map_m_step(X, resp, p)[2][2], answer))

# %% [markdown]
# **Exercise 11.2.** The posterior parameters of Eq. (11.7) with all $N$ points in one component,
# then the closed form. With $K = 1$ the only factorisation assumption, $q(\mathbf{Z})$ apart from
# the parameters, costs nothing ($\mathbf{Z}$ is known), so the ELBO is the evidence.

# %%
N, D = X_small.shape
p = gb.make_priors(X_small, 1, "dirichlet_distribution")
beta_n, nu_n = p.mean_precision_prior + N, p.degrees_of_freedom_prior + N
xbar = X_small.mean(axis=0)
d = xbar - p.mean_prior
psi_n = (
    p.covariance_prior
    + (X_small - xbar).T @ (X_small - xbar)
    + p.mean_precision_prior * N / beta_n * np.outer(d, d)
)
answer = (
    -N * D / 2 * np.log(np.pi)
    + multigammaln(nu_n / 2, D)
    - multigammaln(p.degrees_of_freedom_prior / 2, D)
    + p.degrees_of_freedom_prior / 2 * np.linalg.slogdet(p.covariance_prior)[1]
    - nu_n / 2 * np.linalg.slogdet(psi_n)[1]
    + D / 2 * np.log(p.mean_precision_prior / beta_n)
)
one = gh.fit_bayesian_gmm(
    X_small, 1, weight_concentration_prior_type="dirichlet_distribution", smoothing=0
)
print(f"log evidence {answer:.6f}, last ELBO {one.lower_bounds[-1]:.6f}")
print("equal to 1e-10 relative:", np.isclose(one.lower_bounds[-1], answer, rtol=1e-10, atol=0))
_ = gh.check_answer("11.2", answer)

# %% [markdown]
# **Exercise 11.3.** The sum is a harmonic number for $\alpha_0 = 1$: about $\log N + 0.577$.

# %%
alpha0, N = 1.0, 2000
answer = np.sum(alpha0 / (alpha0 + np.arange(N)))
print(f"expected clusters {answer:.2f}; alpha_0 log(1 + N / alpha_0) = {np.log1p(N):.2f}")
_ = gh.check_answer("11.3", answer)

# %% [markdown]
# A priori the Dirichlet process with $\alpha_0 = 1$ expects about eight clusters among 2000
# points, and with $\alpha_0 = 0.1$ (the default $1/K$) about one. Neither is three, and it did
# not matter: the prior speaks about how often *new* clusters appear, through a single number,
# while the likelihood of 2000 points speaks through every point. An extra occupied component
# changes the weights' KL term (11.14) by terms of order $\log \alpha_0$, a few units, while
# whether the points are better described by three Gaussians or by four moves the data term of
# the ELBO by far more. Only with few points (the explorer's $N = 50$) is the prior's voice
# comparable to the data's.

# %% [markdown]
# **Exercise 11.4.** The same start as the notebook's best Dirichlet-process fit, with the
# symmetric Dirichlet on the weights.

# %%
starts = [gh.fit_bayesian_gmm(X, K, max_iter=1000, rng=seed) for seed in range(3)]
best_seed = int(np.argmax([fit.lower_bounds[-1] for fit in starts]))
sym = gh.fit_bayesian_gmm(
    X, K, weight_concentration_prior_type="dirichlet_distribution", max_iter=1000, rng=best_seed
)
answer = len(gb.survivors(sym.weights))
print("components owning over 1 %:", answer)
print("points per component, Dirichlet:        ", (len(X) * sym.weights).round(3))
print("points per component, Dirichlet process:", (len(X) * starts[best_seed].weights).round(3))
_ = gh.check_answer("11.4", answer)

# %% [markdown]
# Both keep three components here. The difference is in the spare ones. Under the symmetric
# Dirichlet, Eq. (11.6) gives every empty component $\alpha_k = \alpha_0$, so each keeps exactly
# $\alpha_0 = 0.1$ imaginary points and the same $\mathrm{E}[\pi_k]$: the prior does not care
# which components are used. Under the Dirichlet process an empty component's stick is
# $\mathrm{Beta}(1, \alpha_0 + \sum_{j>k} N_j)$, and its weight also carries the product of the
# earlier sticks' $1 - v_j$, so the spare components' weights fall off along the stick order,
# and the occupied ones are pushed to the front. With plenty of data both give the same
# clusters; the Dirichlet process prefers fewer components more strongly when the data are few.

# %% [markdown]
# **Exercise 11.5.** The held-out split and the Dirichlet-process fit of the notebook, then
# Eq. (10.81) of PRML with scipy's multivariate t.

# %%
perm = np.random.default_rng(1).permutation(len(X))
X_train, X_test = X[perm[:400]], X[perm[400:]]
runs = [gh.fit_bayesian_gmm(X_train, K, max_iter=1000, rng=seed) for seed in range(3)]
dp_train = max(runs, key=lambda fit: fit.lower_bounds[-1])
D = X.shape[1]
log_p = []
for k in range(K):
    beta, nu = dp_train.mean_precision[k], dp_train.degrees_of_freedom[k]
    W_inv = dp_train.covariances[k] * nu
    df = nu + 1 - D
    shape = (1 + beta) / (df * beta) * W_inv
    t_k = multivariate_t(dp_train.means[k], shape, df=df)
    log_p.append(np.log(dp_train.weights[k]) + t_k.logpdf(X_test))
answer = logsumexp(np.array(log_p), axis=0).mean()
print(f"Student-t predictive {answer:.4f}, plug-in {gh.score(X_test, dp_train.parameters):.4f}")
_ = gh.check_answer("11.5", answer)

# %% [markdown]
# The two differ in the third decimal. Each occupied component owns over 50 training points, so
# $\nu_k$ is large and the t densities are nearly Gaussian, and $(1 + \beta_k)/\beta_k$ is close
# to 1: the posterior over each component's mean and covariance is narrow, and integrating over
# it changes little. They differ when a component owns few points: its $\nu_k$ is small, the t
# has heavy tails, and the predictive density gives far-away test points more probability than
# the plug-in Gaussian does. Small training sets, high dimension (where $\nu_k + 1 - D$ is small
# for the same $N_k$) and the spare components of a Dirichlet process (which sit at the prior)
# are where the full predictive pays off.

# %% [markdown]
# **Exercise 11.6.** (Open.) We repeat the notebook's digits comparison for 5, 10 and 20
# principal components: the K that BIC picks on the training digits, the number of components
# the Dirichlet process (truncated at 30) keeps above 1 %, and both held-out scores.

# %%
digits = load_digits().data
perm = np.random.default_rng(0).permutation(len(digits))
digits_train, digits_test = digits[perm[:1200]], digits[perm[1200:]]
for n_dims in (5, 10, 20):
    pca = PCA(n_dims).fit(digits_train)
    Z_train, Z_test = pca.transform(digits_train), pca.transform(digits_test)
    fits = {k: gh.fit_gmm(Z_train, k, rng=0) for k in range(2, 31, 2)}
    k_bic = min(fits, key=lambda k: gh.bic(Z_train, fits[k]))
    dp = gh.fit_bayesian_gmm(Z_train, 30, max_iter=500, rng=0)
    print(
        f"D = {n_dims:2d}: BIC picks K = {k_bic:2d} (test {gh.score(Z_test, fits[k_bic]):.2f}), "
        f"DP keeps {len(gb.survivors(dp.weights)):2d} (test {gh.score(Z_test, dp.parameters):.2f})"
    )

# %% [markdown]
# The gap between the two choices of K widens with the dimension: BIC picks fewer components as
# $D$ grows, the Dirichlet process keeps more. BIC's penalty per component is
# $\tfrac{1}{2}(1 + D + D(D+1)/2) \log N$, which grows like $D^2$: at $D = 20$ a component costs
# 231 parameters times $\log 1200 \approx 7.1$. The Bayesian fit pays for a component through its
# KL term (11.15), which grows with $D$ too but counts only what the data actually pin down.
#
# The held-out scores do not follow one side, though. In 5 and 10 dimensions the Bayesian fit
# predicts better; in 20 it keeps 28 of its 30 components (the truncation nearly binds) and
# predicts worse than BIC's six. With 1200 points in 20 dimensions each of 28 components owns
# a few dozen points for a covariance of 210 entries: the prior ($\boldsymbol{\Psi}$ the whole
# data's covariance, $\nu_0 = D$) holds them together, but the plug-in density is no longer a good
# summary of so uncertain a posterior (Exercise 11.5's Student-t predictive may fare better).
# BIC is an asymptotic approximation of the evidence and the ELBO a bound on it; neither is
# guaranteed to choose the model that predicts best, which is why the held-out score is the
# judge of last resort, as in chapter 7.
