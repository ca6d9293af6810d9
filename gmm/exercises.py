"""The expected answers of the chapters' exercises, kept out of the notebooks.

``check_answer("6.1", answer)`` looks the exercise up here by its name
(chapter.exercise), computes the expected value from scratch (fixed seeds, so it
is the same on every machine) and compares. The notebooks never show the
answer; an instructor's worked solutions are in ``notebooks/solutions.ipynb``.

Each exercise is a function registered with ``@exercise(name, rtol=..., atol=...)``
that returns the expected value; ``functools.cache`` keeps shared fits cheap.
"""

from functools import cache
from pathlib import Path

import numpy as np

import gmm_helpers as gh
from gmm import bayes
from gmm import bernoulli as bm
from gmm import explorer as gx

_EXERCISES = {}


def exercise(name, rtol=1e-6, atol=1e-8):
    """Register the function that computes exercise ``name``'s expected answer."""

    def register(fn):
        if name in _EXERCISES:
            raise ValueError(f"exercise {name!r} is registered twice")
        _EXERCISES[name] = (fn, rtol, atol)
        return fn

    return register


def names():
    """The registered exercise names, in chapter order."""
    return sorted(_EXERCISES, key=lambda n: tuple(int(p) for p in n.split(".")))


def expected(name):
    """(expected value, rtol, atol) of exercise ``name``; ValueError for an unknown name."""
    if name not in _EXERCISES:
        raise ValueError(
            f"expected an exercise name such as '6.1' (chapter.exercise), got {name!r}; "
            f"known: {', '.join(names()) or 'none yet'}"
        )
    fn, rtol, atol = _EXERCISES[name]
    return fn(), rtol, atol


@cache
def seed_data(separation=5.0, n_samples=2000, rng=0):
    """The chapters' seed data (X, labels), computed once per setting."""
    return gh.sample_seed_data(separation=separation, n_samples=n_samples, rng=rng)


# ---------------------------------------------------------------------------
# Chapter 0
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Chapter 1
# ---------------------------------------------------------------------------


@exercise("1.1")
def _points_within_one_sd():
    """Share of cluster 1's points within one standard deviation (1) of its mean (s, s)."""
    X, labels = seed_data()
    mean = gh.seed_parameters()[1][1]
    return np.mean(np.linalg.norm(X[labels == 1] - mean, axis=1) < 1.0)


@exercise("1.2", atol=0.05)
def _mixture_mean_1d():
    """The mean sum_k pi_k mu_k of the 1-D mixture; a sample average is accepted within 0.05."""
    return 0.25 * -2.0 + 0.75 * 3.0


@exercise("1.3")
def _log_density_at_point():
    """log p(x) at x = (1, 4) under the true mixture, Eqs. (1.1)-(1.2)."""
    return gh.score_samples(np.array([[1.0, 4.0]]), gh.seed_parameters())[0]


# ---------------------------------------------------------------------------
# Chapter 2
# ---------------------------------------------------------------------------


@cache
def _kmeans_clusters(separation=5.0):
    """Chapter 2's k-means (scikit-learn's, from gh.kmeans_plusplus(rng=0)), centres aligned."""
    from sklearn.cluster import KMeans

    X, _ = seed_data(separation)
    start = gh.kmeans_plusplus(X, 3, rng=0)
    km = KMeans(n_clusters=3, init=start, n_init=1, tol=0).fit(X)
    centres = km.cluster_centers_[
        gh.align_components(gh.seed_parameters(separation)[1], km.cluster_centers_)
    ]
    assign = ((X[:, None, :] - centres) ** 2).sum(axis=2).argmin(axis=1)
    return centres, assign


@exercise("2.1")
def _responsibilities_of_point():
    """Responsibilities of x = (0, 3) under the true parameters, Eq. (2.1)."""
    return gh.e_step(np.array([[0.0, 3.0]]), *gh.seed_parameters())[0][0]


