"""mlderive: the package behind the book. Every chapter imports from here.

Module map. Building blocks (they import only blocks listed above them, never a chapter
module; nothing imports another module's private names):

* :mod:`~mlderive.validation` -- the argument checks every public function uses;
* :mod:`~mlderive.functions` -- softmax, log-softmax, cross-entropy, sigmoid, ReLU, the
  logistic loss from logits (on validation);
* :mod:`~mlderive.gradcheck` -- finite-difference checks of functions, layers and models
  (on validation);
* :mod:`~mlderive.optim` -- SGD, momentum, Adam (on validation);
* :mod:`~mlderive.layers` -- dense layers and fused losses; a layer's ``forward`` returns
  ``(out, cache)`` (on functions, validation);
* :mod:`~mlderive.conv` -- convolution, max-pool, batch norm, dropout, flatten: layers only
  (on layers, validation);
* :mod:`~mlderive.models` -- :class:`~mlderive.models.Network`, the one container for any
  stack of layers, and the MLP, softmax and logistic regression built on it; a model's
  ``forward`` returns logits (on layers, functions, validation);
* :mod:`~mlderive.allocator` -- keep freed memory for reuse during training;
* :mod:`~mlderive.uncertainty` -- standard errors of accuracies, paired comparisons of two
  models on the same test examples (McNemar, paired bootstrap) and the seeds rule for a
  ranking (on validation);
* :mod:`~mlderive.protocol` -- the test set behind a counter of its uses (on validation);
* :mod:`~mlderive.training` -- the mini-batch trainer, early stopping, the
  :class:`~mlderive.training.TrainableModel` protocol (on allocator, validation);
* :mod:`~mlderive.parallel` -- independent training runs side by side, one process each
  (on training, validation);
* :mod:`~mlderive.data`, :mod:`~mlderive.cifar` -- verified dataset loaders (MNIST,
  Fashion-MNIST, CIFAR-10; cifar on data).

Chapter modules (each serves the chapters named, standing on the blocks named):

* softmax, cross-entropy -- :mod:`~mlderive.functions` (this package's top level);
* likelihood, softmax-regression, cross-entropy -- :mod:`~mlderive.softmax_regression` and
  :mod:`~mlderive.logistic` (on functions, validation);
* newton -- :mod:`~mlderive.newton` (on logistic, validation);
* multiclass-hinge -- :mod:`~mlderive.multiclass_hinge` (on validation);
* svm-dual -- :mod:`~mlderive.svm` (on validation);
* relu-max -- :mod:`~mlderive.relu_networks` (on validation);
* logistic-mnist, softmax-mnist, two-layer-network, memorisation -- :mod:`~mlderive.models`,
  :mod:`~mlderive.training`, :mod:`~mlderive.optim`, :mod:`~mlderive.data`;
* cnn -- :mod:`~mlderive.cnn` (``small_cnn``, ``confusion_matrix``; on models, conv, layers,
  validation) with training, parallel, optim, gradcheck and data;
* fashion-search -- :mod:`~mlderive.search` (on functions, validation) and data;
* every chapter -- :mod:`~mlderive.interactive` (one figure with a control: ``explore``) and
  :mod:`~mlderive.exercises` (the self-checks of the exercises; on the chapter modules above).
"""

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
