# %% [markdown]
# ## Chapter 10: EM in general
#
# The setup of notebook 10: the binarised digits and the $K = 10$ Bernoulli mixture (best of five
# starts, run on with `tol=1e-10`), and the photo with its 4000-pixel sample and 8-colour palette.

# %%
import matplotlib.pyplot as plt
import numpy as np
from scipy.special import gammaln, logsumexp
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, load_sample_image

import gmm_bernoulli as gb
import gmm_helpers as gh

digits = load_digits()
X = (digits.data >= 8).astype(float)
N, D = X.shape
K = 10
starts = [gh.fit_bernoulli_mixture(X, K, rng=seed) for seed in range(5)]
best = max(starts, key=lambda f: f.log_likelihoods[-1])
fit = gh.fit_bernoulli_mixture(X, K, init=(best.weights, best.means), tol=1e-10, max_iter=2000)

china = load_sample_image("china.jpg")[::2, ::2]
pixels = china.reshape(-1, 3).astype(float)
sample = pixels[np.random.default_rng(0).choice(len(pixels), 4000, replace=False)]

# %% [markdown]
# ### Exercise 10.1
#
# Given the component, the pixels are independent, so the density of the top half under
# component $k$ is Eq. (10.4) over the first 32 pixels only: the E-step with `fit.means[:, :32]`
# gives $p(z = k \mid \text{top half})$. Each bottom pixel is then dark with probability
# $\mu_{kd}$ under component $k$; averaging over the posterior of $k$ gives the answer.

# %%
resp_top, _ = gb.bernoulli_e_step(X[-1:, :32], fit.weights, fit.means[:, :32])
answer = resp_top[0] @ fit.means[:, 32:]
_ = gh.check_answer("10.1", answer)
print("posterior over the components:", resp_top[0].round(3))

# %%
fig, axes = plt.subplots(1, 2, figsize=(4, 2.2))
gb.plot_images(X[-1:], ax=axes[0])
gb.plot_images(np.concatenate([X[-1, :32], answer])[None, :], ax=axes[1])
axes[0].set_title("the image")
axes[1].set_title("top half + filled in")
plt.show()

# %% [markdown]
# ### Exercise 10.2
#
# With $s = 0$, Eqs. (10.7) and (10.8) give
#
# $$
# \pi_k \mu_{kd} = \frac{N_k}{N} \cdot \frac{\sum_n \gamma_{nk} x_{nd}}{N_k}
# = \frac{1}{N} \sum_n \gamma_{nk} x_{nd},
# $$
#
# and summing over $k$ (each row of responsibilities sums to 1) leaves
# $\frac{1}{N} \sum_n x_{nd}$, the share of images with pixel $d$ dark. This holds after every
# M-step, so at every fixed point too. With $s > 0$ each $\mu_{kd}$ is pulled towards 1/2 by about
# $s / N_k$, a small difference for components that own hundreds of images.

# %%
answer = fit.weights @ fit.means
_ = gh.check_answer("10.2", answer)
print(f"largest |difference| from X.mean(axis=0): {np.abs(answer - X.mean(axis=0)).max():.1e}")

# %% [markdown]
# ### Exercise 10.3
#
# Fit, assign every pixel to its most responsible component, and measure as in the notebook.

# %%
palette16 = gh.fit_gmm(sample, 16, rng=0, smoothing=1.0)
resp16, _ = gh.e_step(pixels, palette16.weights, palette16.means, palette16.covariances)
colour16 = palette16.means[resp16.argmax(axis=1)]
answer = float(np.sum((pixels - colour16) ** 2, axis=1).mean())
_ = gh.check_answer("10.3", answer)

# %%
kmeans = KMeans(8, n_init=1, random_state=0).fit(sample)
kmeans_error = np.sum(
    (pixels - kmeans.cluster_centers_[kmeans.predict(pixels)]) ** 2, axis=1
).mean()
print(f"16 mixture colours: {answer:.0f}; 8 k-means colours: {kmeans_error:.0f}")

# %% [markdown]
# Doubling the palette closes much of the gap to k-means' 8 colours, but (for this fit) not all
# of it: the mixture still spends components on the shape of the colour distribution (broad
# components, small clumps of rare colours) rather than on the squared error.
#
# ### Exercise 10.4
#
# Hard EM replaces $\gamma_{nk}$ by the one-hot vector of $\arg\max_k \gamma_{nk}$ and keeps the
# M-step. It stops when the assignments repeat, after which the parameters cannot change.