@exercise("2.2")
def _points_that_change_with_equal_weights():
    """How many points change their most responsible component when the weights are equal."""
    X, _ = seed_data()
    weights, means, covariances = gh.seed_parameters()
    true = gh.e_step(X, weights, means, covariances)[0].argmax(axis=1)
    equal = gh.e_step(X, np.full(3, 1 / 3), means, covariances)[0].argmax(axis=1)
    return int(np.sum(true != equal))


@exercise("2.3")
def _kmeans_accuracy_far_apart():
    """Accuracy of k-means at separation 8."""
    _, labels = seed_data(8.0)
    return np.mean(_kmeans_clusters(8.0)[1] == labels)


@exercise("2.4")
def _hard_em_accuracy():
    """Accuracy of hard EM from the k-means clusters, run until the assignments stop changing."""
    X, labels = seed_data()
    assign = _kmeans_clusters()[1]
    params = gh.m_step(X, np.eye(3)[assign])
    for _ in range(1000):
        new = gh.e_step(X, *params)[0].argmax(axis=1)
        params = gh.m_step(X, np.eye(3)[new])
        if np.array_equal(new, assign):
            break
        assign = new
    return np.mean(assign == labels)


# ---------------------------------------------------------------------------
# Chapter 3
# ---------------------------------------------------------------------------


@cache
def _chapter3_start():
    """Chapter 3's k-means++ start theta0 and its responsibilities."""
    X, _ = seed_data()
    theta0 = gh.initial_parameters(X, 3, rng=0)
    return theta0, gh.e_step(X, *theta0)[0]


@exercise("3.1")
def _m_step_weights():
    """The M-step weights N_k / N, Eq. (3.6), from the start's responsibilities."""
    resp = _chapter3_start()[1]
    return resp.sum(axis=0) / resp.shape[0]


@exercise("3.2")
def _elbo_of_hard_assignments():
    """ELBO(q, theta0), Eq. (3.7), for the one-hot q of the most responsible components."""
    X, _ = seed_data()
    (weights, means, covariances), resp = _chapter3_start()
    log_joint = np.log(weights) + gh.log_gaussian_density(X, means, covariances)
    q = np.eye(3)[resp.argmax(axis=1)]
    return np.sum(q * log_joint)  # the entropy of a one-hot q is 0


@exercise("3.3")
def _tied_covariance():
    """The shared covariance maximising Q: sum_k sum_n gamma_nk (x_n - mu_k)(x_n - mu_k)^T / N."""
    X, _ = seed_data()
    resp = _chapter3_start()[1]
    nk = resp.sum(axis=0)
    means = resp.T @ X / nk[:, None]
    return sum((resp[:, k, None] * (X - means[k])).T @ (X - means[k]) for k in range(3)) / len(X)


@exercise("3.4")
def _smallest_change_with_smoothing():
    """Smallest change between consecutive log-likelihoods of EM with smoothing=1.0."""
    X, _ = seed_data()
    fit = gh.fit_gmm(X, 3, init="random", rng=0, smoothing=1.0, tol=0, max_iter=50)
    return np.diff(fit.log_likelihoods).min()


# ---------------------------------------------------------------------------
# Chapter 4
# ---------------------------------------------------------------------------


@exercise("4.1")
def _log_sum_exp_large():
    """log(e^1000 + e^999 + e^990), Eq. (4.1)."""
    from scipy.special import logsumexp

    return logsumexp([1000.0, 999.0, 990.0])


@exercise("4.2")
def _iterations_with_stopping_rule():
    """Iterations of EM from chapter 0's start until the per-point change is below 1e-5."""
    X, _ = seed_data()
    start = gh.initial_parameters(X, 3, init="random", rng=0)
    return gh.fit_gmm(X, 3, init=start, tol=1e-5).n_iter


# ---------------------------------------------------------------------------
# Chapter 5
# ---------------------------------------------------------------------------


@exercise("5.1", rtol=0, atol=1e-9)
def smallest_recovering_separation():

    return gx.smallest_recovering_separation()


@exercise("5.2", rtol=1e-2, atol=0)
def collapse_gain_between_rows():

    return gx.collapse_gain(3e-7)


# ---------------------------------------------------------------------------
# Chapter 6
# ---------------------------------------------------------------------------


