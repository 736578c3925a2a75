"""Character and word n-gram TF-IDF by hashing: a second view of the text next to the embedding.

Char n-grams catch what a frozen sentence embedding blurs (product words, "pin" vs "card", typos).
Hashing instead of a vocabulary keeps the artifact a fixed size and needs no stored word list: only
the IDF vector is learned.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

DEFAULT_FEATURES = 2**16


class HashedTfidf:
    def __init__(
        self, n_features: int = DEFAULT_FEATURES, idf: npt.NDArray[np.float32] | None = None
    ) -> None:
        self.n_features = n_features
        # Half the buckets each for char_wb 2-5-grams and word 1-2-grams; signed hashing off so
        # collisions add rather than cancel (TF-IDF weights are non-negative).
        half = n_features // 2
        self._char = HashingVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), n_features=half, alternate_sign=False, norm=None
        )
        self._word = HashingVectorizer(
            analyzer="word", ngram_range=(1, 2), n_features=half, alternate_sign=False, norm=None
        )
        self.idf = idf

    def fit(self, texts: Sequence[str]) -> HashedTfidf:
        counts = self._counts(texts)
        df = np.bincount(counts.indices, minlength=self.n_features)
        # Smoothed IDF as sklearn's TfidfTransformer computes it.
        self.idf = (np.log((1 + len(texts)) / (1 + df)) + 1.0).astype(np.float32)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        if self.idf is None:
            raise RuntimeError("HashedTfidf.transform called before fit")
        x = self._counts(texts)
        # Sublinear tf times idf, in place on the non-zeros (a broadcast multiply would densify).
        x.data = (1.0 + np.log(x.data)) * self.idf[x.indices]
        lengths = np.diff(x.indptr)
        rows = np.repeat(np.arange(x.shape[0]), lengths)
        norms = np.sqrt(np.bincount(rows, weights=x.data**2, minlength=x.shape[0]))
        x.data /= norms[rows]
        return x

    def _counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        lowered = [t.lower() for t in texts]
        m = sp.hstack([self._char.transform(lowered), self._word.transform(lowered)]).tocsr()
        m.sum_duplicates()
        return m