# %%
weights, means, previous = fit.weights, fit.means, None
for _ in range(100):
    clusters = gb.bernoulli_e_step(X, weights, means)[0].argmax(axis=1)
    if previous is not None and np.array_equal(clusters, previous):
        break
    previous = clusters
    weights, means = gb.bernoulli_m_step(X, np.eye(K)[clusters], smoothing=1e-2)
answer = float(gb.bernoulli_score_samples(X, (weights, means)).mean())
_ = gh.check_answer("10.4", answer)
print(f"per image: hard EM {answer:.4f}, soft EM {gb.bernoulli_score_samples(X, fit).mean():.4f}")

# %% [markdown]
# The log-likelihood per image is lower after hard EM. Hard EM does not climb $\ell$: a one-hot
# $q$ is not the posterior, so the E-step leaves a KL gap open in Eq. (10.1), and the M-step then
# maximises a bound that does not touch $\ell$. What hard EM climbs is the complete-data
# log-likelihood with the best labels filled in, a different objective whose maximum is not the
# maximum-likelihood fit. Started from the soft fit, where most responsibilities are already
# nearly one-hot, the loss is small; images shared between components are the ones that move.
#
# ### Exercise 10.5
#
# A Poisson count $x$ of rate $\lambda$ has
# $\log p(x \mid \lambda) = x \log \lambda - \lambda - \log x!$. With independent pixels within
# a component, the **E-step** is Eq. (10.6) with
#
# $$
# \log p(\mathbf{x}_n \mid \boldsymbol{\lambda}_k)
# = \sum_d \left[ x_{nd} \log \lambda_{kd} - \lambda_{kd} - \log x_{nd}! \right].
# $$
#
# The **M-step** maximises
# $\sum_n \gamma_{nk} \left[ x_{nd} \log \lambda_{kd} - \lambda_{kd} \right]$
# for each $k, d$: the derivative $\sum_n \gamma_{nk} (x_{nd} / \lambda_{kd} - 1)$ is zero at
# $\lambda_{kd} = \sum_n \gamma_{nk} x_{nd} / N_k$, the weighted mean count; the weights are
# $N_k / N$ as always. A pixel that is 0 in every image a component owns gets $\lambda_{kd} = 0$,
# and then a new image with a positive count there is impossible. The smoothing is a prior again:
# a $\mathrm{Gamma}(1 + a, b)$ prior on each rate gives
# $\lambda_{kd} = (\sum_n \gamma_{nk} x_{nd} + a) / (N_k + b)$. A few lines run it on the grey
# levels:


# %%
def poisson_log_joint(counts, weights, rates):
    log_density = (
        counts @ np.log(rates).T - rates.sum(axis=1) - gammaln(counts + 1).sum(axis=1)[:, None]
    )
    return np.log(weights) + log_density  # N, K


counts = digits.data
weights, rates = (
    np.full(K, 1 / K),
    counts[np.random.default_rng(0).choice(N, K, replace=False)] + 1.0,
)
log_likelihoods = []
for _ in range(50):
    log_joint = poisson_log_joint(counts, weights, rates)
    log_px = logsumexp(log_joint, axis=1, keepdims=True)
    resp = np.exp(log_joint - log_px)  # E-step
    log_likelihoods.append(log_px.sum())
    nk = resp.sum(axis=0)
    weights, rates = nk / N, (resp.T @ counts + 1e-2) / (nk[:, None] + 1e-2)  # M-step, a = b = 1e-2
print(f"log-likelihood per image: {log_likelihoods[0] / N:.1f} -> {log_likelihoods[-1] / N:.1f}")

# %%
ax = gb.plot_images(rates, vmax=16)
ax.set_title("Poisson mixture: the mean grey level of each component")
plt.show()

# %% [markdown]
# ### Exercise 10.6
#
# k-means minimises exactly the squared colour error for a palette of 8, so no other rule for
# choosing 8 colours and assigning pixels to the nearest can beat its optimum; the mixture
# maximises the likelihood, which rewards describing where colours are dense and how they spread,
# and its broad components replace widely different colours by one mean. Prefer k-means for
# compression, where the squared error is the cost. Prefer the mixture when the *distribution*
# matters: a small but distinct group of colours (the temple red) gets a component of its own, the
# responsibilities give a soft segmentation of the image, and the density flags unusual colours,
# which k-means cannot do because it has no density.
