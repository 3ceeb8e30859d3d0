"""Saving and loading fitted models with skops: the names the rest of medsweep uses.

A model file from elsewhere is untrusted input, checked in three steps before it predicts anything, each in
its own module:

1. The archive and its schema, before skops reads an array (:func:`check_archive`,
   medsweep.learn.model_archive): only the types medsweep's pipelines are made of, rebuilt the way skops
   saves them; arrays whose bytes match their headers; no zip bomb; text a library parses itself checked by
   its estimator.
2. The fitted trees, before they predict (:func:`check_fitted`, medsweep.learn.model_file): child indices in
   range, no cycles, split features below the input width. :func:`load_model` runs steps 1 and 2.
3. What no check can rule out (a library's own C++ parser; memory a valid-looking model needs) is contained
   by :class:`ModelProcess` (medsweep.learn.model_process): the model is loaded and used in a child process
   under an address-space and a time limit, so a bad file ends in one line (:class:`UntrustedModelError`),
   never in a crash or a hang of the caller.
"""

from __future__ import annotations

from medsweep.learn.model_archive import (LOADERS, MAX_EXPANSION, VALUE_TYPES, UntrustedModelError, check_archive,
                                          trusted_types)
from medsweep.learn.model_file import check_fitted, load_model, save_model
from medsweep.learn.model_process import MEMORY_MB, TIMEOUT_S, ModelProcess, model_info

__all__ = ["LOADERS", "MAX_EXPANSION", "MEMORY_MB", "TIMEOUT_S", "VALUE_TYPES", "ModelProcess", "UntrustedModelError",
           "check_archive", "check_fitted", "load_model", "model_info", "save_model", "trusted_types"]