@exercise("6.1")
def sigmas_for_95_percent():
    # Eq. (6.1) inverted: 1 - exp(-k^2 / 2) = 0.95.
    return np.sqrt(-2 * np.log(0.05))


@exercise("6.2", rtol=0, atol=1e-9)
def restarts_for_one_in_a_million():
    X, _ = seed_data()
    final = {
        init: np.array(
            [
                gh.fit_gmm(
                    X, 3, init=init, tol=1e-8, max_iter=10_000, smoothing=1e-6, rng=s
                ).log_likelihood
                / len(X)
                for s in range(60)
            ]
        )
        for init in ("random", "kmeans++")
    }
    best = max(ll.max() for ll in final.values())
    p = np.mean(final["kmeans++"] > best - 0.01)
    return int(np.ceil(np.log(1e-6) / np.log(1 - p)))


@exercise("6.3")
def map_covariance_of_one_point():
    X, _ = seed_data()
    X_small = X[::100]
    D = X.shape[1]
    nu = D + 2
    psi = np.cov(X_small.T) / 6 ** (2 / D)
    return psi / (1 + nu + D + 1)  # N_k = 1, S_k = 0


# ---------------------------------------------------------------------------
# Chapter 7
# ---------------------------------------------------------------------------


@exercise("7.1", rtol=0, atol=1e-9)
def tied_parameters():
    K, D = 4, 3
    return (K - 1) + K * D + D * (D + 1) // 2  # Eq. (7.1), tied


@exercise("7.2")
def bic_threshold_400_points():
    dp = gh.n_parameters(4, 2) - gh.n_parameters(3, 2)
    return dp * np.log(400) / 2


@exercise("7.3")
def held_out_scores_by_covariance_type():
    X, _ = seed_data()
    perm = np.random.default_rng(1).permutation(len(X))
    X_train, X_test = X[perm[:400]], X[perm[400:]]
    return np.array(
        [
            gh.score(X_test, gh.fit_restarts(X_train, 3, n_init=5, rng=0, covariance_type=t)[0])
            for t in gh.COVARIANCE_TYPES
        ]
    )


# ---------------------------------------------------------------------------
# Chapter 8
# ---------------------------------------------------------------------------


@cache
def _faithful():
    """Old Faithful in minutes and standardised, and chapter 8's K = 2 fit in minutes."""
    X = np.loadtxt(
        Path(__file__).resolve().parent.parent / "data" / "faithful.csv", delimiter=",", skiprows=1
    )
    centre, scale = X.mean(axis=0), X.std(axis=0)
    Z = (X - centre) / scale
    fit = gh.fit_restarts(Z, 2, n_init=5, rng=0)[0]
    order = np.argsort(fit.means[:, 0])  # component 0: short eruptions
    start = fit.weights[order], fit.means[order], fit.covariances[order]
    ml = gh.fit_gmm(Z, 2, init=start, smoothing=1e-6, tol=1e-8, max_iter=1000)
    params = ml.weights, centre + ml.means * scale, ml.covariances * np.outer(scale, scale)
    return X, Z, params


@exercise("8.1", rtol=0, atol=1e-9)
def flagged_at_5th_percentile():
    X, _, params = _faithful()
    log_p = gh.score_samples(X, params)
    return int(np.sum(log_p < np.percentile(log_p, 5)))


@exercise("8.2")
def probability_long():
    _, _, params = _faithful()
    return gh.e_step(np.array([[3.5, 65.0]]), *params)[0][0, 1]


@exercise("8.3")
def diag_bic():
    _, Z, _ = _faithful()
    return gh.bic(Z, gh.fit_restarts(Z, 2, n_init=5, rng=0, covariance_type="diag")[0])


# ---------------------------------------------------------------------------
# Chapter 9
# ---------------------------------------------------------------------------


@cache
def _scaling_data():
    """Chapter 9's 20,000 seed points and its k-means++ start."""
    X, _ = seed_data(n_samples=20_000)
    return X, gh.initial_parameters(X, 3, rng=0)


