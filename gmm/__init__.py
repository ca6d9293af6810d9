"""The course's code beside ``gmm_helpers.py``, in layers: a module imports only those below it.

Below ``gmm_helpers`` (it imports them):
    checks       the input checks of every public function
    em           ``em``, chapter 10's recipe: the one EM loop every model runs on
    engine       the fast E-step over sufficient statistics (chapter 9), blocks and threads

Above ``gmm_helpers`` (they import it):
    plots        the figures (``gp.plot_fit``, ...)
    bernoulli    chapter 10's mixture of Bernoullis
    explorer     chapter 5's widgets and the app
    bayes        chapter 11's MAP and variational mixtures
    exercises    the exercises' expected answers and ``check_answer``
    app_kernels  the app's kernel manager (``make app``): imports no course module

``tests/test_layers.py`` checks that the imports form no cycle.
"""
