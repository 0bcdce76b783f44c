"""mlderive: the package behind the book. Every chapter imports from here."""

from .functions import (
    cross_entropy,
    cross_entropy_grad,
    log_softmax,
    one_hot,
    relu,
    sigmoid,
    softmax,
    softmax_backward,
    softmax_jacobian,
)
from .gradcheck import gradcheck, numerical_derivative, relative_error

__all__ = [
    "cross_entropy",
    "cross_entropy_grad",
    "gradcheck",
    "log_softmax",
    "numerical_derivative",
    "one_hot",
    "relative_error",
    "relu",
    "sigmoid",
    "softmax",
    "softmax_backward",
    "softmax_jacobian",
]