@exercise("9.1")
def means_from_statistics():
    X, params = _scaling_data()
    resp, _ = gh.e_step(X, *params)
    return resp.T @ X / resp.sum(axis=0)[:, None]  # Eq. (9.2), computed without the shift


@exercise("9.2", rtol=0, atol=1e-9)
def spark_statistics_bytes():
    K, D = 10, 100
    return 8 * (K + K * D + K * D * (D + 1) // 2 + 1)


@exercise("9.3")
def memory_mapped_means():
    X, _ = _scaling_data()
    return gh.fit_gmm_chunked(X, 3, chunk_size=4096, rng=0).means


# ---------------------------------------------------------------------------
# Chapter 10
# ---------------------------------------------------------------------------


@cache
def _digits_ch10():
    """Chapter 10's binarised digits (N, 64) and its K = 10 fit: best of five starts, polished."""
    from sklearn.datasets import load_digits

    X = (load_digits().data >= 8).astype(float)
    starts = [bm.fit_bernoulli_mixture(X, 10, rng=seed) for seed in range(5)]
    best = max(starts, key=lambda f: f.log_likelihoods[-1])
    fit = bm.fit_bernoulli_mixture(X, 10, init=(best.weights, best.means), tol=1e-10, max_iter=2000)
    return X, fit


@cache
def _china_ch10():
    """Chapter 10's photo as pixels (H W, 3) in 0..255 and its random sample of 4000."""
    import numpy as np
    from sklearn.datasets import load_sample_image

    pixels = load_sample_image("china.jpg")[::2, ::2].reshape(-1, 3).astype(float)
    sample = pixels[np.random.default_rng(0).choice(len(pixels), 4000, replace=False)]
    return pixels, sample


@exercise("10.1", rtol=1e-6, atol=1e-9)
def _fill_in_the_bottom_half():
    from gmm import bernoulli as bm

    # p(x_d = 1 | top half) = sum_k p(z = k | top half) mu_kd for the 32 bottom pixels
    X, fit = _digits_ch10()
    resp, _ = bm.bernoulli_e_step(X[-1:, :32], fit.weights, fit.means[:, :32])
    return resp[0] @ fit.means[:, 32:]


@exercise("10.2", rtol=1e-6, atol=1e-9)
def _pixel_marginals():
    # p(x_d = 1) = sum_k pi_k mu_kd
    _, fit = _digits_ch10()
    return fit.weights @ fit.means


@exercise("10.3", rtol=1e-3, atol=0)
def _palette_of_16():
    import numpy as np

    pixels, sample = _china_ch10()
    fit = gh.fit_gmm(sample, 16, rng=0, smoothing=1.0)
    resp, _ = gh.e_step(pixels, fit.weights, fit.means, fit.covariances)
    return float(np.sum((pixels - fit.means[resp.argmax(axis=1)]) ** 2, axis=1).mean())


@exercise("10.4", rtol=1e-6, atol=1e-9)
def _hard_em_on_the_digits():
    import numpy as np

    from gmm import bernoulli as bm

    X, fit = _digits_ch10()
    weights, means, previous = fit.weights, fit.means, None
    for _ in range(100):
        clusters = bm.bernoulli_e_step(X, weights, means)[0].argmax(axis=1)
        if previous is not None and np.array_equal(clusters, previous):
            break
        previous = clusters
        weights, means = bm.bernoulli_m_step(X, np.eye(10)[clusters], smoothing=1e-2)
    return float(bm.bernoulli_score_samples(X, (weights, means)).mean())


# ---------------------------------------------------------------------------
# Chapter 11
# ---------------------------------------------------------------------------


@exercise("11.1")
def _prior_mode_covariance():
    from gmm import bayes

    X, _ = seed_data()
    p = bayes.make_priors(X, 3, "dirichlet_distribution")
    D = X.shape[1]
    return p.covariance_prior / (p.degrees_of_freedom_prior + D + 2)


@exercise("11.2", rtol=1e-8)
def _one_gaussian_log_evidence():
    # With K = 1 the ELBO is the exact evidence (tests/test_bayes.py checks the closed form).
    from gmm import bayes

    X = seed_data()[0][::100]
    fit = bayes.fit_bayesian_gmm(
        X, 1, weight_concentration_prior_type="dirichlet_distribution", smoothing=0.0
    )
    return float(fit.lower_bounds[-1])


@exercise("11.3")
def _expected_number_of_clusters():
    alpha0, N = 2.0, 400
    return float(np.sum(alpha0 / (alpha0 + np.arange(N))))


_RUN_TO_THE_END = dict(max_iter=5000, tol=1e-8)  # chapter 11's tol: looser ones stop on plateaus


@cache
def _best_dirichlet_process_start(K=10, n_starts=3):
    """The seed of the start with the highest final ELBO (chapter 11's best_seed)."""
    X, _ = seed_data()
    fits = [bayes.fit_bayesian_gmm(X, K, rng=s, **_RUN_TO_THE_END) for s in range(n_starts)]
    elbos = [fit.lower_bounds[-1] for fit in fits]
    return int(np.argmax(elbos))


@exercise("11.4", rtol=0, atol=0)
def _dirichlet_distribution_survivors():
    from gmm import bayes

    X, _ = seed_data()
    fit = bayes.fit_bayesian_gmm(
        X,
        10,
        weight_concentration_prior_type="dirichlet_distribution",
        rng=_best_dirichlet_process_start(),
        **_RUN_TO_THE_END,
    )
    return len(bayes.survivors(fit.weights))


@exercise("11.5", rtol=1e-8)
def _student_t_predictive_score():
    from scipy.special import logsumexp
    from scipy.stats import multivariate_t

    X, _ = seed_data()
    perm = np.random.default_rng(1).permutation(len(X))
    X_train, X_test = X[perm[:400]], X[perm[400:]]
    runs = [bayes.fit_bayesian_gmm(X_train, 10, rng=s, **_RUN_TO_THE_END) for s in range(3)]
    fit = max(runs, key=lambda f: f.lower_bounds[-1])
    D = X.shape[1]
    log_p = []
    for k in range(fit.n_components):
        beta, nu = fit.mean_precision[k], fit.degrees_of_freedom[k]
        w_inv = fit.covariances[k] * nu
        df = nu + 1 - D
        shape = (1 + beta) / (df * beta) * w_inv
        log_p.append(
            np.log(fit.weights[k]) + multivariate_t(fit.means[k], shape, df=df).logpdf(X_test)
        )
    return float(logsumexp(np.array(log_p), axis=0).mean())


def check_answer(name, answer, expected=None, rtol=None, atol=None):
    """Compare a learner's exercise answer with the expected one and print a verdict.

    ``name`` is the exercise's chapter.number ("6.1"); ``exercises.py`` computes its expected
    value, out of the notebook's sight. ``answer=None`` means "not attempted yet", so notebooks
    run top to bottom untouched. ``expected`` (with ``rtol``, ``atol``) overrides the lookup.
    A wrong answer gets one reason, never the expected value: not a number (text, a bool, a
    complex number, an object), the wrong shape (expected vs got), not finite, or how far off
    (the relative error to one digit, and for a single number whether it is too large or too
    small; a count only hears that it is not the expected one).
    Returns True only for a correct answer.
    """
    label = name if str(name).startswith("Exercise") else f"Exercise {name}"
    if answer is None:
        print(f"{label}: not attempted yet: replace None in the cell above, then run both cells")
        return False
    if expected is None:
        expected, default_rtol, default_atol = _EXERCISES_EXPECTED(name)
    else:
        default_rtol, default_atol = 1e-6, 1e-8
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    problem = _what_is_wrong(answer, expected, rtol, atol)
    print(f"{label}: " + ("correct!" if problem is None else f"not yet: {problem}"))
    return problem is None


_KINDS = {"b": "True/False values", "c": "complex numbers", "U": "text", "S": "bytes"}


def _what_is_wrong(answer, expected, rtol, atol):
    """None if ``answer`` matches ``expected`` within (rtol, atol), else the reason, in words
    that never reveal the expected value."""
    count = np.asarray(expected).dtype.kind in "iu"  # an integer answer: a count or an index
    expected = np.asarray(expected, dtype=float)
    want = "a single number" if expected.ndim == 0 else f"an array of shape {expected.shape}"
    try:
        got = np.asarray(answer)
    except ValueError:  # ragged nested lists
        return f"expected {want}, got a {type(answer).__name__} whose rows differ in length"
    if isinstance(answer, (bool, np.bool_)) or got.dtype.kind not in "iuf":
        kind = _KINDS.get(got.dtype.kind, f"a {type(answer).__name__}")
        return f"expected {want}, got {kind}"
    if got.shape != expected.shape:
        if got.ndim == 0:
            return f"expected {want}, got a single number"
        if expected.ndim == 0:
            extra = " (take the number out with float(...))" if got.size == 1 else ""
            return f"expected {want}, got an array of shape {got.shape}{extra}"
        return f"expected shape {expected.shape}, got {got.shape}"
    got = got.astype(float)
    bad = ~np.isfinite(got)
    if bad.any():
        what = " and ".join(
            w for w, m in [("nan", np.isnan(got)), ("inf", np.isinf(got))] if m.any()
        )
        cause = "a 0/0, a log(0) or an overflow?"
        if got.ndim == 0:
            return f"your answer is not finite ({what}): {cause}"
        return f"{bad.sum()} of its {got.size} entries are not finite ({what}): {cause}"
    close = np.isclose(got, expected, rtol=rtol, atol=atol)
    if close.all():
        return None
    if count:
        if not np.all(got == np.round(got)):
            return "expected a whole number (a count or an index), got a fraction"
        return "not the expected number"
    diff = np.abs(got - expected)
    scale = np.abs(expected)
    rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1), np.inf)
    if expected.ndim == 0:
        if expected == 0:
            return f"off by {float(diff):.0e} (absolute difference)"
        if got != 0 and np.sign(got) != np.sign(expected):
            return "the sign is wrong"
        side = "too large" if got > expected else "too small"
        return f"{side}, by a relative error of about {float(rel):.0e}"
    if np.allclose(np.sort(got, axis=None), np.sort(expected, axis=None), rtol=rtol, atol=atol):
        return "the right values, but not in the expected order"
    off = np.argwhere(~close)
    where = ", ".join(str(int(ix[0]) if len(ix) == 1 else tuple(map(int, ix))) for ix in off[:3])
    where = where + (", ..." if len(off) > 3 else "")
    worst = rel[~close].max()
    size = (
        f"the largest relative error is about {worst:.0e}"
        if np.isfinite(worst)
        else f"the largest difference is about {diff[~close].max():.0e}"
    )
    return f"{len(off)} of {got.size} entries are off (at index {where}); {size}"


