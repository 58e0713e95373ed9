"""The small networks that the documentation and ``deltaprop explain`` work through.

:func:`worked_example` is Matt Mazur's classic single-sample example (squared error);
:func:`tutorial_example` is the network of ``docs/tutorial.md``: the textbook's network
(linear input, sigmoid hidden and output layers, sample-weighted cross-entropy) on three
rows with different sample weights.
"""

from __future__ import annotations

import numpy as np

from deltaprop.core.layers import Dense
from deltaprop.core.network import Network

__all__ = ["DEFAULT_LEARNING_RATE", "EXAMPLES", "tutorial_example", "worked_example"]

#: The step size of every explained update unless one is given: in :func:`deltaprop.explain`,
#: ``deltaprop explain`` and ``deltaprop serve``. 0.5 is the worked example's own.
DEFAULT_LEARNING_RATE = 0.5


def worked_example() -> tuple[Network, np.ndarray, np.ndarray, float]:
    """The classic worked example: 2 inputs, 2 sigmoid hidden units, 1 sigmoid output.

    The numbers are those of Matt Mazur's "A Step by Step Backpropagation Example"
    (2015), reduced to its first output unit: one sample ``x = (0.05, 0.10)`` with
    target ``0.01``; hidden weights ``w1..w4 = 0.15, 0.20, 0.25, 0.30`` (``w1``, ``w2``
    feed hidden unit 1, ``w3``, ``w4`` hidden unit 2) and bias ``0.35``; output weights
    ``w5, w6 = 0.40, 0.45`` and bias ``0.60``; squared error ``1/2 (a - y)^2``; learning
    rate ``0.5``. The forward pass, the error and the output layer's gradients equal
    the post's numbers for ``o1`` (for instance ``dL/dw5 = 0.082167041``); the hidden
    layer's differ, because the post's second output sends back a second error.
    Squared error with a sigmoid output is not a canonical pair, so the output delta
    takes the general chain rule, as in the post.

    Returns
    -------
    network : Network
        ``Dense(2, 2, "sigmoid")`` then ``Dense(2, 1, "sigmoid")``, loss ``squared_error``.
    X : ndarray of shape (1, 2)
    y : ndarray of shape (1, 1)
    learning_rate : float

    Examples
    --------
    >>> net, X, y, learning_rate = worked_example()
    >>> net.layers[0].weights
    array([[0.15, 0.25],
           [0.2 , 0.3 ]])
    """
    hidden, output = Dense(2, 2, "sigmoid"), Dense(2, 1, "sigmoid")
    # Rows are inputs, columns units: W[i, j] connects input i to unit j.
    hidden.weights = np.array([[0.15, 0.25], [0.20, 0.30]])
    hidden.bias = np.array([0.35, 0.35])
    output.weights = np.array([[0.40], [0.45]])
    output.bias = np.array([0.60])
    network = Network([hidden, output], loss="squared_error")
    return network, np.array([[0.05, 0.10]]), np.array([[0.01]]), DEFAULT_LEARNING_RATE


def tutorial_example() -> tuple[Network, np.ndarray, np.ndarray, np.ndarray, float]:
    """The tutorial's network: 2 inputs, 2 sigmoid hidden units, 1 sigmoid output, 3 rows.

    The textbook's network: a linear input layer, a sigmoid hidden layer and a sigmoid
    output, trained on the sample-weighted binary cross-entropy
    ``L = sum_i w_i l_i / sum_i w_i``. Three rows ``x = (0, 1), (1, 1), (1, 0)`` with
    targets ``1, 0, 1`` and sample weights ``2, 1, 1`` (the first row counts twice);
    hidden weights ``W[1] = [[0.5, -0.5], [0.25, 0.75]]`` (row ``i``: input ``i``,
    column ``j``: hidden unit ``j``), biases ``b[1] = (0.1, -0.1)``; output weights
    ``W[2] = [[1.0], [-1.0]]``, bias ``b[2] = 0.2``; no penalty (``alpha = 0``);
    learning rate 0.5.

    Returns
    -------
    network : Network
    X : ndarray of shape (3, 2)
    y : ndarray of shape (3, 1)
    sample_weight : ndarray of shape (3,)
    learning_rate : float

    Examples
    --------
    >>> net, X, y, sample_weight, learning_rate = tutorial_example()
    >>> sample_weight / sample_weight.sum()
    array([0.5 , 0.25, 0.25])
    """
    hidden, output = Dense(2, 2, "sigmoid"), Dense(2, 1, "sigmoid")
    hidden.weights = np.array([[0.5, -0.5], [0.25, 0.75]])
    hidden.bias = np.array([0.1, -0.1])
    output.weights = np.array([[1.0], [-1.0]])
    output.bias = np.array([0.2])
    network = Network([hidden, output], loss="binary_cross_entropy", alpha=0.0)
    X = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    y = np.array([[1.0], [0.0], [1.0]])
    sample_weight = np.array([2.0, 1.0, 1.0])
    return network, X, y, sample_weight, DEFAULT_LEARNING_RATE


#: The examples ``deltaprop explain --example NAME`` explains.
EXAMPLES = ("mazur", "tutorial")