_EXERCISES_EXPECTED = expected  # check_answer's argument `expected` hides the function


# ---------------------------------------------------------------------------
# Chapter 12
# ---------------------------------------------------------------------------


@exercise("12.1", rtol=0, atol=0)
def _iterations_to_gain():
    """The first n with 2e-3 * 0.95**n < 1e-6: changes shrink by r = 0.95 per iteration."""
    return int(np.ceil(np.log(1e-6 / 2e-3) / np.log(0.95)))


@exercise("12.2", rtol=1e-3, atol=0)
def _predicted_rate():
    """lambda^2, lambda the largest |eigenvalue| of the EM map's Jacobian at separation 2.5, in
    coordinates (weight logits against the last, means, log-Cholesky factors)."""
    X, _ = seed_data(2.5)
    fit = gh.fit_gmm(X, 3, init=gh.seed_parameters(2.5), smoothing=0, tol=1e-12,
                     max_iter=20_000, accelerate=True)  # fmt: skip
    K, D = fit.means.shape
    e_step, m_step = gh.sum_steps(X, smoothing=0.0, covariance_type="full")
    rows, cols = np.tril_indices(D)
    diag = rows == cols

    def to_u(weights, means, covariances):
        L = np.linalg.cholesky(covariances)[:, rows, cols]  # K, D(D+1)/2
        L[:, diag] = np.log(L[:, diag])
        return np.concatenate([np.log(weights[:-1] / weights[-1]), means.ravel(), L.ravel()])

    def from_u(u):
        a = np.append(u[: K - 1], 0.0)
        flat = u[K - 1 + K * D :].reshape(K, -1).copy()
        flat[:, diag] = np.exp(flat[:, diag])
        L = np.zeros((K, D, D))
        L[:, rows, cols] = flat
        return np.exp(a) / np.exp(a).sum(), u[K - 1 : K - 1 + K * D].reshape(K, D), L @ L.mT

    u0, h = to_u(fit.weights, fit.means, fit.covariances), 1e-5
    J = np.column_stack(
        [
            (
                to_u(*m_step(e_step(from_u(u0 + h * e))[0]))
                - to_u(*m_step(e_step(from_u(u0 - h * e))[0]))
            )
            / (2 * h)
            for e in np.eye(u0.size)
        ]
    )
    return float(np.abs(np.linalg.eigvals(J)).max() ** 2)


@exercise("12.3", rtol=1e-6, atol=0)
def _aitken_on_the_plateau():
    """Aitken's limit per point from the last three log-likelihoods of 40 iterations (chapter 5)."""
    X, _ = seed_data()
    ll = gh.fit_gmm(X, 3, rng=0, tol=0, max_iter=40).log_likelihoods
    c = (ll[-1] - ll[-2]) / (ll[-2] - ll[-3])
    return float((ll[-1] + (ll[-1] - ll[-2]) / (1 - c)) / len(X))


# ---------------------------------------------------------------------------
# Chapter 13
# ---------------------------------------------------------------------------


@exercise("13.1")
def _log_p_observed_x2():
    """log p(x_2 = 5) with x_1 missing under the seed's true parameters: Eq. (13.1) in 1-D."""
    from scipy.special import logsumexp
    from scipy.stats import norm

    weights, means, covariances = gh.seed_parameters(5.0)
    sd = np.sqrt(covariances[:, 1, 1])
    return float(logsumexp(np.log(weights) + norm(means[:, 1], sd).logpdf(5.0)))


@exercise("13.2")
def _conditional_mean_3d():
    """E[(x_2, x_3) | x_1 = 2], Eq. (13.2): mu_m + Sigma_mo Sigma_oo^-1 (x_o - mu_o)."""
    mean = np.array([1.0, 0.0, 2.0])
    cov = np.array([[2.0, 0.8, 0.4], [0.8, 1.0, 0.3], [0.4, 0.3, 1.5]])
    return mean[1:] + cov[1:, 0] / cov[0, 0] * (2.0 - mean[0])


@exercise("13.3", rtol=0, atol=0)
def _semi_supervised_wine():
    """How many more unlabelled wines semi-supervised EM classifies correctly than the three
    Gaussians fitted to the labelled wines alone, with every tenth wine labelled."""
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    labels = np.full(len(y), -1)
    labels[::10] = y[::10]
    unknown = labels < 0
    semi = gh.fit_gmm_missing(X, 3, labels=labels, rng=0).resp
    alone = gh.fit_gmm_missing(X[~unknown], 3, labels=y[~unknown])
    resp_alone = gh.e_step(X, alone.weights, alone.means, alone.covariances)[0]
    right = [np.sum(r[unknown].argmax(axis=1) == y[unknown]) for r in (semi, resp_alone)]
    return int(right[0] - right[1])


@exercise("13.4", rtol=1e-3)
def _not_missing_at_random():
    """Minutes by which EM's mean waiting time falls short when waits over 80 are hidden."""
    A = np.loadtxt(
        Path(__file__).resolve().parent.parent / "data" / "faithful.csv", delimiter=",", skiprows=1
    )
    true_mean = A[:, 1].mean()
    A[A[:, 1] > 80, 1] = np.nan
    fit = gh.fit_gmm_missing(A, 2, rng=0)
    return float(true_mean - fit.weights @ fit.means[:, 1])
